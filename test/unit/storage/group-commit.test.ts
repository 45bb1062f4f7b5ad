import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as settle } from 'node:timers/promises';
import fc from 'fast-check';
import { GroupCommit } from '../../../src/storage/group-commit.js';

interface FakeSync {
  /** The syncs started so far, in order; resolve or reject them to finish them. */
  readonly started: { resolve: () => void; reject: (error: Error) => void; startedAt: number }[];
  readonly sync: () => Promise<void>;
}

/** A sync whose completion the test controls; `clock` numbers events so order can be checked. */
function fakeSync(clock: { now: number } = { now: 0 }): FakeSync {
  const started: FakeSync['started'] = [];
  return {
    started,
    sync: () =>
      new Promise<void>((resolve, reject) => {
        started.push({ resolve, reject, startedAt: clock.now++ });
      }),
  };
}

/** Watches a promise's outcome without awaiting it. */
function watch(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (seen.state = 'resolved'),
    (error: unknown) => {
      seen.state = 'rejected';
      seen.error = error;
    },
  );
  return seen;
}

describe('GroupCommit', () => {
  it('runs one sync for a lone flush and resolves only when it completes', async () => {
    const fake = fakeSync();
    const group = new GroupCommit(fake.sync);
    const flush = watch(group.flush());
    await settle();
    assert.equal(fake.started.length, 1);
    assert.equal(flush.state, 'pending');
    fake.started[0]!.resolve();
    await settle();
    assert.equal(flush.state, 'resolved');
    assert.equal(group.syncs, 1);
  });

  it('makes N concurrent flushers share at most 2 syncs, the later ones waiting for the second', async () => {
    const fake = fakeSync();
    const group = new GroupCommit(fake.sync);
    const first = watch(group.flush());
    const others = Array.from({ length: 20 }, () => watch(group.flush()));
    await settle();
    assert.equal(fake.started.length, 1, 'the others wait for a sync that starts after their call');
    fake.started[0]!.resolve();
    await settle();
    assert.equal(first.state, 'resolved');
    assert.ok(
      others.every((o) => o.state === 'pending'),
      'a sync already running when they called does not cover them',
    );
    assert.equal(fake.started.length, 2);
    fake.started[1]!.resolve();
    await settle();
    assert.ok(others.every((o) => o.state === 'resolved'));
    assert.equal(group.syncs, 2);
  });

  it('starts afresh once idle: a flush after the last sync completed gets its own sync', async () => {
    const fake = fakeSync();
    const group = new GroupCommit(fake.sync);
    const a = group.flush();
    fake.started[0]!.resolve();
    await a;
    const b = watch(group.flush());
    assert.equal(fake.started.length, 2);
    fake.started[1]!.resolve();
    await settle();
    assert.equal(b.state, 'resolved');
  });

  it('rejects every waiter of a failed sync with its error, and not the waiters of the next one', async () => {
    const fake = fakeSync();
    const group = new GroupCommit(fake.sync);
    const first = watch(group.flush());
    const second = [watch(group.flush()), watch(group.flush())];
    const boom = new Error('EIO');
    fake.started[0]!.reject(boom);
    await settle();
    assert.equal(first.state, 'rejected');
    assert.equal(first.error, boom);
    assert.ok(second.every((s) => s.state === 'pending'));
    assert.equal(fake.started.length, 2, 'the queued sync still runs after a failure');

    const third = watch(group.flush()); // joins the sync after the second
    const again = new Error('EIO again');
    fake.started[1]!.reject(again);
    await settle();
    for (const s of second) {
      assert.equal(s.state, 'rejected');
      assert.equal(s.error, again);
    }
    assert.equal(third.state, 'pending');
    fake.started[2]!.resolve();
    await settle();
    assert.equal(third.state, 'resolved');
  });

  it('turns a sync that throws synchronously into a rejection', async () => {
    const group = new GroupCommit(() => {
      throw new Error('sync threw');
    });
    await assert.rejects(group.flush(), /sync threw/);
  });

  it('idle() waits for the running and the queued sync, ignoring their errors', async () => {
    const fake = fakeSync();
    const group = new GroupCommit(fake.sync);
    group.flush().catch(() => undefined);
    group.flush().catch(() => undefined);
    const idle = watch(group.idle());
    fake.started[0]!.reject(new Error('x'));
    await settle();
    assert.equal(idle.state, 'pending');
    fake.started[1]!.resolve();
    await settle();
    assert.equal(idle.state, 'resolved');
  });

  it('under any interleaving: one sync at a time, each flush covered by a sync started after it', async () => {
    const action = fc.constantFrom('flush', 'flush', 'complete', 'fail');
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 40 }), async (actions) => {
        const clock = { now: 0 };
        const fake = fakeSync(clock);
        const group = new GroupCommit(fake.sync);
        let finished = 0; // syncs settled so far, in order (one runs at a time)
        const flushes: { calledAt: number; outcome: ReturnType<typeof watch>; settledBy?: number }[] = [];
        const finish = async (ok: boolean): Promise<void> => {
          const sync = fake.started[finished];
          if (!sync) return;
          if (ok) sync.resolve();
          else sync.reject(new Error(`sync ${finished} failed`));
          finished++;
          await settle();
          for (const f of flushes) {
            if (f.outcome.state !== 'pending' && f.settledBy === undefined) f.settledBy = finished - 1;
          }
          assert.ok(fake.started.length - finished <= 1, 'at most one sync in flight');
        };
        for (const a of actions) {
          if (a === 'flush') {
            flushes.push({ calledAt: clock.now++, outcome: watch(group.flush()) });
            assert.ok(fake.started.length - finished <= 1, 'at most one sync in flight');
          } else {
            await finish(a === 'complete');
          }
        }
        while (finished < fake.started.length) await finish(true);
        assert.ok(fake.started.length <= flushes.length);
        for (const f of flushes) {
          assert.notEqual(f.settledBy, undefined, 'every flush settles');
          const sync = fake.started[f.settledBy!]!;
          assert.ok(sync.startedAt > f.calledAt, 'covered only by a sync that started after the call');
        }
      }),
    );
  });
});
