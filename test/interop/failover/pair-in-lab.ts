// A failover pair inside the namespace lab (test/helpers/netns-lab.ts): node a and node b each run
// `bin/tandem serve` in their own namespace, are paired, share one replicated volume exported by the
// same target (explicit serial + NAA), and put the virtual IP 198.18.0.100/24 on data0 with the
// iproute2 driver. Heartbeats run on the data and the auxiliary link, replication on the auxiliary
// link, and the ping node is the lab's ping namespace. Everything is configured through each
// daemon's REST API over its unix socket, as an administrator would (the test process lives in the
// host namespace and cannot reach the daemons' addresses).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startDaemon, type Daemon } from '../../helpers/daemon.js';
import { apiOverSocket, createLab, type Lab, type LabNode } from '../../helpers/netns-lab.js';
import { tempDir } from '../../helpers/temp-dir.js';

export const IQN = 'iqn.2026-11.local.tandem:lab';
const VOLUME = 'ha1';
export const TASK = 'ha1';
const PASSWORD = 'failover-lab-password';
const REPLICATION_PORT = 7788;
const HEARTBEAT_PORT = 7790;

export interface PairTimers {
  readonly intervalMs: number;
  readonly deadTimeMs: number;
}

export interface FailoverView {
  readonly state: string;
  readonly started: boolean;
  readonly term: number;
  readonly alarms: readonly string[];
  readonly warnings: readonly string[];
  readonly virtualIp: { readonly held: boolean } | null;
  readonly pingNodeReachable: boolean;
  readonly peer: {
    readonly heard: boolean;
    readonly role: string | null;
    readonly upToDate: boolean | null;
    readonly pingNodeReachable: boolean | null;
  };
  readonly tasks: readonly {
    readonly connection: string;
    readonly diskState: string;
    readonly peerDiskState: string;
    readonly held: boolean;
  }[];
  readonly lastDecision: { readonly action: string; readonly reason: string } | null;
  readonly lastTransition: {
    readonly kind: string;
    readonly at: string;
    readonly steps: readonly { readonly step: string; readonly ms: number; readonly error?: string }[];
  } | null;
}

export interface LabNodeHandle {
  readonly name: LabNode;
  readonly dataDir: string;
  daemon: Daemon;
}

export interface PairInLab {
  readonly lab: Lab;
  readonly timers: PairTimers;
  readonly nodes: Readonly<Record<LabNode, LabNodeHandle>>;
  /** The iSCSI URL of the LUN behind the virtual IP, as the client uses it. */
  readonly url: string;
  /** Calls a node's API; throws on an HTTP error unless `allow` lists the status. */
  call(node: LabNode, method: string, path: string, body?: unknown, allow?: number[]): Promise<unknown>;
  status(node: LabNode): Promise<FailoverView>;
  /** kill -9 of a node's daemon; resolves once it is gone. */
  kill(node: LabNode): Promise<void>;
  /** The pid of the virtual IP watchdog the node's daemon started last (from its log), if any. */
  watchdogPid(node: LabNode): number | undefined;
  /** Starts a node's daemon again on its data dir (it comes up passive). */
  restart(node: LabNode): Promise<void>;
  /** The lab nodes whose data0 carries the virtual IP right now, per `ip -j addr` in each namespace. */
  vipHolders(): Promise<LabNode[]>;
  /** Runs qemu-io in the client namespace against the virtual IP; true only when every command succeeded. */
  clientIo(commands: readonly string[], timeoutMs?: number): Promise<boolean>;
}

/** Keeps probing until `probe` gives a value (errors count as "not yet"); fails after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= until) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${what} did not happen in ${String(ms)} ms${last instanceof Error ? `: ${last.message}` : ''}`,
  );
}

/**
 * Seconds from `since` until a client I/O through the virtual IP first succeeds. While nobody holds
 * the address a connect hangs (the SYN goes to a MAC that no longer answers for it), so a fresh
 * attempt starts every `everyMs` (at most `parallel` at once) instead of waiting for one to time out:
 * the figure is then within `everyMs` of the truth.
 */
