import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RangeLock } from '../../../../src/scsi/lu/range-lock.js';
import { UnitAttentions } from '../../../../src/scsi/lu/unit-attention.js';

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

describe('UnitAttentions', () => {
  const cases: { name: string; steps: (ua: UnitAttentions) => void; expect: string[] }[] = [
    {
      name: 'a new nexus starts with POWER ON',
      steps: (ua) => ua.see('n'),
      expect: ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'],
    },
    {
      name: 'conditions queue oldest first, without duplicates',
      steps: (ua) => {
        ua.see('n');
        ua.take('n');
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
        ua.establish('n', 'CAPACITY_DATA_HAS_CHANGED');
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
      },
      expect: ['MODE_PARAMETERS_CHANGED', 'CAPACITY_DATA_HAS_CHANGED'],
    },
    {
      name: 'a reset replaces what was queued',
      steps: (ua) => {
        ua.see('n');
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
        ua.establish('n', 'BUS_DEVICE_RESET_FUNCTION_OCCURRED');
      },
      expect: ['BUS_DEVICE_RESET_FUNCTION_OCCURRED'],
    },
    {
      name: 'an unseen nexus gets nothing but its POWER ON later',
      steps: (ua) => {
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
        ua.see('n');
      },
      expect: ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'],
    },
    {
      name: 'a forgotten nexus is new again',
      steps: (ua) => {
        ua.see('n');
        ua.take('n');
        ua.forget('n');
        ua.see('n');
      },
      expect: ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ua = new UnitAttentions();
      c.steps(ua);
      assert.deepEqual([...ua.pending('n')], c.expect);
    });
  }
});
