// What the virtual IP watchdog does, as a pure function of what it has seen and the time now
// (monotonic milliseconds of the watchdog's own clock; never wall time). The watchdog process
// (main.ts) feeds it and carries out its answer; the unit tests drive it with virtual time.
//
// Timing. The peer declares this node dead `deadTimeMs` after the last heartbeat it heard, and that
// beat may be up to one heartbeat interval older than the moment the daemon stopped. So the address
// must be gone within `deadTimeMs - intervalMs` of a stop, before the peer's duplicate-address probe.
// The watchdog allows the daemon's main loop `deadTimeMs - 2 * intervalMs` of silence (at least one
// interval, since the dead time is at least three), which leaves one heartbeat interval to kill the
// daemon and run `ip addr del`. The daemon beats four times per allowed silence, so one late beat is
// no alarm; the watchdog looks at least as often, and exactly when the silence runs out.
import type { VirtualIp, VirtualIpDriverKind } from '../vip/types.js';

/** The virtual IP the daemon holds (or is about to take), with the driver that put it there. */
export interface WatchedVip extends VirtualIp {
  readonly driver: VirtualIpDriverKind;
}

export interface WatchdogTiming {
  /** Longest silence of the daemon's main loop the watchdog tolerates. */
  readonly allowedSilenceMs: number;
  /** How often the daemon beats (a quarter of the allowed silence). */
  readonly beatEveryMs: number;
  /** How often the watchdog looks at least (also a quarter). */
  readonly checkEveryMs: number;
}

/** The failover settings the timing comes from (failover/config.ts). */
export interface FailoverTimers {
  readonly intervalMs: number;
  readonly deadTimeMs: number;
}

/** Never below this, whatever the settings (a guard against nonsense, not a tuning knob). */
const MIN_SILENCE_MS = 100;

export function watchdogTiming(timers: FailoverTimers): WatchdogTiming {
  const allowedSilenceMs = Math.max(
    MIN_SILENCE_MS,
    timers.intervalMs,
    Math.floor(timers.deadTimeMs - 2 * timers.intervalMs),
  );
  return timingFor(allowedSilenceMs);
}

/** The timing for an allowed silence given directly (the watchdog is told only this number). */
export function timingFor(allowedSilenceMs: number): WatchdogTiming {
  const silence = Number.isFinite(allowedSilenceMs)
    ? Math.max(MIN_SILENCE_MS, Math.floor(allowedSilenceMs))
    : MIN_SILENCE_MS;
  const quarter = Math.max(1, Math.floor(silence / 4));
  return { allowedSilenceMs: silence, beatEveryMs: quarter, checkEveryMs: quarter };
}

export interface WatchdogView {
  /** `beating`: the channel is open; `gone`: it closed without a stop (the daemon died);
   * `stopped`: the daemon said it is shutting down cleanly (it releases the address itself). */
  readonly daemon: 'beating' | 'gone' | 'stopped';
  /** When the last beat arrived (or the watchdog started). */
  readonly lastBeatAt: number;
  /** When the watchdog last looked (by this function). */
  readonly lastCheckAt: number;
  /** What the daemon said it holds, or null. */
  readonly vip: WatchedVip | null;
}

export type WatchdogAction =
  /** All well: look again in `checkInMs`. `stalledMs`: this process itself did not run for that long
   * (starved, or paused with the whole machine); the daemon was given a grace to beat again. */
  | { readonly kind: 'wait'; readonly checkInMs: number; readonly stalledMs?: number }
  /** Clean shutdown: leave everything as it is and exit. */
  | { readonly kind: 'exit' }
  /** Remove the address (if any), SIGKILL the daemon if it still runs (`kill`), log, exit. */
  | {
      readonly kind: 'give-up';
      readonly reason: 'daemon-gone' | 'daemon-silent';
      readonly kill: boolean;
      readonly vip: WatchedVip | null;
      readonly silentMs: number;
    };

export interface WatchdogStep {
  readonly view: WatchdogView;
  readonly action: WatchdogAction;
}

/**
 * One look: the next view (keep it) and what to do. A look that comes far later than it was due
 * means the watchdog itself did not run (a starved process, or the whole machine paused): the silence
 * it sees is then its own as much as the daemon's, and beats may still sit unread in the pipe. The
 * daemon then gets half the allowed silence from now to beat again; a daemon paused alone (the
 * watchdog running) gets no grace.
 */
export function decide(view: WatchdogView, now: number, timing: WatchdogTiming): WatchdogStep {
  const checked = { ...view, lastCheckAt: now };
  if (view.daemon === 'stopped') return { view: checked, action: { kind: 'exit' } };
  if (view.daemon === 'gone') {
    // The channel closes when the process dies. A daemon that closed it without saying "stop" but
    // still runs is not to be trusted with the address either: killed too (only if it is still there).
    const silentMs = Math.max(0, now - view.lastBeatAt);
    return {
      view: checked,
      action: { kind: 'give-up', reason: 'daemon-gone', kill: true, vip: view.vip, silentMs },
    };
  }
  // Looks are due at least every checkEveryMs; one more than that late is a stall of this process.
  const lateMs = now - view.lastCheckAt - timing.checkEveryMs;
  if (lateMs > timing.checkEveryMs) {
    const graceMs = Math.floor(timing.allowedSilenceMs / 2);
    const lastBeatAt = Math.max(view.lastBeatAt, now - timing.allowedSilenceMs + graceMs);
    const next = { ...checked, lastBeatAt };
    return { view: next, action: { ...wait(next, now, timing), stalledMs: now - view.lastCheckAt } };
  }
  const silentMs = Math.max(0, now - view.lastBeatAt);
  if (silentMs > timing.allowedSilenceMs) {
    return {
      view: checked,
      action: { kind: 'give-up', reason: 'daemon-silent', kill: true, vip: view.vip, silentMs },
    };
  }
  return { view: checked, action: wait(view, now, timing) };
}

/** The next look: exactly when the silence would run out (+1: "more than allowed"), or the regular one. */
function wait(view: WatchdogView, now: number, timing: WatchdogTiming): { kind: 'wait'; checkInMs: number } {
  const untilDeadline = timing.allowedSilenceMs - Math.max(0, now - view.lastBeatAt) + 1;
  return { kind: 'wait', checkInMs: Math.max(1, Math.min(timing.checkEveryMs, untilDeadline)) };
}
