// The background remover of deleted snapshots: it empties the trash, retries a failed removal (and
// logs it), and stops cleanly.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { SnapshotTrash } from '../../../src/nas/snapshot-trash.js';
import { createLogger } from '../../../src/observability/logger.js';
import { tempDir } from '../../helpers/temp-dir.js';

function capturedLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return { logger: createLogger({ level: 'debug', destination: sink }), text: () => text };
}

function tree(dir: string): void {
  mkdirSync(join(dir, 'a', 'b'), { recursive: true });
  writeFileSync(join(dir, 'a', 'b', 'file'), 'x');
}

test('discard moves the snapshot aside at once and the sweep removes it', async (t) => {
  const dir = tempDir(t, 'tandem-trash-');
  const snapshot = join(dir, 'nas-snapshots', 'vol', 'snap');
  tree(snapshot);
  const trashDir = join(dir, 'trash');
  const { logger } = capturedLogger();
  const trash = new SnapshotTrash({ logger });
  t.after(() => trash.close());
  await trash.discard(snapshot, trashDir);
  assert.ok(!existsSync(snapshot), 'gone from its place when discard returns');
  await trash.idle();
  assert.deepEqual(readdirSync(trashDir), []);
});

test('a failed removal is logged and retried until it succeeds; leftovers are swept', async (t) => {
  const dir = tempDir(t, 'tandem-trash-');
  const trashDir = join(dir, 'trash');
  // Left by an earlier daemon.
  tree(join(trashDir, 'left-over'));
  const { logger, text } = capturedLogger();
  let failures = 2;
  const attempts: string[] = [];
  const trash = new SnapshotTrash({
    logger,
    firstRetryMs: 20,
    remove: async (path) => {
      attempts.push(path);
      if (failures > 0) {
        failures -= 1;
        throw new Error('device busy');
      }
      await rm(path, { recursive: true, force: true });
    },
  });
  t.after(() => trash.close());
  trash.sweep(trashDir);
  for (let i = 0; i < 100 && readdirSync(trashDir).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(readdirSync(trashDir), [], 'removed in the end');
  assert.equal(attempts.length, 3, 'two failures, then success');
  assert.match(text(), /removing a deleted snapshot failed; will retry/);
  assert.match(text(), /device busy/);
});

test('close stops the retries', async (t) => {
  const dir = tempDir(t, 'tandem-trash-');
  const trashDir = join(dir, 'trash');
  tree(join(trashDir, 'stuck'));
  let attempts = 0;
  const trash = new SnapshotTrash({
    logger: capturedLogger().logger,
    firstRetryMs: 10,
    remove: () => {
      attempts += 1;
      return Promise.reject(new Error('no'));
    },
  });
  trash.sweep(trashDir);
  await trash.idle();
  await trash.close();
  const seen = attempts;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(attempts, seen, 'no retry after close');
  assert.deepEqual(readdirSync(trashDir), ['stuck'], 'kept for the next start');
});
