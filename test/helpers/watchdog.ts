// Runs test/helpers/fake-vip-daemon.ts (a stand-in daemon with the real watchdog client) and
// watches what happens to it and to its watchdog.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FakeDaemonConfig } from './fake-vip-daemon.js';

export const FAKE_DAEMON = fileURLToPath(new URL('./fake-vip-daemon.ts', import.meta.url));

export interface FakeDaemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly watchdogPid: number;
  /** The daemon's and the watchdog's log lines (both write to the daemon's stderr). */
  log(): string;
  /** The watchdog's lines, parsed. */
  watchdogLines(): { msg: string; reason?: string; daemon?: string; removed?: boolean }[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The argv that runs the fake daemon (for lab.spawn, or plain spawn). */
export function fakeDaemonArgv(config: FakeDaemonConfig): string[] {
  return [process.execPath, '--import', 'tsx', FAKE_DAEMON, JSON.stringify(config)];
}

/** Starts it (by `spawner`, default a plain spawn) and waits until it holds the address. */
export async function startFakeDaemon(
  t: TestContext,
  config: FakeDaemonConfig,
  spawner: (argv: string[], options: SpawnOptions) => ChildProcess = ([command, ...args], options) =>
    spawn(command!, args, options),
  options: { detached?: boolean } = {},
): Promise<FakeDaemon> {
  const child = spawner(fakeDaemonArgv(config), {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started: { watchdogPid?: number } = {};
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    const { watchdogPid } = started;
    if (watchdogPid !== undefined && processAlive(watchdogPid)) process.kill(watchdogPid, 'SIGKILL');
  });
  const ready = await waitFor(
    'the fake daemon holds the address',
    () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the fake daemon exited: ${stderr}`);
      }
      const line = stdout.split('\n').find((l) => l.includes('"ready"'));
      return line ? (JSON.parse(line) as { watchdogPid: number }) : undefined;
    },
    60_000,
  );
  started.watchdogPid = ready.watchdogPid;
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  return {
    child,
    pid,
    watchdogPid: ready.watchdogPid,
    log: () => stderr,
    watchdogLines: () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes(`"pid":${String(ready.watchdogPid)},`))
        .map((l) => JSON.parse(l) as { msg: string; reason?: string; daemon?: string; removed?: boolean }),
    exited,
  };
}

/** True while the process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // pid (comm) state ...: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `probe` every 20 ms until it gives a value; fails after `ms`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const until = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > until) throw new Error(`${what}: not within ${String(ms)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
