import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayGuard } from '../../../../src/ha/heartbeat/replay-guard.js';
import { ClockEstimator, JitterWindow, clockSample, percentile } from '../../../../src/ha/heartbeat/stats.js';

describe('replay guard', () => {
  it('accepts only newer seqs from the same boot', () => {
    const guard = new ReplayGuard();
    assert.equal(guard.check('a', 5, 1000, 0), 'accept');
    assert.equal(guard.check('a', 5, 1000, 1), 'replayed');
    assert.equal(guard.check('a', 4, 900, 2), 'replayed');
    assert.equal(guard.check('a', 9, 1100, 3), 'accept', 'gaps (lost datagrams) are fine');
    assert.equal(guard.check('a', 6, 1050, 4), 'replayed', 'late arrivals after a newer one are dropped');
  });

  it('lets a restarted sender begin again but never goes back to an earlier boot', () => {
    const guard = new ReplayGuard();
    guard.check('a', 100, 5000, 0);
    assert.equal(guard.check('b', 1, 6000, 10), 'restart');
    assert.equal(guard.check('b', 2, 6500, 20), 'accept');
    assert.equal(guard.check('a', 101, 5500, 30), 'old-boot', 'a recorded datagram from the old boot');
    assert.equal(guard.check('b', 3, 7000, 40), 'accept', 'the current window is untouched by the refusal');
  });

  it('refuses a boot never seen before whose datagram is older than what was accepted', () => {
    const guard = new ReplayGuard(1000);
    guard.check('a', 50, 5000, 0);
    assert.equal(guard.check('x', 7, 4000, 10), 'stale-boot', 'a recording from a boot we never saw');
    assert.equal(guard.check('a', 51, 5100, 20), 'accept', 'the live boot goes on');
    // The peer restarted with its clock stepped back: refused until the old boot has been silent a while.
    assert.equal(guard.check('b', 1, 3000, 500), 'stale-boot');
    assert.equal(guard.check('b', 2, 3100, 1100), 'restart');
  });
});

describe('heartbeat statistics', () => {
  it('computes nearest-rank percentiles', () => {
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 99), 4);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 99), 99);
  });

  it('measures jitter as the deviation from the interval over a sliding window', () => {
    const jitter = new JitterWindow(100, 3);
    for (const at of [0, 100, 205, 300, 420]) jitter.arrival(at);
    // deviations: 0, 5, 5, 20; the window keeps the last three
    assert.deepEqual(jitter.stats(), { samples: 3, p50: 5, p99: 20, max: 20 });
    jitter.reset();
    jitter.arrival(5000);
    assert.equal(jitter.stats().samples, 3, 'the gap across a reset is not a sample');
  });

  it('estimates offset and RTT NTP-style and prefers the lowest-RTT sample', () => {
    // Peer clock 1000 ms ahead; 10 ms each way; peer held it 50 ms.
    const sample = clockSample(0, 1000 + 10 + 50, 50, 70);
    assert.equal(sample.roundTripMs, 20);
    assert.equal(sample.offsetMs, 1000);
    // Asymmetric path: 30 ms out, 10 ms back → offset error of half the asymmetry.
    const skewed = clockSample(0, 1000 + 30 + 50, 50, 90);
    assert.equal(skewed.roundTripMs, 40);
    assert.equal(skewed.offsetMs, 1010);
    const estimator = new ClockEstimator(4);
    assert.equal(estimator.offsetMs, null);
    estimator.add(skewed);
    estimator.add(sample);
    estimator.add(skewed);
    assert.equal(estimator.offsetMs, 1000, 'lowest RTT wins');
    assert.equal(estimator.rttMs, 40, 'RTT is the latest');
  });
});
