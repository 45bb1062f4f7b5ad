import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicationStateError } from '../../../../src/replication/state/errors.js';
import {
  RESYNC_RATE_DEFAULTS,
  ResyncRateController,
  type ResyncRateOptions,
} from '../../../../src/replication/state/rate-controller.js';
import { SlidingWindowSum } from '../../../../src/replication/state/sliding-window.js';
import { TokenBucket } from '../../../../src/replication/state/token-bucket.js';
import { simulate, type PeerConditions } from './resync-simulator.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const FAST_PEER: PeerConditions = { propagationMs: 1, serviceBytesPerSecond: 1000 * MiB };

const within = (actual: number, expected: number, tolerance: number, what: string): void => {
  assert.ok(
    Math.abs(actual - expected) <= expected * tolerance,
    `${what}: ${(actual / MiB).toFixed(3)} MiB/s, expected ${(expected / MiB).toFixed(3)} MiB/s ± ${tolerance * 100}%`,
  );
};

describe('token bucket and sliding window', () => {
  it('the bucket refills at its rate up to its capacity, and debt is repaid first', () => {
    const bucket = new TokenBucket(1000, 100);
    assert.equal(bucket.available(0), 100);
    bucket.spend(0, 300);
    assert.equal(bucket.available(0), -200);
    assert.equal(bucket.available(250), 50);
    assert.equal(bucket.available(10_000), 100, 'capped at capacity');
    assert.equal(bucket.available(5_000), 100, 'a clock stepping back adds nothing');
    const bounded = new TokenBucket(1000, 100, 100);
    bounded.spend(0, 1000);
    assert.equal(bounded.available(0), -100, 'debt bounded');
  });

  it('the window sums the last period, and rates over the time since the start until it is full', () => {
    const window = new SlidingWindowSum(1000);
    window.begin(0);
    window.add(100, 500);
    window.add(450, 500);
    assert.equal(window.total(500), 1000);
    assert.equal(window.perSecond(500), 2000, '1000 bytes in the first 500 ms');
    // Whole 100 ms slots: the window ending at 1300 starts with the slot 400-499.
    assert.equal(window.total(1300), 500, 'the first sample has left the window');
    assert.equal(window.total(1450), 0, 'and so has the second');
    assert.equal(window.total(5000), 0);
  });
});

describe('resync rate controller: fixed mode', () => {
  for (const [rate, requestBytes] of [
    [50 * MiB, 64 * KiB],
    [3 * MiB, 64 * KiB],
    // Requests larger than the 100 ms burst still average out to the rate (debt).
    [1 * MiB, 256 * KiB],
  ] as const) {
    it(`converges to ${rate / MiB} MiB/s within 5% with ${requestBytes / KiB} KiB requests`, () => {
      const controller = new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: rate });
      const result = simulate(controller, { durationMs: 10_000, requestBytes, peer: () => FAST_PEER });
      const end = result.startMs + 10_000;
      within(result.ackedRate(result.startMs + 2000, end), rate, 0.05, 'acknowledged rate');
      // The 2 s status window sees whole requests: allow one request's worth more.
      within(
        controller.rateBytesPerSecond(end),
        rate,
        0.05 + requestBytes / (2 * rate),
        'measured rate (status)',
      );
    });
  }

  it('bursts at most about 100 ms of its rate', () => {
    const rate = 20 * MiB;
    const requestBytes = 64 * KiB;
    const controller = new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: rate });
    const result = simulate(controller, { durationMs: 3000, requestBytes, peer: () => FAST_PEER });
    const worst = result.maxSentWithin(100, result.startMs, result.startMs + 3000);
    // A full bucket (100 ms) plus what flows in during the 100 ms, plus one request's overshoot.
    assert.ok(worst <= rate * 0.2 + requestBytes, `${worst} bytes in 100 ms`);
    const steady = result.maxSentWithin(100, result.startMs + 1000, result.startMs + 3000);
    assert.ok(steady <= rate * 0.1 + 2 * requestBytes, `${steady} bytes in 100 ms once steady`);
  });

  it('works from any clock origin', () => {
    const controller = new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: 10 * MiB });
    const result = simulate(controller, {
      durationMs: 5000,
      requestBytes: 64 * KiB,
      peer: () => FAST_PEER,
      startMs: 7e12,
    });
    within(result.ackedRate(7e12 + 1000, 7e12 + 5000), 10 * MiB, 0.05, 'acknowledged rate');
  });
});

