import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InlineIoPolicy } from '../../../../src/storage/backends/inline-io-policy.js';

const FAST = 5_000; // ns: a page-cache hit
const SLOW = 8_000_000; // ns: a disk read

/** Without a stall budget (burst 0) every slow call backs off; the budget tests set their own. */
function policy(budget: { stallBudgetMsPerSecond?: number; stallBurstMs?: number } = { stallBurstMs: 0 }) {
  const clock = { ms: 0 };
  const inline = new InlineIoPolicy({
    maxLength: 64 * 1024,
    missNanoseconds: 300_000,
    backoffMs: 1000,
    maxBackoffMs: 4000,
    now: () => clock.ms,
    ...budget,
  });
  return { clock, inline };
}

describe('InlineIoPolicy', () => {
  it('reads inline while reads are fast, and never above the length limit', () => {
    const { inline } = policy();
    for (let i = 0; i < 100; i++) {
      assert.equal(inline.inline(4096), true);
      inline.record(FAST);
    }
    assert.equal(inline.inline(64 * 1024), true);
    assert.equal(inline.inline(64 * 1024 + 1), false);
    assert.equal(inline.misses, 0);
  });

  it('backs off after a miss, doubling up to the cap while misses continue', () => {
    const { clock, inline } = policy();
    inline.record(SLOW);
    assert.equal(inline.misses, 1);
    assert.equal(inline.inline(4096), false);
    clock.ms = 999;
    assert.equal(inline.inline(4096), false);
    clock.ms = 1000;
    assert.equal(inline.inline(4096), true);
    inline.record(SLOW); // still cold: 2 s now
    clock.ms = 2999;
    assert.equal(inline.inline(4096), false);
    clock.ms = 3000;
    inline.record(SLOW); // 4 s
    clock.ms = 6999;
    assert.equal(inline.inline(4096), false);
    clock.ms = 7000;
    inline.record(SLOW); // capped at 4 s
    clock.ms = 10_999;
    assert.equal(inline.inline(4096), false);
    clock.ms = 11_000;
    assert.equal(inline.inline(4096), true);
    assert.equal(inline.misses, 4);
  });

  it('starts again from the short back-off once reads have stayed fast for a period', () => {
    const { clock, inline } = policy();
    inline.record(SLOW); // back-off 1 s, next 2 s
    clock.ms = 1000;
    inline.record(SLOW); // back-off 2 s (until 3000), next 4 s
    clock.ms = 3000;
    inline.record(FAST); // fast, but too soon to call the cache warm
    clock.ms = 7000;
    inline.record(FAST); // fast a whole period after the back-off: warm again
    inline.record(SLOW);
    assert.equal(inline.inline(4096), false);
    clock.ms = 8000;
    assert.equal(inline.inline(4096), true, 'the back-off after a warm period is the short one again');
  });

  it('stays inline through occasional short stalls that fit the budget', () => {
    const { clock, inline } = policy({ stallBudgetMsPerSecond: 10, stallBurstMs: 20 });
    // A 400 µs journal wait every 100 ms (4 ms of stall per second) for a minute, fast calls between.
    for (let ms = 0; ms < 60_000; ms += 100) {
      clock.ms = ms;
      assert.equal(inline.inline(4096), true, `inline at ${ms} ms`);
      inline.record(400_000);
      inline.record(FAST);
    }
    assert.equal(inline.misses, 600);
  });

  it('backs off once stalls outrun the budget, and after one disk read', () => {
    const frequent = policy({ stallBudgetMsPerSecond: 10, stallBurstMs: 20 });
    // 400 µs stalls every millisecond: 400 ms of stall a second against 10 ms allowed.
    let backedOffAt = -1;
    for (let ms = 0; ms < 1000 && backedOffAt < 0; ms++) {
      frequent.clock.ms = ms;
      frequent.inline.record(400_000);
      if (!frequent.inline.inline(4096)) backedOffAt = ms;
    }
    assert.ok(backedOffAt >= 0 && backedOffAt < 100, `backed off at ${backedOffAt} ms`);
    frequent.clock.ms = backedOffAt + 999;
    assert.equal(frequent.inline.inline(4096), false);
    frequent.clock.ms = backedOffAt + 1000;
    assert.equal(frequent.inline.inline(4096), true);

    const cold = policy({ stallBudgetMsPerSecond: 10, stallBurstMs: 20 });
    cold.inline.record(SLOW);
    assert.equal(cold.inline.inline(4096), false, 'a call that waited for the disk backs off at once');
  });

  it('lets sub-millisecond stalls spend the budget, and backs off when one reaches a millisecond', () => {
    const { inline } = policy({ stallBudgetMsPerSecond: 10, stallBurstMs: 20 });
    for (let i = 0; i < 20; i++) inline.record(900_000); // 18 ms of 20, all at the same moment
    assert.equal(inline.inline(4096), true);
    inline.record(1_000_000);
    assert.equal(inline.inline(4096), false);
  });
});
