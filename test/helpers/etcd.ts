// Starts a private single-member etcd for a test: its own `etcd` process (argument array, never a
// shell), a temporary data directory and client/peer URLs on free loopback ports, or inside a
// network namespace (`ip netns exec NS etcd ...`) bound to an address of that namespace. It waits
// until etcd answers /health, and at teardown kills it and removes its data. It never talks to, or
// depends on, an etcd that the system runs (Debian's etcd-server service listens on 2379/2380 of
// the host; a host-side test server takes other ports).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/lib/free-port.js';

export interface EtcdOptions {
  /** Run inside this network namespace: `ip netns exec <netns> etcd ...`. */
  readonly netns?: string;
  /** Address to bind the client and peer URLs on (default 127.0.0.1). */
  readonly host?: string;
  /** Client port: default a free port on the host, 2379 inside a namespace. */
  readonly clientPort?: number;
  /** Peer port: default a free port on the host, 2380 inside a namespace. */
  readonly peerPort?: number;
  /** Member name (default "witness"). */
  readonly name?: string;
  /** How long to wait for /health to answer (default 20 s). */
  readonly startTimeoutMs?: number;
  /** More etcd flags, e.g. ['--heartbeat-interval', '50', '--election-timeout', '500']. */
  readonly extraArgs?: readonly string[];
}

export interface EtcdServer {
  /** The client URL, e.g. http://127.0.0.1:40123 (give it to the witness as an endpoint). */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly netns: string | undefined;
  /** The etcd process id (a new one after restart). */
  readonly pid: number;
  /** True when etcd answers /health with "true" right now (asked from inside its namespace). */
  healthy(): Promise<boolean>;
  /** SIGSTOP: etcd stops answering but keeps its sockets (a hung server). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL, and waits until it is gone: etcd is down (its data stays for restart()). */
  kill(): Promise<void>;
  /** Starts etcd again on the same data, URLs and ports, and waits until it answers. */
  restart(): Promise<void>;
  /** What etcd wrote to stdout and stderr (the last 64 KiB), for failure messages. */
  output(): string;
}

/** Anything that runs a function at teardown: a TestContext, or `{ after }` from node:test. */
export interface Teardown {
  after(fn: () => unknown): void;
}

const OUTPUT_LIMIT = 64 * 1024;

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Asks /health once; inside a namespace through a short node program run there. */
async function askHealth(endpoint: string, netns: string | undefined): Promise<boolean> {
  const url = `${endpoint}/health`;
  if (netns === undefined) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      return response.ok && ((await response.json()) as { health?: unknown }).health === 'true';
    } catch {
      return false;
    }
  }
  const script =
    'fetch(process.argv[1], { signal: AbortSignal.timeout(1000) })' +
    '.then((r) => r.json()).then((b) => process.exit(b.health === "true" ? 0 : 1), () => process.exit(1));';
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script, url], {
      stdio: 'ignore',
    });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts etcd and registers its teardown (kill, remove the data directory) with `owner`. */
export async function startEtcd(owner: Teardown, options: EtcdOptions = {}): Promise<EtcdServer> {
  const host = options.host ?? '127.0.0.1';
  const netns = options.netns;
  const name = options.name ?? 'witness';
  const clientPort = options.clientPort ?? (netns === undefined ? await freePort(host) : 2379);
  let peerPort = options.peerPort ?? (netns === undefined ? await freePort(host) : 2380);
  while (peerPort === clientPort) peerPort = await freePort(host);
  const clientUrl = `http://${urlHost(host)}:${clientPort}`;
  const peerUrl = `http://${urlHost(host)}:${peerPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tandem-etcd-'));
  const args = [
    '--name',
    name,
    '--data-dir',
    join(dataDir, 'data'),
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `${name}=${peerUrl}`,
    '--initial-cluster-state',
    'new',
    '--logger',
    'zap',
    ...(options.extraArgs ?? []),
  ];
  // etcd reads ETCD_* variables as flags: none of the caller's may leak in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD_')));

  let output = '';
  let child: ChildProcess | null = null;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const [command, argv] =
      netns === undefined ? ['etcd', args] : ['ip', ['netns', 'exec', netns, 'etcd', ...args]];
    const started = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    const keep = (chunk: string): void => {
      output = (output + chunk).slice(-OUTPUT_LIMIT);
    };
    started.stdout.setEncoding('utf8').on('data', keep);
    started.stderr.setEncoding('utf8').on('data', keep);
    const failure: { error: Error | null } = { error: null };
    started.once('error', (error) => (failure.error = error));
    const deadline = performance.now() + (options.startTimeoutMs ?? 20_000);
    for (;;) {
      if (failure.error !== null) throw new Error(`etcd could not be started: ${failure.error.message}`);
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new Error(`etcd exited (${started.exitCode ?? started.signalCode}) while starting:\n${output}`);
      }
      if (await askHealth(clientUrl, netns)) return;
      if (performance.now() > deadline) {
        started.kill('SIGKILL');
        throw new Error(`etcd did not answer ${clientUrl}/health in time:\n${output}`);
      }
      await sleep(100);
    }
  };

  const kill = async (): Promise<void> => {
    const running = child;
    if (running === null) return;
    running.kill('SIGCONT');
    running.kill('SIGKILL');
    await exited(running);
  };

  owner.after(async () => {
    stopped = true;
    await kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  await launch();

  return {
    endpoint: clientUrl,
    dataDir,
    netns,
    get pid(): number {
      return child?.pid ?? 0;
    },
    healthy: () => askHealth(clientUrl, netns),
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    kill,
    restart: async () => {
      if (stopped) throw new Error('etcd was torn down');
      await kill();
      await launch();
    },
    output: () => output,
  };
}
