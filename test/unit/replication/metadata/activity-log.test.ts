import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ActivityLog,
  RELEASE_DONE,
  RELEASE_FREED,
  RELEASE_NOT_HELD,
  type ExtentRange,
} from '../../../../src/replication/metadata/activity-log.js';

/** Plans and commits a transaction for `requests`, then takes their references. */
function activate(log: ActivityLog, ...requests: ExtentRange[]): { added: number[]; retired: number[] } {
  const plan = log.plan(requests);
  if (plan !== null) log.commit(plan);
  for (const r of requests) assert.ok(log.tryAcquire(r.first, r.last), `extents ${r.first}..${r.last}`);
  return { added: [...(plan?.added ?? [])], retired: [...(plan?.retired ?? [])] };
}

const one = (extent: number): ExtentRange => ({ first: extent, last: extent });

describe('ActivityLog', () => {
  it('lets writes in only once their extents are committed, counting references', () => {
    const log = new ActivityLog(4);
    assert.equal(log.tryAcquire(2, 3), false);
    const plan = log.plan([{ first: 2, last: 3 }]);
    assert.deepEqual(plan, { added: [2, 3], retired: [] });
    assert.equal(log.tryAcquire(2, 2), false, 'pending until committed');
    assert.deepEqual(log.recordedExtents(), [2, 3], 'pending extents are written to the log');
    log.commit(plan);
    assert.ok(log.tryAcquire(2, 3));
    assert.ok(log.tryAcquire(3, 3));
    assert.equal(log.references, 3);
    assert.equal(log.referencesOf(3), 2);
    assert.equal(log.release(2, 3), RELEASE_FREED);
    assert.equal(log.release(3, 3), RELEASE_FREED);
    assert.equal(log.references, 0);
    assert.ok(log.tryAcquire(3, 3));
    assert.ok(log.tryAcquire(3, 3));
    assert.equal(log.release(3, 3), RELEASE_DONE);
  });

  it('refuses a release of an extent with nothing in flight, changing nothing', () => {
    const log = new ActivityLog(4);
    activate(log, { first: 0, last: 1 });
    log.release(1, 1);
    assert.equal(log.release(0, 1), RELEASE_NOT_HELD);
    assert.equal(log.referencesOf(0), 1);
    assert.equal(log.release(7, 7), RELEASE_NOT_HELD);
  });

  it('needs no plan when the extents are already active', () => {
    const log = new ActivityLog(2);
    activate(log, one(5));
    assert.equal(log.plan([one(5)]), null);
  });

  it('fills free slots first, then retires the least recently used idle extent', () => {
    const log = new ActivityLog(3);
    activate(log, one(10), one(11), one(12));
    log.release(10, 10);
    log.release(11, 11);
    log.release(12, 12);
    // use order now: 10, 11, 12; touch 10 again so 11 is the least recently used
    assert.ok(log.tryAcquire(10, 10));
    log.release(10, 10);
    assert.deepEqual(activate(log, one(13)), { added: [13], retired: [11] });
    assert.deepEqual(
      log.recordedExtents().sort((a, b) => a - b),
      [10, 12, 13],
    );
    assert.equal(log.isActive(11), false);
  });

  it('never retires an extent with writes in flight; waits (no plan) when every extent is busy', () => {
    const log = new ActivityLog(2);
    activate(log, one(1), one(2));
    assert.equal(log.plan([one(3)]), null);
    log.release(2, 2);
    const plan = log.plan([one(3)]);
    assert.deepEqual(plan, { added: [3], retired: [2] });
  });

  it('does not retire an extent that a request admitted in the same plan needs', () => {
    const log = new ActivityLog(3);
    activate(log, one(1), one(2), one(3));
    for (const e of [1, 2, 3]) log.release(e, e);
    // 1 is the least recently used, but the request needs it along with the new extent 4
    const plan = log.plan([{ first: 1, last: 1 }, one(4)]);
    assert.deepEqual(plan, { added: [4], retired: [2] });
  });

  it('admits requests in order and stops at the first that does not fit', () => {
    const log = new ActivityLog(3);
    activate(log, one(0));
    const plan = log.plan([{ first: 10, last: 12 }, one(20)]);
    assert.equal(plan, null, 'a wide request is not overtaken by a narrow one that would fit');
    log.release(0, 0);
    assert.deepEqual(log.plan([{ first: 10, last: 12 }, one(20)]), { added: [10, 11, 12], retired: [0] });
  });

  it('keeps its invariants under random activations and releases (property)', () => {
    const step = fc.oneof(
      fc
        .array(
          fc
            .tuple(fc.nat({ max: 15 }), fc.nat({ max: 2 }))
            .map(([first, span]) => ({ first, last: first + span })),
          { minLength: 1, maxLength: 4 },
        )
        .map((requests) => ({ kind: 'activate' as const, requests })),
      fc.nat({ max: 50 }).map((pick) => ({ kind: 'release' as const, pick })),
    );
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 6 }), fc.array(step, { maxLength: 60 }), (capacity, steps) => {
        const log = new ActivityLog(capacity);
        const held: ExtentRange[] = [];
        const references = new Map<number, number>();
        for (const s of steps) {
          if (s.kind === 'release') {
            const range = held.splice(s.pick % Math.max(1, held.length), 1)[0];
            if (range === undefined) continue;
            log.release(range.first, range.last);
            for (let e = range.first; e <= range.last; e++) references.set(e, (references.get(e) ?? 1) - 1);
            continue;
          }
          const plan = log.plan(s.requests);
          for (const extent of plan?.retired ?? []) {
            assert.equal(references.get(extent) ?? 0, 0, `retired extent ${extent} had writes in flight`);
          }
          assert.ok(log.recordedExtents().length <= capacity);
          if (plan !== null) log.commit(plan);
          for (const r of s.requests) {
            if (!log.tryAcquire(r.first, r.last)) continue;
            held.push(r);
            for (let e = r.first; e <= r.last; e++) references.set(e, (references.get(e) ?? 0) + 1);
          }
          for (const [extent, count] of references) {
            if (count > 0) assert.ok(log.isActive(extent), `extent ${extent} in use but not active`);
            assert.equal(log.referencesOf(extent), count);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('clears only when nothing is in flight', () => {
    const log = new ActivityLog(2);
    activate(log, one(1));
    assert.throws(() => log.clear(), RangeError);
    log.release(1, 1);
    log.clear();
    assert.deepEqual(log.recordedExtents(), []);
    assert.equal(log.isActive(1), false);
  });
});
