import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../../src/lib/semaphore.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
  it('runs at most `limit` sections at once, in arrival order, and survives failures', async () => {
    const semaphore = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const section = (i: number) => async () => {
      started.push(i);
      active++;
      peak = Math.max(peak, active);
      await tick();
      active--;
      if (i === 3) throw new Error('boom');
      return i;
    };
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5, 6].map((i) => semaphore.run(section(i))));
    assert.equal(peak, 2);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(results[3]?.status, 'rejected');
    assert.deepEqual(
      results.filter((r) => r.status === 'fulfilled').map((r) => r.value),
      [0, 1, 2, 4, 5, 6],
    );
    assert.equal(semaphore.running, 0);
    assert.equal(semaphore.waiting, 0);
  });

  it('refuses a limit below one', () => {
    assert.throws(() => new Semaphore(0), RangeError);
  });
});
