// Two real daemons on loopback, paired for volume replication: node A holds the source volume, node B
// the destination. Everything goes through the REST API, as an administrator's tools would.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { api, startDaemon, type Daemon } from '../../helpers/daemon.js';
import { tempDir } from '../../helpers/temp-dir.js';

export const PASSWORD = 'replication-test-password';
export const SECRET = 'a shared secret of the pair, long enough';
export const TASK = 'mirror1';
export const TARGET = 'iqn.2026-11.local.tandem:replicated';

export interface Node {
  readonly name: string;
  readonly daemon: Daemon;
  readonly dataDir: string;
  /** This node's replication listener, once paired. */
  listen: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** Like call, but fails the test unless the status is 2xx; returns the body. */
  ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  imagePath(volume: string): Promise<string>;
}

export async function startNode(
  t: TestContext,
  name: string,
  dataDir = join(tempDir(t), name),
): Promise<Node> {
  const daemon = await startDaemon(t, dataDir, {
    args: ['--replication', '127.0.0.1:0', '--node-name', name],
    env: { TANDEM_ADMIN_PASSWORD: PASSWORD },
  });
  const call = (method: string, path: string, body?: unknown) =>
    api(daemon.apiUrl, method, path, { password: PASSWORD, ...(body === undefined ? {} : { body }) });
  const node: Node = {
    name,
    daemon,
    dataDir,
    listen: '',
    call,
    async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
      const result = await call(method, path, body);
      assert.ok(
        result.status >= 200 && result.status < 300,
        `${name}: ${method} ${path} answered ${result.status}: ${JSON.stringify(result.body)}`,
      );
      return result.body as T;
    },
    async imagePath(volume: string): Promise<string> {
      const shown = await node.ok<{ path: string }>('GET', `/api/v1/volumes/${volume}`);
      return shown.path;
    },
  };
  return node;
}

export async function pair(a: Node, b: Node, secretB = SECRET): Promise<void> {
  const pa = await a.ok<{ listen: string }>('PUT', '/api/v1/replication/pairing', {
    peerName: b.name,
    secret: SECRET,
  });
  const pb = await b.ok<{ listen: string }>('PUT', '/api/v1/replication/pairing', {
    peerName: a.name,
    secret: secretB,
  });
  a.listen = pa.listen;
  b.listen = pb.listen;
}

export interface TaskStatus {
  name: string;
  role: string;
  connection: string;
  diskState: string;
  peerDiskState: string;
  outOfSyncBytes: number;
  lastError: string | null;
  running: boolean;
}

export function task(node: Node, name = TASK): Promise<TaskStatus> {
  return node.ok<TaskStatus>('GET', `/api/v1/replication/tasks/${name}`);
}

/** Polls until `predicate` holds for the task's status; fails with the last status after `ms`. */
export async function waitForTask(
  node: Node,
  predicate: (status: TaskStatus) => boolean,
  ms = 30_000,
  name = TASK,
): Promise<TaskStatus> {
  const until = Date.now() + ms;
  let last: TaskStatus | undefined;
  while (Date.now() < until) {
    const result = await node.call('GET', `/api/v1/replication/tasks/${name}`);
    if (result.status === 200) {
      last = result.body as TaskStatus;
      if (predicate(last)) return last;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${node.name}: task ${name} never reached the state; last: ${JSON.stringify(last)}`);
}

export const inSync = (s: TaskStatus): boolean =>
  s.connection === 'connected' && s.peerDiskState === 'up-to-date' && s.diskState === 'up-to-date';

/**
 * A: volume `src` (source, exported as LUN 0 of TARGET); B: volume `dst` (destination); task TASK
 * created and started; resolves once the initial sync is done.
 */
export async function replicatedPair(
  t: TestContext,
  options: { size?: string; thin?: boolean; start?: boolean } = {},
): Promise<{ a: Node; b: Node; url: string }> {
  const [a, b] = await Promise.all([startNode(t, 'node-a'), startNode(t, 'node-b')]);
  await pair(a, b);
  const size = options.size ?? '64MiB';
  const thick = options.thin === false ? { provisioning: 'thick' } : {};
  await a.ok('POST', '/api/v1/volumes', { name: 'src', type: 'iscsi', size, replication: true, ...thick });
  await b.ok('POST', '/api/v1/volumes', { name: 'dst', type: 'iscsi', size, replication: true, ...thick });
  await b.ok('PUT', '/api/v1/volumes/dst/replication', { mode: 'destination', mirrorServer: a.listen });
  await a.ok('PUT', '/api/v1/volumes/src/replication', { mode: 'source', mirrorServer: b.listen });
  await a.ok('POST', '/api/v1/replication/tasks', { name: TASK, volume: 'src', remoteVolume: 'dst' });
  await a.ok('POST', '/api/v1/targets', { iqn: TARGET, luns: [{ lun: 0, volume: 'src' }] });
  if (options.start !== false) {
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/start`);
    await waitForTask(a, inSync);
  }
  return { a, b, url: `iscsi://${a.daemon.iscsiPortal}/${TARGET}/0` };
}

export function sha256OfFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
