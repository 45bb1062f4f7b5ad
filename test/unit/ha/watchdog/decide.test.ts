// The virtual IP watchdog's decision (src/ha/watchdog/decide.ts) in virtual time: a simulated daemon
// beats (or dies, or hangs), a simulated watchdog looks when the decision says, and either may be
// stalled. Checks the timing against the failover settings over the whole range they allow.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decide,
  timingFor,
  watchdogTiming,
  type WatchdogAction,
  type WatchdogTiming,
  type WatchdogView,
  type WatchedVip,
} from '../../../../src/ha/watchdog/decide.js';
import { parseToWatchdog, parseWatchedVip } from '../../../../src/ha/watchdog/protocol.js';

const VIP: WatchedVip = {
  address: '198.18.0.100',
  prefixLength: 24,
  broadcast: '198.18.0.255',
  nic: 'data0',
  driver: 'iproute2',
};

interface Scenario {
  readonly timing: WatchdogTiming;
  /** Virtual ms the daemon sends its beats at (sorted). */
  readonly beats: readonly number[];
  /** The daemon's channel closes at this time (it died). */
  readonly diesAt?: number;
  /** The daemon said "stop" at this time. */
  readonly stopsAt?: number;
  /** Intervals in which the watchdog does not run: its looks and its reads wait for the end. */
  readonly stalls?: readonly (readonly [number, number])[];
  readonly until: number;
  readonly vip?: WatchedVip | null;
}

interface Outcome {
  readonly at: number;
  readonly action: WatchdogAction;
  readonly looks: number;
  readonly stalledLooks: number;
}

/** Runs the watchdog's loop in virtual time; resolves at its first action other than wait (or at
 * `until`, with a wait). Delayed work runs at the end of a stall: the overdue look first (timers run
 * before I/O), then the beats that arrived meanwhile, the worst order for a healthy daemon. */
function simulate(s: Scenario): Outcome {
  const stalls = s.stalls ?? [];
  const runsAt = (t: number): number => {
    for (const [from, to] of stalls) if (t >= from && t < to) return to;
    return t;
  };
  let view: WatchdogView = {
    daemon: 'beating',
    lastBeatAt: 0,
    lastCheckAt: 0,
    vip: s.vip === undefined ? VIP : s.vip,
  };
  let nextLook = 0;
  let looks = 0;
  let stalledLooks = 0;
  let beat = 0;
  for (;;) {
    const lookAt = runsAt(nextLook);
    // Beats and the channel's end reach the watchdog when it runs, after a look due at that time.
    while (beat < s.beats.length && runsAt(s.beats[beat]!) < lookAt) {
      view = { ...view, lastBeatAt: runsAt(s.beats[beat]!) };
      beat++;
    }
    if (s.diesAt !== undefined && runsAt(s.diesAt) < lookAt && view.daemon === 'beating') {
      const at = runsAt(s.diesAt);
      view = { ...view, daemon: 'gone' };
      const step = decide(view, at, s.timing);
      return { at, action: step.action, looks, stalledLooks };
    }
    if (s.stopsAt !== undefined && runsAt(s.stopsAt) < lookAt) {
      const at = runsAt(s.stopsAt);
      view = { ...view, daemon: 'stopped' };
      return { at, action: decide(view, at, s.timing).action, looks, stalledLooks };
    }
    if (lookAt > s.until) return { at: s.until, action: { kind: 'wait', checkInMs: 0 }, looks, stalledLooks };
    const step = decide(view, lookAt, s.timing);
    looks++;
    view = step.view;
    if (step.action.kind !== 'wait') return { at: lookAt, action: step.action, looks, stalledLooks };
    if (step.action.stalledMs !== undefined) stalledLooks++;
    assert.ok(step.action.checkInMs >= 1 && step.action.checkInMs <= s.timing.checkEveryMs);
    nextLook = lookAt + step.action.checkInMs;
  }
}

/** Beats every `every` ms from 0 to `until` (exclusive), each late by up to `jitter` (seeded). */
function beatsEvery(every: number, until: number, jitter = 0, seed = 1): number[] {
  const beats: number[] = [];
  let x = seed;
  const random = (): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  // The daemon's timer is re-armed after each beat: lateness adds up, as with setTimeout chains.
  for (let t = every; t < until; t += every + Math.floor(random() * jitter)) beats.push(t);
  return beats;
}

const DEFAULTS = { intervalMs: 500, deadTimeMs: 2500 };

