import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RangeLock } from '../../../src/lib/range-lock.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('RangeLock', () => {
  it('overlapping ranges wait, disjoint ones do not', async () => {
    const lock = new RangeLock();
    const first = await lock.acquire(0, 10);
    let overlapping = false;
    let disjoint = false;
    void lock.acquire(5, 15).then(() => (overlapping = true));
    void lock.acquire(15, 20).then(() => (disjoint = true));
    await tick();
    assert.equal(overlapping, false);
    assert.equal(disjoint, true);
    first();
    await tick();
    assert.equal(overlapping, true);
  });

  it('never lets two overlapping holders run at once, and serves them in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 6 })), {
          minLength: 1,
          maxLength: 12,
        }),
        async (ranges) => {
          const lock = new RangeLock();
          const held = new Set<number>();
          const order: number[] = [];
          await Promise.all(
            ranges.map(([start, length], i) =>
              lock.with(start, start + length, async () => {
                for (const j of held) {
                  const [s, l] = ranges[j]!;
                  assert.ok(s + l <= start || start + length <= s, `ranges ${i} and ${j} overlap`);
                }
                held.add(i);
                order.push(i);
                await tick();
                held.delete(i);
              }),
            ),
          );
          // Among overlapping requests, grants follow request order.
          for (let i = 0; i < ranges.length; i++) {
            for (let j = i + 1; j < ranges.length; j++) {
              const [si, li] = ranges[i]!;
              const [sj, lj] = ranges[j]!;
              if (si < sj + lj && sj < si + li) assert.ok(order.indexOf(i) < order.indexOf(j));
            }
          }
          assert.equal(lock.size, 0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
