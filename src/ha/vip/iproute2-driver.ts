// The virtual IP as a real address on the data NIC: `ip addr add/del`, duplicate-address detection
// and gratuitous ARP with arping. Needs root (CAP_NET_ADMIN, CAP_NET_RAW).
import { conflict, isTandemError, TandemError } from '../../lib/errors.js';
import { Mutex } from '../../lib/mutex.js';
import { runProgram } from '../../lib/run-program.js';
import { showNic, type ProgramRunner } from '../../network/interfaces.js';
import type { Nic } from '../../network/ip-addr-parser.js';
import {
  addArgv,
  announceArgv,
  DEFAULT_ARPING_TIMING,
  delArgv,
  interpretAdd,
  interpretAnnounce,
  interpretDel,
  interpretProbe,
  probeArgv,
  type ArpingTiming,
} from './iproute2-commands.js';
import type { VirtualIp, VirtualIpDriver } from './types.js';

export interface Iproute2DriverOptions {
  readonly timing?: ArpingTiming;
  /** Runs `ip` and `arping` (default: runProgram, in this process's network namespace). */
  readonly run?: ProgramRunner;
}

const PROGRAM_TIMEOUT_MS = 15_000;

export class Iproute2VipDriver implements VirtualIpDriver {
  readonly kind = 'iproute2' as const;
  private readonly timing: ArpingTiming;
  private readonly run: ProgramRunner;
  /** acquire and release of one node never interleave. */
  private readonly mutex = new Mutex();

  constructor(options: Iproute2DriverOptions = {}) {
    this.timing = options.timing ?? DEFAULT_ARPING_TIMING;
    this.run = options.run ?? runProgram;
  }

  async inUse(vip: VirtualIp): Promise<boolean> {
    // A probe through a NIC without carrier gets no answer and would read as "free": say so instead.
    const nic = await showNic(vip.nic, this.run).catch((error: unknown) => {
      if (isTandemError(error) && error.code === 'nic-not-found') {
        throw new TandemError(
          'unavailable',
          'vip-nic-missing',
          `cannot probe ${vip.address}: there is no NIC ${vip.nic}`,
        );
      }
      throw error;
    });
    if (!nic.adminUp || !nic.carrier) {
      throw new TandemError(
        'unavailable',
        'vip-nic-down',
        `NIC ${vip.nic} is ${nic.adminUp ? 'without carrier' : 'down'}: cannot tell whether another host holds ${vip.address}`,
      );
    }
    const result = await this.run('arping', probeArgv(vip, this.timing), { timeoutMs: PROGRAM_TIMEOUT_MS });
    return interpretProbe(vip, result);
  }

  acquire(vip: VirtualIp): Promise<void> {
    return this.mutex.run(async () => {
      if (await this.held(vip)) return;
      if (await this.inUse(vip)) {
        throw conflict(
          'vip-in-use',
          `another host answers for ${vip.address} on ${vip.nic}: not taking the virtual IP`,
          {
            address: vip.address,
            nic: vip.nic,
          },
        );
      }
      const added = interpretAdd(vip, await this.run('ip', addArgv(vip), { timeoutMs: PROGRAM_TIMEOUT_MS }));
      try {
        await this.announce(vip);
      } catch (error) {
        // All or nothing: an address whose neighbours were not told would serve some clients only.
        if (added === 'added') await this.remove(vip).catch(() => undefined);
        throw error;
      }
    });
  }

  release(vip: VirtualIp): Promise<void> {
    return this.mutex.run(() => this.remove(vip));
  }

  async held(vip: VirtualIp): Promise<boolean> {
    return (await this.heldPrefix(vip)) !== undefined;
  }

  /** Sends the gratuitous ARP again (e.g. after a link came back); the address must be held. */
  async announce(vip: VirtualIp): Promise<void> {
    const result = await this.run('arping', announceArgv(vip, this.timing), {
      timeoutMs: PROGRAM_TIMEOUT_MS,
    });
    interpretAnnounce(vip, result);
  }

  private async remove(vip: VirtualIp): Promise<void> {
    // Delete with the prefix the NIC really has: `ip addr del` with another prefix finds nothing.
    const prefix = await this.heldPrefix(vip);
    if (prefix === undefined) return;
    const argv = delArgv(vip.address, prefix, vip.nic);
    interpretDel(vip.address, vip.nic, await this.run('ip', argv, { timeoutMs: PROGRAM_TIMEOUT_MS }));
  }

  private async heldPrefix(vip: VirtualIp): Promise<number | undefined> {
    let nic: Nic;
    try {
      nic = await showNic(vip.nic, this.run);
    } catch (error) {
      if (isTandemError(error) && error.code === 'nic-not-found') return undefined;
      throw error;
    }
    return nic.addresses.find((a) => a.family === 'inet' && a.address === vip.address)?.prefixLength;
  }
}