describe('watchdog timing from the failover settings', () => {
  it('defaults: 1500 ms of silence, a beat and a look every 375 ms', () => {
    assert.deepEqual(watchdogTiming(DEFAULTS), {
      allowedSilenceMs: 1500,
      beatEveryMs: 375,
      checkEveryMs: 375,
    });
  });

  it('over every setting the config allows: at least one interval of silence, and one interval left', () => {
    for (const intervalMs of [100, 150, 200, 333, 500, 1000, 2000, 5000, 10_000]) {
      for (const factor of [3, 4, 5, 7, 10, 50, 1000]) {
        const deadTimeMs = Math.min(120_000, factor * intervalMs);
        if (deadTimeMs < 3 * intervalMs) continue;
        const timing = watchdogTiming({ intervalMs, deadTimeMs });
        assert.ok(timing.allowedSilenceMs >= intervalMs, `${intervalMs}/${deadTimeMs}`);
        // The peer may declare this node dead deadTime after a beat heard one interval before the
        // stop; the watchdog's deadline leaves one more interval to kill and remove the address.
        assert.ok(
          timing.allowedSilenceMs + intervalMs <= deadTimeMs - intervalMs,
          `${intervalMs}/${deadTimeMs}`,
        );
        assert.ok(timing.beatEveryMs * 4 <= timing.allowedSilenceMs);
      }
    }
  });

  it('nonsense is clamped, never zero', () => {
    assert.equal(timingFor(0).allowedSilenceMs, 100);
    assert.equal(timingFor(Number.NaN).allowedSilenceMs, 100);
    assert.equal(timingFor(-5).checkEveryMs, 25);
  });
});

describe('watchdog decisions in virtual time', () => {
  const timing = watchdogTiming(DEFAULTS);

  it('a daemon that beats, even late, is left alone for an hour', () => {
    const until = 3_600_000;
    // Beats up to a whole beat interval late each time (750 ms apart at worst, half the silence).
    const outcome = simulate({
      timing,
      beats: beatsEvery(timing.beatEveryMs, until, timing.beatEveryMs),
      until,
    });
    assert.equal(outcome.action.kind, 'wait');
    assert.ok(outcome.looks > until / timing.checkEveryMs - 10, 'it keeps looking');
    assert.equal(outcome.stalledLooks, 0);
  });

  it('a daemon that stops beating: killed and the address removed just after the allowed silence', () => {
    for (const intervalMs of [100, 200, 500, 1000, 3000]) {
      for (const deadTimeMs of [3 * intervalMs, 5 * intervalMs, 12 * intervalMs]) {
        const t = watchdogTiming({ intervalMs, deadTimeMs });
        for (const pauseAt of [10_000, 10_001, 10_000 + t.beatEveryMs / 2, 10_000 + t.beatEveryMs - 1]) {
          const beats = beatsEvery(t.beatEveryMs, pauseAt);
          const lastBeat = beats.at(-1) ?? 0;
          const outcome = simulate({ timing: t, beats, until: pauseAt + 10 * deadTimeMs });
          assert.deepEqual(outcome.action, {
            kind: 'give-up',
            reason: 'daemon-silent',
            kill: true,
            vip: VIP,
            silentMs: t.allowedSilenceMs + 1,
          });
          assert.equal(outcome.at, lastBeat + t.allowedSilenceMs + 1, 'exactly when the silence ran out');
          // In time for the peer: it may take over deadTime - interval after the pause at the earliest.
          assert.ok(outcome.at - pauseAt <= deadTimeMs - intervalMs - (intervalMs - 1));
          assert.ok(outcome.at - pauseAt > t.allowedSilenceMs - t.beatEveryMs);
        }
      }
    }
  });

  it('a daemon that dies: the address goes at once, and the watchdog exits after', () => {
    const beats = beatsEvery(timing.beatEveryMs, 5000);
    const outcome = simulate({ timing, beats, diesAt: 5010, until: 60_000 });
    assert.equal(outcome.at, 5010);
    assert.equal(outcome.action.kind, 'give-up');
    assert.equal(outcome.action.reason, 'daemon-gone');
    assert.deepEqual(outcome.action.vip, VIP);
  });

  it('a daemon that dies holding nothing: nothing to remove, still exits', () => {
    const outcome = simulate({ timing, beats: [], diesAt: 100, until: 60_000, vip: null });
    assert.deepEqual(outcome.action, {
      kind: 'give-up',
      reason: 'daemon-gone',
      kill: true,
      vip: null,
      silentMs: 100,
    });
  });

  it('a clean stop: exit, nothing removed, even with the address on record', () => {
    const beats = beatsEvery(timing.beatEveryMs, 5000);
    const outcome = simulate({ timing, beats, stopsAt: 5000, until: 60_000 });
    assert.deepEqual(outcome.action, { kind: 'exit' });
    // A stop followed by silence (the daemon exits) is still a stop.
    const view: WatchdogView = { daemon: 'stopped', lastBeatAt: 0, lastCheckAt: 0, vip: VIP };
    assert.deepEqual(decide(view, 1_000_000, timing).action, { kind: 'exit' });
  });

  it('the watchdog starved for 5 s while the daemon beats: no false kill (beats read before judging)', () => {
    const beats = beatsEvery(timing.beatEveryMs, 60_000);
    const outcome = simulate({ timing, beats, stalls: [[10_000, 15_000]], until: 60_000 });
    assert.equal(outcome.action.kind, 'wait');
    assert.equal(outcome.stalledLooks, 1);
  });

  it('the whole machine paused for 30 s (daemon and watchdog): the daemon that beats again lives', () => {
    // The daemon's first beat after the pause comes a few ms after the watchdog's overdue look.
    const before = beatsEvery(timing.beatEveryMs, 10_000);
    const after = beatsEvery(timing.beatEveryMs, 30_000).map((t) => t + 40_005 - timing.beatEveryMs);
    const outcome = simulate({
      timing,
      beats: [...before, ...after],
      stalls: [[10_000, 40_000]],
      until: 60_000,
    });
    assert.equal(outcome.action.kind, 'wait');
  });

  it('the daemon paused alone while the watchdog was also stalled: killed within half the silence of the stall end', () => {
    const beats = beatsEvery(timing.beatEveryMs, 10_000);
    const outcome = simulate({ timing, beats, stalls: [[10_000, 20_000]], until: 60_000 });
    assert.equal(outcome.action.kind, 'give-up');
    assert.equal(outcome.action.reason, 'daemon-silent');
    assert.equal(outcome.at, 20_000 + timing.allowedSilenceMs / 2 + 1);
  });

  it('a new, shorter timing applies at the next look', () => {
    const view: WatchdogView = { daemon: 'beating', lastBeatAt: 1000, lastCheckAt: 2000, vip: VIP };
    const long = watchdogTiming({ intervalMs: 1000, deadTimeMs: 10_000 });
    assert.equal(decide(view, 2100, long).action.kind, 'wait');
    const short = timingFor(1000);
    assert.equal(decide(view, 2100, short).action.kind, 'give-up');
  });

  it('never waits past the deadline', () => {
    const view: WatchdogView = { daemon: 'beating', lastBeatAt: 1000, lastCheckAt: 2400, vip: null };
    const step = decide(view, 2450, timing);
    assert.deepEqual(step.action, { kind: 'wait', checkInMs: 51 });
    assert.equal(step.view.lastCheckAt, 2450);
  });
});

