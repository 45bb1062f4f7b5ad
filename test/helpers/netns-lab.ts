// The two-node test lab of DESIGN.md, built from network namespaces by the test itself:
//
//   ns a ──data0──┐                 ┌──aux0── ns a
//   ns b ──data0──┤  br-data (ns s) │         ns b ──aux0──┐  br-aux (ns s)
//   client ─data0─┤                 └──────────────────────┘
//   ping ───data0─┘
//
// One namespace per node (a, b), one for the client, one for the ping node, and a switch namespace
// holding the two bridges. Nothing links to the host's network. Every lab gets a random id, so
// several tests can build labs at once with the same addresses. Teardown (t.after) kills what the
// test spawned and deletes the namespaces even when the test failed; a sweep at creation removes
// labs left behind by a crashed earlier run (their owner process is gone).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runProgram, type ProgramResult, type RunOptions } from '../../src/lib/run-program.js';

export type LabNode = 'a' | 'b';
export type LabLink = 'data' | 'aux';
export type LabHost = 'a' | 'b' | 'client' | 'ping' | 'switch';

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LabAddresses {
  /** 198.18.0.0/24: the iSCSI data network (carries the virtual IP). */
  readonly data: {
    readonly a: string;
    readonly b: string;
    readonly client: string;
    readonly ping: string;
    /** A free address suggested for the virtual IP. */
    readonly vip: string;
    readonly prefixLength: number;
    readonly broadcast: string;
  };
  /** 198.18.1.0/24: the auxiliary (heartbeat) network between the nodes. */
  readonly aux: {
    readonly a: string;
    readonly b: string;
    readonly prefixLength: number;
    readonly broadcast: string;
  };
}