export async function secondsToFirstIo(
  pair: Pick<PairInLab, 'clientIo'>,
  commands: readonly string[],
  since: number,
  options: { everyMs?: number; parallel?: number; attemptMs?: number; withinMs?: number } = {},
): Promise<number> {
  const { everyMs = 400, parallel = 4, attemptMs = 4000, withinMs = 60_000 } = options;
  const until = Date.now() + withinMs;
  let inFlight = 0;
  let done: number | undefined;
  const attempts: Promise<void>[] = [];
  while (done === undefined && Date.now() < until) {
    if (inFlight < parallel) {
      inFlight += 1;
      attempts.push(
        pair
          .clientIo(commands, attemptMs)
          .then((ok) => {
            if (ok && done === undefined) done = (performance.now() - since) / 1000;
          })
          .finally(() => {
            inFlight -= 1;
          }),
      );
    }
    await sleep(everyMs);
  }
  await Promise.allSettled(attempts);
  if (done === undefined)
    throw new Error(`no successful I/O through the virtual IP in ${String(withinMs)} ms`);
  return done;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the lab, starts both nodes, configures the pair and starts failover with a active. */
export async function startPairInLab(
  t: TestContext,
  options: {
    timers?: PairTimers;
    volumeSize?: string;
    /** Witness URLs (an etcd the test runs, e.g. in the ping node's namespace); none: ping-node mode. */
    witness?: (lab: Lab) => readonly string[];
    /** Runs once the lab exists, before the nodes start (e.g. to start the witness there). */
    beforeNodes?: (lab: Lab) => Promise<void>;
  } = {},
): Promise<PairInLab> {
  const timers = options.timers ?? { intervalMs: 500, deadTimeMs: 2500 };
  const lab = await createLab(t);
  const root = tempDir(t, 'tandem-failover-lab-');
  const { data, aux } = lab.addr;
  await options.beforeNodes?.(lab);

  const serveArgs = (node: LabNode): string[] => [
    '--iscsi',
    `${data[node]}:3260`,
    '--replication',
    `${aux[node]}:${String(REPLICATION_PORT)}`,
    '--node-name',
    `lab-${node}`,
  ];
  const launch = (node: LabNode): Promise<Daemon> =>
    startDaemon(t, join(root, node), {
      netns: lab.ns[node],
      args: serveArgs(node),
      env: { TANDEM_ADMIN_PASSWORD: PASSWORD },
    });
  const nodes: Record<LabNode, LabNodeHandle> = {
    a: { name: 'a', dataDir: join(root, 'a'), daemon: await launch('a') },
    b: { name: 'b', dataDir: join(root, 'b'), daemon: await launch('b') },
  };

  const call = async (
    node: LabNode,
    method: string,
    path: string,
    body?: unknown,
    allow: number[] = [],
  ): Promise<unknown> => {
    const answer = await apiOverSocket(nodes[node].dataDir, method, path, body);
    if (answer.status >= 400 && !allow.includes(answer.status)) {
      throw new Error(`[${node}] ${method} ${path}: ${String(answer.status)} ${JSON.stringify(answer.body)}`);
    }
    return answer.body;
  };
  const status = async (node: LabNode): Promise<FailoverView> =>
    (await call(node, 'GET', '/api/v1/failover')) as FailoverView;
  const peerOf = (node: LabNode): LabNode => (node === 'a' ? 'b' : 'a');

  // Volume replication over the auxiliary link: a's volume is the source.
  const secret = randomBytes(24).toString('base64url');
  for (const node of ['a', 'b'] as const) {
    await call(node, 'PUT', '/api/v1/replication/pairing', { peerName: `lab-${peerOf(node)}`, secret });
    await call(node, 'POST', '/api/v1/volumes', {
      name: VOLUME,
      type: 'iscsi',
      size: options.volumeSize ?? '64MiB',
      replication: true,
    });
    await call(node, 'PUT', `/api/v1/volumes/${VOLUME}/replication`, {
      mode: node === 'a' ? 'source' : 'destination',
      mirrorServer: `${aux[peerOf(node)]}:${String(REPLICATION_PORT)}`,
    });
  }
  await call('a', 'POST', '/api/v1/replication/tasks', { name: TASK, volume: VOLUME, remoteVolume: VOLUME });
  await call('a', 'POST', `/api/v1/replication/tasks/${TASK}/start`, {});
  await waitFor(
    'initial sync',
    async () => {
      const task = (await call('a', 'GET', `/api/v1/replication/tasks/${TASK}`)) as {
        connection: string;
        peerDiskState: string;
      };
      return task.connection === 'connected' && task.peerDiskState === 'up-to-date' ? true : undefined;
    },
    120_000,
  );

  // Failover settings, NIC roles, the virtual IP (iproute2) and the same target on both nodes.
  for (const node of ['a', 'b'] as const) {
    const peer = peerOf(node);
    await call(node, 'PUT', '/api/v1/failover/config', {
      dataLocal: `${data[node]}:${String(HEARTBEAT_PORT)}`,
      dataPeer: `${data[peer]}:${String(HEARTBEAT_PORT)}`,
      auxLocal: `${aux[node]}:${String(HEARTBEAT_PORT)}`,
      auxPeer: `${aux[peer]}:${String(HEARTBEAT_PORT)}`,
      pingNodes: [data.ping],
      tasks: [TASK],
      portalPort: 3260,
      intervalMs: timers.intervalMs,
      deadTimeMs: timers.deadTimeMs,
      ...(options.witness === undefined ? {} : { witness: options.witness(lab) }),
      enabled: true,
    });
    await call(node, 'PUT', `/api/v1/network/nics/${lab.nic.data}`, { role: 'data' });
    await call(node, 'PUT', `/api/v1/network/nics/${lab.nic.aux}`, { role: 'aux' });
    await call(node, 'PUT', '/api/v1/network/virtual-ip', {
      address: data.vip,
      prefixLength: data.prefixLength,
      broadcast: data.broadcast,
      nic: lab.nic.data,
      driver: 'iproute2',
    });
    await call(node, 'POST', '/api/v1/targets', {
      iqn: IQN,
      luns: [{ lun: 1, volume: VOLUME, serial: 'TANDEMLAB0001', naa: '6001405a1b2c3d4e5f60718293a4b5c7' }],
    });
  }
  await waitFor(
    'preflight all ok',
    async () => {
      const { checks } = (await call('a', 'POST', '/api/v1/failover/preflight', {})) as {
        checks: { check: string; ok: boolean; detail: string }[];
      };
      if (checks.every((c) => c.ok)) return true;
      throw new Error(
        checks
          .filter((c) => !c.ok)
          .map((c) => `${c.check}: ${c.detail}`)
          .join('; '),
      );
    },
    30_000,
  );
  await call('a', 'POST', '/api/v1/failover/start', {});
  await waitFor('a active, b passive', async () => {
    const [sa, sb] = [await status('a'), await status('b')];
    return sa.state === 'active' && sb.started && sb.state === 'passive' ? true : undefined;
  });

  const url = `iscsi://${data.vip}/${IQN}/1`;
  return {
    lab,
    timers,
    nodes,
    url,
    call,
    status,
    async kill(node) {
      const child = nodes[node].daemon.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
    watchdogPid(node) {
      let pid: number | undefined;
      for (const line of nodes[node].daemon.output().split('\n')) {
        if (!line.startsWith('{') || !line.includes('virtual IP watchdog started')) continue;
        try {
          pid = (JSON.parse(line) as { watchdogPid?: number }).watchdogPid ?? pid;
        } catch {
          // A line cut by the other stream's output.
        }
      }
      return pid;
    },
    async restart(node) {
      nodes[node].daemon = await launch(node);
    },
    async vipHolders() {
      const holders: LabNode[] = [];
      for (const node of ['a', 'b'] as const) {
        const out = await lab.execOk(node, ['ip', '-j', 'addr', 'show', 'dev', lab.nic.data]);
        const links = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
        if (links.some((l) => l.addr_info?.some((a) => a.local === data.vip))) holders.push(node);
      }
      return holders;
    },
    async clientIo(commands, timeoutMs = 30_000) {
      const result = await lab.exec('client', ['qemu-io', ...commands.flatMap((c) => ['-c', c]), url], {
        timeoutMs,
      });
      // qemu-io exits 0 even when a pattern does not match: read its words too.
      return result.code === 0 && !/failed|error|Pattern verification/i.test(result.stdout + result.stderr);
    },
  };
}
