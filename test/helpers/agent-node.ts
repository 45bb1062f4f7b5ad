// A node whose data replication agent serves one share, `office` (volume `backups`, replication ID
// `alice`, the password in a 0600 file), on a free loopback port: the common start of the agent's
// interop tests.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/lib/free-port.js';
import { cliJson, startDaemon, type Daemon } from './daemon.js';

export const AGENT_PASSWORD = 'correct horse battery';

export interface AgentNode {
  readonly daemon: Daemon;
  /** The node's data dir. */
  readonly data: string;
  /** The agent's port on 127.0.0.1. */
  readonly port: number;
  /** `tandem --data DATA ARGS --json`. */
  readonly cli: (args: string[]) => Promise<unknown>;
}

export async function startAgentNode(
  t: TestContext,
  root: string,
  settings: readonly string[] = [],
): Promise<AgentNode> {
  const data = join(root, 'node');
  const daemon = await startDaemon(t, data, { args: ['--replication', '127.0.0.1:0'] });
  const cli = (args: string[]) => cliJson<unknown>(['--data', data, ...args]);
  const port = await freePort();
  await cli(['volume', 'create', 'backups', '--type', 'nas', '--size', '64MiB']);
  await cli(['nas', 'share', 'create', 'office', '--volume', 'backups', '--comment', 'Office backup']);
  const passwordFile = join(root, 'password');
  writeFileSync(passwordFile, `${AGENT_PASSWORD}\n`, { mode: 0o600 });
  await cli([
    'nas',
    'share',
    'replication',
    'office',
    '--enable',
    '--id',
    'alice',
    '--password-file',
    passwordFile,
  ]);
  await cli([
    'nas',
    'settings',
    'set',
    '--agent',
    'on',
    '--agent-port',
    String(port),
    '--agent-address',
    '127.0.0.1',
    ...settings,
  ]);
  return { daemon, data, port, cli };
}

/** Polls `probe` every 100 ms until it gives a value; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