export interface Lab {
  readonly id: string;
  /** Namespace names, for `ip netns exec` or `ip -n`. */
  readonly ns: Readonly<Record<LabHost, string>>;
  readonly addr: LabAddresses;
  /** The NIC names inside each node namespace (same in a and b; client and ping have data0 only). */
  readonly nic: Readonly<Record<LabLink, string>>;
  /** Runs a program inside a namespace to completion (argv, never a shell). */
  exec(
    host: LabHost,
    argv: readonly string[],
    options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<ExecResult>;
  /** Like exec, but fails unless the program exits 0; resolves with its stdout. */
  execOk(
    host: LabHost,
    argv: readonly string[],
    options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<string>;
  /**
   * A program runner (same shape as src/lib/run-program's runProgram) that runs inside a namespace:
   * give it to code that takes a `run` option (the iproute2 VIP driver, listNics) to drive a lab node.
   */
  runner(
    host: LabHost,
  ): (command: string, args: readonly string[], options?: RunOptions) => Promise<ProgramResult>;
  /**
   * Starts a long-running program inside a namespace; it is killed (SIGKILL) at teardown. Output is
   * discarded unless `options.stdio` says otherwise (an unread pipe would stall a chatty program).
   */
  spawn(host: LabHost, argv: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * Cuts or restores one node's link. By default the switch-side end of the veth goes down: the node
   * keeps its NIC (administratively up, addresses in place) but loses carrier, as with a pulled cable,
   * and nothing crosses in either direction. `side: 'node'` downs the node's own NIC instead, which
   * also removes its connected routes (the node then knows the link is gone).
   */
  setLink(
    node: LabNode,
    link: LabLink,
    state: 'up' | 'down',
    options?: { side?: 'switch' | 'node' },
  ): Promise<void>;
  /** The MAC address of a NIC inside a namespace. */
  mac(host: LabHost, nic?: string): Promise<string>;
  /** True when `from` gets an answer to one ping of `address` within the timeout. */
  ping(from: LabHost, address: string, timeoutSeconds?: number): Promise<boolean>;
  /**
   * True when one of up to `attempts` pings is answered. Assert reachability with this: one lost
   * ping (a fresh ARP entry, a loaded host) is not a broken network. Assert unreachability with ping.
   */
  reaches(from: LabHost, address: string, attempts?: number): Promise<boolean>;
  /** The client's (or any host's) neighbour entry for an address: MAC and state, or undefined. */
  neighbour(host: LabHost, address: string): Promise<{ mac: string; state: string[] } | undefined>;
  /** Removes everything now (teardown also calls it; calling it twice is harmless). */
  destroy(): Promise<void>;
}

export interface LabOptions {
  /** Bring the links up and check a ping on each before returning (default true). */
  readonly verify?: boolean;
}

const PREFIX = 'tlab-';
const NAME_PATTERN = /^tlab-([0-9a-f]{6})-(a|b|c|p|s)$/;
/** One marker file per live lab, holding its owner's pid; the sweep trusts nothing else. */
const MARKER_DIR = '/run/tandem-netns-lab';
const NETNS_DIR = '/run/netns';
/** A lab without a marker is only swept once it is older than this (it may be being built). */
const UNMARKED_GRACE_MS = 60_000;

const ADDRESSES: LabAddresses = {
  data: {
    a: '198.18.0.1',
    b: '198.18.0.2',
    client: '198.18.0.10',
    ping: '198.18.0.254',
    vip: '198.18.0.100',
    prefixLength: 24,
    broadcast: '198.18.0.255',
  },
  aux: { a: '198.18.1.1', b: '198.18.1.2', prefixLength: 24, broadcast: '198.18.1.255' },
};

const NIC = { data: 'data0', aux: 'aux0' } as const;

/** The switch-side veth end of a host's link (names are per switch namespace, so they can repeat). */
function switchPort(host: 'a' | 'b' | 'client' | 'ping', link: LabLink): string {
  return `${host === 'client' ? 'c' : host === 'ping' ? 'p' : host}-${link}`;
}

export function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function runOk(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${String(result.code)}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  return result.stdout;
}

const ip = (args: readonly string[]): Promise<string> => runOk('ip', args);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside a namespace, then deletes it. Never throws: teardown must go on. */
async function deleteNamespace(name: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', name]);
  for (const line of pids.stdout.split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await run('ip', ['netns', 'del', name]);
}

/** Lab namespaces present on this machine, grouped by lab id. */
function labNamespaces(): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  let names: string[];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    return byId;
  }
  for (const name of names) {
    const match = NAME_PATTERN.exec(name);
    if (!match?.[1]) continue;
    byId.set(match[1], [...(byId.get(match[1]) ?? []), name]);
  }
  return byId;
}

function ownerOf(id: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(MARKER_DIR, id), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes labs whose owner process is gone (a crashed or killed earlier test run). A lab without a
 * marker is left alone for a minute, since its marker may not be written yet.
 */
export async function sweepStaleLabs(): Promise<string[]> {
  const removed: string[] = [];
  for (const [id, names] of labNamespaces()) {
    const owner = ownerOf(id);
    if (owner !== undefined && isAlive(owner)) continue;
    if (owner === undefined) {
      const ages = names.map((name) => {
        try {
          return Date.now() - statSync(join(NETNS_DIR, name)).mtimeMs;
        } catch {
          return Infinity;
        }
      });
      if (Math.min(...ages) < UNMARKED_GRACE_MS) continue;
    }
    for (const name of names) await deleteNamespace(name);
    rmSync(join(MARKER_DIR, id), { force: true });
    removed.push(id);
  }
  return removed;
}

/** Builds a lab for one test; it is torn down when the test ends, pass or fail. */
export async function createLab(t: TestContext, options: LabOptions = {}): Promise<Lab> {
  await sweepStaleLabs();
  const id = randomBytes(3).toString('hex');
  const ns: Record<LabHost, string> = {
    a: `${PREFIX}${id}-a`,
    b: `${PREFIX}${id}-b`,
    client: `${PREFIX}${id}-c`,
    ping: `${PREFIX}${id}-p`,
    switch: `${PREFIX}${id}-s`,
  };
  const spawned = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    const exits: Promise<unknown>[] = [];
    for (const child of spawned) {
      if (child.exitCode === null && child.signalCode === null) {
        exits.push(new Promise((resolve) => child.once('exit', resolve)));
        child.kill('SIGKILL');
      }
    }
    await Promise.all(exits);
    for (const name of Object.values(ns)) await deleteNamespace(name);
    rmSync(join(MARKER_DIR, id), { force: true });
  };
  t.after(destroy);

  mkdirSync(MARKER_DIR, { recursive: true });
  writeFileSync(join(MARKER_DIR, id), `${String(process.pid)}\n`);

  for (const name of Object.values(ns)) await ip(['netns', 'add', name]);
  for (const name of Object.values(ns)) await ip(['-n', name, 'link', 'set', 'lo', 'up']);

  const sw = ns.switch;
  for (const link of ['data', 'aux'] as const) {
    await ip(['-n', sw, 'link', 'add', `br-${link}`, 'type', 'bridge']);
    // No STP delay: ports forward at once; no multicast snooping surprises for ARP.
    await ip([
      '-n',
      sw,
      'link',
      'set',
      `br-${link}`,
      'type',
      'bridge',
      'forward_delay',
      '0',
      'stp_state',
      '0',
    ]);
    await ip(['-n', sw, 'link', 'set', `br-${link}`, 'up']);
  }

  const attach = async (
    host: 'a' | 'b' | 'client' | 'ping',
    link: LabLink,
    address: string,
    prefix: number,
    broadcast: string,
  ): Promise<void> => {
    const port = switchPort(host, link);
    // Create the pair inside the switch and move the node's end straight into its namespace, so no
    // interface ever appears in the host's namespace (names there could clash between labs).
    await ip(['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', NIC[link], 'netns', ns[host]]);
    await ip(['-n', sw, 'link', 'set', port, 'master', `br-${link}`]);
    await ip(['-n', sw, 'link', 'set', port, 'up']);
    await ip([
      '-n',
      ns[host],
      'addr',
      'add',
      `${address}/${String(prefix)}`,
      'brd',
      broadcast,
      'dev',
      NIC[link],
    ]);
    await ip(['-n', ns[host], 'link', 'set', NIC[link], 'up']);
  };

  const d = ADDRESSES.data;
  const x = ADDRESSES.aux;
  await attach('a', 'data', d.a, d.prefixLength, d.broadcast);
  await attach('b', 'data', d.b, d.prefixLength, d.broadcast);
  await attach('client', 'data', d.client, d.prefixLength, d.broadcast);
  await attach('ping', 'data', d.ping, d.prefixLength, d.broadcast);
  await attach('a', 'aux', x.a, x.prefixLength, x.broadcast);
  await attach('b', 'aux', x.b, x.prefixLength, x.broadcast);

  const exec = (
    host: LabHost,
    argv: readonly string[],
    opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
  ): Promise<ExecResult> => run('ip', ['netns', 'exec', ns[host], ...argv], opts);

  const lab: Lab = {
    id,
    ns,
    addr: ADDRESSES,
    nic: NIC,
    exec,
    async execOk(host, argv, opts = {}) {
      const result = await exec(host, argv, opts);
      if (result.code !== 0) {
        throw new Error(
          `[${host}] ${argv.join(' ')} exited ${String(result.code)}: ${result.stderr.trim() || result.stdout.trim()}`,
        );
      }
      return result.stdout;
    },
    runner(host) {
      return (command, args, runOptions = {}) =>
        runProgram('ip', ['netns', 'exec', ns[host], command, ...args], runOptions);
    },
    spawn(host, argv, spawnOptions = {}) {
      const [command, ...args] = argv;
      if (command === undefined) throw new Error('lab.spawn needs a program');
      // `ip netns exec` execs the program in place, so the child's pid is the program's own.
      const child = spawn('ip', ['netns', 'exec', ns[host], command, ...args], {
        stdio: 'ignore',
        ...spawnOptions,
      });
      spawned.add(child);
      return child;
    },
    async setLink(node, link, state, opts = {}) {
      if (opts.side === 'node') await ip(['-n', ns[node], 'link', 'set', NIC[link], state]);
      else await ip(['-n', sw, 'link', 'set', switchPort(node, link), state]);
    },
    async mac(host, nic = NIC.data) {
      const out = await ip(['-n', ns[host], '-j', 'link', 'show', 'dev', nic]);
      const [link] = JSON.parse(out) as { address?: string }[];
      if (!link?.address) throw new Error(`no MAC for ${nic} in ${ns[host]}`);
      return link.address;
    },
    async ping(from, address, timeoutSeconds = 1) {
      const result = await exec(
        from,
        ['ping', '-n', '-q', '-c', '1', '-W', String(timeoutSeconds), address],
        {
          timeoutMs: (timeoutSeconds + 5) * 1000,
        },
      );
      return result.code === 0;
    },
    async reaches(from, address, attempts = 5) {
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (await lab.ping(from, address, 1)) return true;
      }
      return false;
    },
    async neighbour(host, address) {
      const out = await ip(['-n', ns[host], '-j', 'neigh', 'show', 'to', address]);
      const entries = JSON.parse(out) as { dst?: string; lladdr?: string; state?: string[] }[];
      const entry = entries.find((e) => e.dst === address && e.lladdr !== undefined);
      return entry?.lladdr ? { mac: entry.lladdr, state: entry.state ?? [] } : undefined;
    },
    destroy,
  };

  if (options.verify ?? true) {
    const checks: [LabHost, string][] = [
      ['a', d.b],
      ['a', d.client],
      ['a', d.ping],
      ['b', d.ping],
      ['a', x.b],
    ];
    for (const [from, to] of checks) {
      // A fresh bridge port may take a moment to forward.
      if (!(await lab.reaches(from, to))) throw new Error(`lab ${id}: ${from} cannot reach ${to}`);
    }
  }
  return lab;
}

/**
 * Calls a daemon's REST API through its unix socket (DATA/tandem.sock). A daemon inside a node
 * namespace listens on that namespace's addresses, which the test process (in the host namespace)
 * cannot reach; a unix socket is a file and crosses namespaces. Socket connections are trusted (no
 * password), as for the CLI with --data.
 */
export function apiOverSocket(
  dataDir: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: join(dataDir, 'tandem.sock'),
        method,
        path,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : null;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () =>
      req.destroy(new Error(`${method} ${path}: no answer on ${dataDir}/tandem.sock`)),
    );
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