describe('resync rate controller: dynamic mode', () => {
  const options: ResyncRateOptions = {
    mode: 'dynamic',
    maxRateBytesPerSecond: 100 * MiB,
    minRateBytesPerSecond: 1 * MiB,
    delayTargetMs: 20,
  };
  const requestBytes = 64 * KiB;

  it('takes the cap on an idle link, backs off as latency grows, and recovers', () => {
    const controller = new ResyncRateController(options);
    const startMs = 1000;
    // 0-10 s idle; 10-20 s the application takes most of the peer's disk; 20-30 s everything is
    // 100 ms slower than the delay target; 30-40 s idle again.
    const peer = (now: number): PeerConditions => {
      const t = now - startMs;
      if (t < 10_000 || t >= 30_000) return FAST_PEER;
      if (t < 20_000) return { propagationMs: 1, serviceBytesPerSecond: 20 * MiB };
      return { propagationMs: 100, serviceBytesPerSecond: 1000 * MiB };
    };
    const result = simulate(controller, { durationMs: 40_000, requestBytes, peer, startMs });
    const at = (s: number): number => startMs + s * 1000;

    const idle = result.ackedRate(at(3), at(10));
    assert.ok(idle >= 90 * MiB, `idle: ${idle / MiB} MiB/s`);

    const contended = result.ackedRate(at(12), at(20));
    assert.ok(contended <= 20 * MiB * 1.01, `contended: ${contended / MiB} MiB/s`);
    assert.ok(contended >= 15 * MiB, `contended: ${contended / MiB} MiB/s`);
    const latency = result.meanLatency(at(12), at(20));
    assert.ok(latency <= 2 * 20, `contended latency ${latency} ms, target 20 ms`);

    const slow = result.ackedRate(at(22), at(30));
    assert.ok(slow <= 2 * MiB, `slow: ${slow / MiB} MiB/s`);
    assert.ok(slow >= 0.9 * MiB, `slow: ${slow / MiB} MiB/s, floor 1 MiB/s`);

    const recovered = result.ackedRate(at(33), at(40));
    assert.ok(recovered >= 90 * MiB, `recovered: ${recovered / MiB} MiB/s`);

    // Never above the cap: over any second, at most the cap plus one burst and one request.
    const worstSecond = result.maxSentWithin(1000, startMs, at(40));
    assert.ok(worstSecond <= 100 * MiB * 1.1 + requestBytes, `${worstSecond / MiB} MiB in one second`);
  });

  it('never exceeds a low cap, even with a fast peer', () => {
    const controller = new ResyncRateController({ ...options, maxRateBytesPerSecond: 5 * MiB });
    const result = simulate(controller, { durationMs: 10_000, requestBytes, peer: () => FAST_PEER });
    const rate = result.sentRate(result.startMs + 1000, result.startMs + 10_000);
    assert.ok(rate <= 5 * MiB * 1.01, `${rate / MiB} MiB/s`);
    assert.ok(rate >= 5 * MiB * 0.95, `${rate / MiB} MiB/s`);
  });

  it('backs off for slow application writes even when its own acknowledgements are fast', () => {
    const controller = new ResyncRateController(options);
    const result = simulate(controller, {
      durationMs: 10_000,
      requestBytes,
      peer: () => FAST_PEER,
      applicationLatencyMs: (now) => (now - 1000 >= 5000 ? 80 : 2),
    });
    const before = result.ackedRate(result.startMs + 2000, result.startMs + 5000);
    const after = result.ackedRate(result.startMs + 7000, result.startMs + 10_000);
    assert.ok(before >= 90 * MiB, `before: ${before / MiB} MiB/s`);
    assert.ok(after <= 2 * MiB, `after: ${after / MiB} MiB/s`);
  });

  it('with a fill target keeps that much in flight: throughput follows latency', () => {
    const controller = new ResyncRateController({
      mode: 'dynamic',
      maxRateBytesPerSecond: 100 * MiB,
      minRateBytesPerSecond: 0,
      fillTargetBytes: 1 * MiB,
    });
    const slowLink: PeerConditions = { propagationMs: 50, serviceBytesPerSecond: 1000 * MiB };
    const result = simulate(controller, { durationMs: 5000, requestBytes, peer: () => slowLink });
    // 1 MiB per ~51 ms round trip.
    within(
      result.ackedRate(result.startMs + 1000, result.startMs + 5000),
      (1 * MiB * 1000) / 51,
      0.1,
      'rate',
    );
    assert.equal(controller.plan(result.startMs + 5000)?.windowBytes, 1 * MiB);
  });

  it('keeps the idle window in flight while no application I/O comes, the busy one otherwise', () => {
    const controller = new ResyncRateController({
      mode: 'dynamic',
      maxRateBytesPerSecond: 1000 * MiB,
      minRateBytesPerSecond: 0,
      fillTargetBytes: 1 * MiB,
      idleFillTargetBytes: 8 * MiB,
      idleAfterMs: 200,
    });
    const t0 = 10_000;
    assert.equal(controller.idle(t0), true);
    assert.ok(controller.allowance(t0, 4 * MiB) >= 4 * MiB, 'idle: room up to 8 MiB');
    assert.equal(controller.allowance(t0, 8 * MiB), 0);
    assert.equal(controller.plan(t0)?.windowBytes, 8 * MiB);
    controller.noteApplicationIo(t0 + 10);
    assert.equal(controller.idle(t0 + 20), false);
    assert.equal(controller.allowance(t0 + 20, 1 * MiB), 0, 'busy: 1 MiB in flight is the window');
    assert.ok(controller.allowance(t0 + 20, 512 * KiB) > 0);
    assert.equal(controller.plan(t0 + 20)?.windowBytes, 1 * MiB);
    // 200 ms after the last application I/O the volume is idle again.
    assert.equal(controller.idle(t0 + 209), false);
    assert.equal(controller.idle(t0 + 210), true);
    assert.ok(controller.allowance(t0 + 300, 4 * MiB) > 0);
  });

  it('on an idle volume throughput follows the idle window, still under the cap', () => {
    const slowLink: PeerConditions = { propagationMs: 50, serviceBytesPerSecond: 1000 * MiB };
    const idle = new ResyncRateController({
      mode: 'dynamic',
      maxRateBytesPerSecond: 1000 * MiB,
      minRateBytesPerSecond: 0,
      fillTargetBytes: 1 * MiB,
      idleFillTargetBytes: 4 * MiB,
    });
    const result = simulate(idle, { durationMs: 5000, requestBytes, peer: () => slowLink });
    within(
      result.ackedRate(result.startMs + 1000, result.startMs + 5000),
      (4 * MiB * 1000) / 51,
      0.15,
      'idle rate',
    );
    const capped = new ResyncRateController({
      mode: 'dynamic',
      maxRateBytesPerSecond: 20 * MiB,
      minRateBytesPerSecond: 0,
      fillTargetBytes: 1 * MiB,
      idleFillTargetBytes: 64 * MiB,
    });
    const fast = simulate(capped, { durationMs: 5000, requestBytes, peer: () => FAST_PEER });
    assert.ok(fast.ackedRate(fast.startMs + 1000, fast.startMs + 5000) <= 20 * MiB * 1.05);
  });

  it('stops feeding a peer that acknowledges nothing once the largest window is in flight', () => {
    const controller = new ResyncRateController(options);
    const limit = (100 * MiB * 20) / 1000;
    assert.equal(controller.allowance(0, limit), 0);
    assert.ok(controller.allowance(0, 0) > 0);
  });
});

