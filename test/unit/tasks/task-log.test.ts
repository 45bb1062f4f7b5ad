import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TaskLogRepo } from '../../../src/config/repositories/task-log-repo.js';
import { openStore } from '../../../src/config/store.js';
import { isTandemError } from '../../../src/lib/errors.js';
import { RunningTasks } from '../../../src/tasks/running-tasks.js';
import { parseTaskLogQuery, TaskLog } from '../../../src/tasks/task-log.js';
import { tempDir } from '../../helpers/temp-dir.js';
import type { TestContext } from 'node:test';

function openLog(t: TestContext, cap?: number, now?: () => Date): { log: TaskLog; repo: TaskLogRepo } {
  const db = openStore(join(tempDir(t), 'tandem.db'));
  t.after(() => db.close());
  const repo = new TaskLogRepo(db, cap);
  return { log: new TaskLog(repo, now), repo };
}

describe('task log', () => {
  it('keeps rows newest first and filters by name, type, status and time', (t) => {
    let clock = Date.parse('2026-01-01T10:00:00Z');
    const { log } = openLog(t, undefined, () => new Date((clock += 60_000)));
    const row = (
      name: string,
      type: string,
      status: 'ok' | 'error' | 'skipped',
      action: 'started' | 'finished' | 'skipped',
    ) => log.append({ name, type, status, action, runId: null, details: `${name} ${action}` });
    row('nightly', 'data-replication', 'ok', 'started'); // 10:01
    row('nightly', 'data-replication', 'ok', 'finished'); // 10:02
    row('office', 'data-replication', 'ok', 'started'); // 10:03
    row('office', 'data-replication', 'error', 'finished'); // 10:04
    row('vol1', 'volume-replication', 'skipped', 'skipped'); // 10:05

    assert.deepEqual(
      log.query().map((r) => r.details),
      ['vol1 skipped', 'office finished', 'office started', 'nightly finished', 'nightly started'],
    );
    assert.deepEqual(
      log.query({ name: 'office' }).map((r) => r.action),
      ['finished', 'started'],
    );
    assert.deepEqual(
      log.query({ type: 'volume-replication' }).map((r) => r.name),
      ['vol1'],
    );
    assert.deepEqual(
      log.query({ status: 'error' }).map((r) => r.name),
      ['office'],
    );
    assert.deepEqual(
      log.query({ since: '2026-01-01T10:03:00Z', until: '2026-01-01T10:05:00Z' }).map((r) => r.details),
      ['office finished', 'office started'],
    );
    assert.equal(log.query({ limit: 2 }).length, 2);
  });

  it('is capped: inserts prune the oldest rows', (t) => {
    const { log, repo } = openLog(t, 50);
    for (let i = 0; i < 180; i++)
      log.append({ name: `t${i}`, type: 'x', status: 'ok', action: 'finished', runId: null, details: '' });
    assert.equal(repo.count(), 50);
    const rows = log.query({ limit: 1000 });
    assert.equal(rows[0]?.name, 't179');
    assert.equal(rows.at(-1)?.name, 't130');
  });

  it('refuses bad filters with clear errors', () => {
    const bad = [
      { limit: 0 },
      { limit: 10_001 },
      { limit: 1.5 },
      { status: 'fine' },
      { since: 'yesterday-ish' },
      { since: '2026-01-02', until: '2026-01-01' },
    ];
    for (const query of bad)
      assert.throws(
        () => parseTaskLogQuery(query),
        (e: unknown) => isTandemError(e) && e.kind === 'invalid',
        JSON.stringify(query),
      );
    assert.equal(parseTaskLogQuery({ since: '2026-01-01' }).since, '2026-01-01T00:00:00.000Z');
  });
});

describe('running tasks', () => {
  it('one run per task and type, live progress, cancel calls back', () => {
    const running = new RunningTasks();
    let cancelled = 0;
    const base = {
      runId: 'r1',
      name: 'a',
      type: 'data-replication',
      startedAt: '2026-01-01T00:00:00Z',
      trigger: 'manual',
    };
    assert.equal(
      running.add(base, () => cancelled++),
      true,
    );
    assert.equal(
      running.add({ ...base, runId: 'r2' }, () => undefined),
      false,
      'no overlap',
    );
    assert.equal(
      running.add({ ...base, type: 'volume-replication' }, () => undefined),
      true,
      'another type is another task',
    );
    running.update('data-replication', 'a', { phase: 'transfer', bytesDone: 10, percent: 50 });
    assert.equal(running.get('data-replication', 'a')?.progress.percent, 50);
    assert.equal(running.cancel('data-replication', 'a'), true);
    assert.equal(cancelled, 1);
    assert.equal(running.get('data-replication', 'a')?.cancelling, true);
    assert.equal(running.list('data-replication').length, 1);
    running.remove('data-replication', 'a');
    assert.equal(running.cancel('data-replication', 'a'), false);
    assert.equal(running.list().length, 1);
  });
});
