// Test helper: two heartbeat monitors ("alpha" and "beta") on 127.0.0.1 with free UDP ports,
// stopped after the test even when it fails.
import { createSocket } from 'node:dgram';
import type { TestContext } from 'node:test';
import { HeartbeatMonitor, type HeartbeatMonitorOptions } from '../../../../src/ha/heartbeat/monitor.js';
import type { LinkName, MonitorSnapshot } from '../../../../src/ha/heartbeat/types.js';

export const SECRET = Buffer.from('pair-secret-for-heartbeat-tests!');

/** Ports the kernel just handed out for UDP on 127.0.0.1 (free at the time of the call). */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = Array.from({ length: count }, () => createSocket('udp4'));
  const ports = await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<number>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(0, '127.0.0.1', () => resolve(socket.address().port));
        }),
    ),
  );
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return ports;
}

export interface PairPorts {
  readonly alpha: Record<LinkName, number>;
  readonly beta: Record<LinkName, number>;
}

export async function pairPorts(): Promise<PairPorts> {
  const [a1, a2, b1, b2] = await freeUdpPorts(4);
  return { alpha: { data: a1!, aux: a2! }, beta: { data: b1!, aux: b2! } };
}

type Extra = Partial<Omit<HeartbeatMonitorOptions, 'links' | 'nodeName' | 'peerName'>>;

export function monitorFor(
  t: TestContext,
  side: 'alpha' | 'beta',
  ports: PairPorts,
  extra: Extra = {},
): HeartbeatMonitor {
  const other = side === 'alpha' ? 'beta' : 'alpha';
  const monitor = new HeartbeatMonitor({
    nodeName: side,
    peerName: other,
    secret: SECRET,
    intervalMs: 100,
    deadTimeMs: 500,
    links: (['data', 'aux'] as const).map((name) => ({
      name,
      local: { host: '127.0.0.1', port: ports[side][name] },
      peer: { host: '127.0.0.1', port: ports[other][name] },
    })),
    ...extra,
  });
  t.after(() => monitor.stop());
  return monitor;
}

/** Resolves with the first snapshot (current or reported) that satisfies `predicate`. */
export function waitFor(
  monitor: HeartbeatMonitor,
  predicate: (snapshot: MonitorSnapshot) => boolean,
  timeoutMs: number,
  what: string,
): Promise<MonitorSnapshot> {
  const now = monitor.snapshot();
  if (predicate(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const onChange = (snapshot: MonitorSnapshot): void => {
      if (!predicate(snapshot)) return;
      clearTimeout(timer);
      monitor.off('change', onChange);
      resolve(snapshot);
    };
    const timer = setTimeout(() => {
      monitor.off('change', onChange);
      reject(
        new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(monitor.snapshot())}`,
        ),
      );
    }, timeoutMs);
    monitor.on('change', onChange);
  });
}

export function link(snapshot: MonitorSnapshot, name: LinkName): MonitorSnapshot['links'][number] {
  const found = snapshot.links.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no link ${name} in snapshot`);
  return found;
}
