// The virtual IP for a pair on one machine, without root: an address in 127.0.0.0/8 (Linux routes the
// whole block to lo, so any of it can be bound without `ip addr`). Holding the address means serving
// the iSCSI portal on it, which the failover executor does; this driver only keeps the record and
// detects another holder by its listener on address:port.
import { Socket } from 'node:net';
import { conflict, invalid } from '../../lib/errors.js';
import { isLoopbackAddress } from '../../network/ipv4.js';
import type { VirtualIp, VirtualIpDriver } from './types.js';

export interface LoopbackDriverOptions {
  /** How long a connect may take before the probe gives up (a listener answers in microseconds). */
  readonly probeTimeoutMs?: number;
}

function checkLoopbackVip(vip: VirtualIp): number {
  if (!isLoopbackAddress(vip.address) || vip.address === '127.0.0.1') {
    throw invalid(
      'vip-not-loopback',
      `the loopback driver needs an address in 127.0.0.0/8 other than 127.0.0.1, not ${vip.address}`,
    );
  }
  if (vip.port === undefined || !Number.isInteger(vip.port) || vip.port < 1 || vip.port > 65535) {
    throw invalid(
      'vip-port-required',
      'the loopback driver needs the iSCSI port of the virtual IP to probe it',
    );
  }
  return vip.port;
}

/** Resolves true when something accepts a TCP connection on address:port. */
export function listenerAt(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => done(true));
    // Refused: nobody listens. A timeout on loopback means a listener too busy to accept: a holder.
    socket.once('timeout', () => done(true));
    socket.once('error', () => done(false));
    socket.connect({ host: address, port });
  });
}

export class LoopbackVipDriver implements VirtualIpDriver {
  readonly kind = 'loopback' as const;
  private readonly holding = new Set<string>();
  private readonly probeTimeoutMs: number;

  constructor(options: LoopbackDriverOptions = {}) {
    this.probeTimeoutMs = options.probeTimeoutMs ?? 500;
  }

  async inUse(vip: VirtualIp): Promise<boolean> {
    const port = checkLoopbackVip(vip);
    return listenerAt(vip.address, port, this.probeTimeoutMs);
  }

  async acquire(vip: VirtualIp): Promise<void> {
    checkLoopbackVip(vip);
    if (this.holding.has(vip.address)) return;
    if (await this.inUse(vip)) {
      throw conflict(
        'vip-in-use',
        `something already serves ${vip.address}:${String(vip.port)}: not taking the virtual IP`,
        {
          address: vip.address,
          port: vip.port,
        },
      );
    }
    this.holding.add(vip.address);
  }

  release(vip: VirtualIp): Promise<void> {
    this.holding.delete(vip.address);
    return Promise.resolve();
  }

  held(vip: VirtualIp): Promise<boolean> {
    return Promise.resolve(this.holding.has(vip.address));
  }
}