describe('resync rate controller: ETA and inputs', () => {
  it('estimates from the configured rate first, then from the measured one', () => {
    const controller = new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: 10 * MiB });
    assert.equal(controller.etaSeconds(100 * MiB, 0), 10);
    assert.equal(controller.etaSeconds(0, 0), 0);
    controller.record(100, 2 * MiB, 5);
    controller.record(1000, 2 * MiB, 5);
    // 4 MiB over the first second: 4 MiB/s.
    assert.equal(controller.etaSeconds(40 * MiB, 1000), 10);
  });

  it('a dynamic controller cannot tell before it measured anything', () => {
    const controller = new ResyncRateController({ mode: 'dynamic', maxRateBytesPerSecond: MiB });
    assert.equal(controller.etaSeconds(MiB, 0), undefined);
    // It starts at the floor (DRBD's default c-min-rate) and works its way up.
    assert.equal(controller.plan(0)?.rateBytesPerSecond, RESYNC_RATE_DEFAULTS.minRateBytesPerSecond);
    assert.equal(new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: MiB }).plan(0), undefined);
  });

  it('the ETA of a simulated resync is close to the time it takes', () => {
    const controller = new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: 8 * MiB });
    const result = simulate(controller, { durationMs: 4000, requestBytes: 64 * KiB, peer: () => FAST_PEER });
    const eta = controller.etaSeconds(80 * MiB, result.startMs + 4000);
    assert.ok(eta !== undefined && Math.abs(eta - 10) <= 0.5, `eta ${eta}`);
  });

  it('rejects impossible options and inputs with a typed error', () => {
    const bad: ResyncRateOptions[] = [
      { mode: 'fixed', rateBytesPerSecond: 0 },
      { mode: 'fixed', rateBytesPerSecond: Number.NaN },
      { mode: 'fixed', rateBytesPerSecond: MiB, burstMs: -1 },
      { mode: 'dynamic', maxRateBytesPerSecond: MiB, minRateBytesPerSecond: 2 * MiB },
      { mode: 'dynamic', maxRateBytesPerSecond: MiB, delayTargetMs: 0 },
      { mode: 'dynamic', maxRateBytesPerSecond: MiB, fillTargetBytes: -5 },
      { mode: 'dynamic', maxRateBytesPerSecond: MiB, fillTargetBytes: 2 * MiB, idleFillTargetBytes: MiB },
      { mode: 'dynamic', maxRateBytesPerSecond: MiB, idleFillTargetBytes: MiB },
    ];
    for (const options of bad) {
      assert.throws(() => new ResyncRateController(options), ReplicationStateError, JSON.stringify(options));
    }
    const controller = new ResyncRateController({ mode: 'fixed', rateBytesPerSecond: MiB });
    assert.throws(() => controller.allowance(0, -1), ReplicationStateError);
    assert.throws(() => controller.sent(0, Number.POSITIVE_INFINITY), ReplicationStateError);
    assert.throws(() => controller.record(0, 10, -3), ReplicationStateError);
    assert.throws(() => controller.etaSeconds(-1, 0), ReplicationStateError);
  });
});
