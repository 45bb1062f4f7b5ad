// `tandem demo` as the failover end-to-end tests drive it: the JSON line it prints once its two
// nodes are ready, and a patient poll for what the pair does next.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DemoReady {
  password: string;
  url: string;
  nodes: { name: string; pid: number; api: string; dataDir: string }[];
}

/** The demo's ready line; the demo is killed if it has not printed one within `ms`. */
export async function readyLine(child: ChildProcess, ms: number): Promise<DemoReady> {
  const stdout = child.stdout;
  assert.ok(stdout);
  const lines = createInterface({ input: stdout });
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  try {
    for await (const line of lines) {
      if (line.startsWith('{')) return JSON.parse(line) as DemoReady;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`the demo exited (${String(child.exitCode)}) before it was ready`);
}

/** Polls `probe` every 200 ms (errors count as "not yet") until it gives a value; fails after `ms`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(200);
  }
  assert.fail(`${what} did not happen in ${ms} ms${last instanceof Error ? `: ${last.message}` : ''}`);
}