describe('watchdog messages', () => {
  it('accepts what the daemon sends', () => {
    assert.deepEqual(parseToWatchdog({ type: 'beat' }), { type: 'beat' });
    assert.deepEqual(parseToWatchdog({ type: 'vip', seq: 3, vip: VIP }), { type: 'vip', seq: 3, vip: VIP });
    assert.deepEqual(parseToWatchdog({ type: 'vip', seq: 4, vip: null }), { type: 'vip', seq: 4, vip: null });
    assert.deepEqual(parseToWatchdog({ type: 'stop', seq: 5 }), { type: 'stop', seq: 5 });
    assert.deepEqual(parseToWatchdog({ type: 'timing', allowedSilenceMs: 900 }), {
      type: 'timing',
      allowedSilenceMs: 900,
    });
    assert.deepEqual(parseWatchedVip({ ...VIP, port: 3260, extra: 'ignored' }), { ...VIP, port: 3260 });
  });

  it('refuses anything that could become a wrong `ip` argument', () => {
    for (const vip of [
      { ...VIP, nic: '-all' },
      { ...VIP, nic: 'a/b' },
      { ...VIP, nic: 'much-too-long-nic-name' },
      { ...VIP, address: '198.18.0.100 dev lo' },
      { ...VIP, address: '300.1.1.1' },
      { ...VIP, prefixLength: 33 },
      { ...VIP, broadcast: 'x' },
      { ...VIP, driver: 'other' },
      { ...VIP, port: 70_000 },
      'text',
    ]) {
      assert.equal(parseWatchedVip(vip), undefined, JSON.stringify(vip));
      assert.equal(parseToWatchdog({ type: 'vip', seq: 1, vip }), undefined);
    }
    assert.equal(parseToWatchdog({ type: 'timing', allowedSilenceMs: 0 }), undefined);
    assert.equal(parseToWatchdog({ type: 'stop' }), undefined);
    assert.equal(parseToWatchdog(null), undefined);
    assert.equal(parseToWatchdog({ type: 'rm -rf' }), undefined);
  });
});
