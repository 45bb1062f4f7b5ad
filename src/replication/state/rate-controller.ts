// How fast the sync source may send resync data. Two modes, after DRBD's resync rate settings:
//
// - fixed: a steady rate (DRBD's resync-rate), a token bucket holding at most `burstMs` of it.
// - dynamic: DRBD's idea of a plan-ahead controller (c-plan-ahead, c-delay-target, c-fill-target,
//   c-min-rate, c-max-rate): keep acknowledgement latency at a target (or a fixed amount in flight), so
//   the resync backs off when application I/O slows the link or the peer's disk down; never below
//   `minRateBytesPerSecond` (resync keeps making progress) nor above `maxRateBytesPerSecond`.
//   With a fill target it may keep a larger amount in flight while the volume has no application
//   I/O (DRBD's c-min-rate idea turned around: back off only when there is someone to make room for).
//
// Pure: the caller passes its monotonic clock in every call, tells the controller what it sent and
// what was acknowledged, and asks how much more it may send now.
import { ReplicationStateError } from './errors.js';
import { DynamicPlan, type Plan } from './dynamic-plan.js';
import { SlidingWindowSum } from './sliding-window.js';
import { TokenBucket } from './token-bucket.js';

export interface FixedRateOptions {
  readonly mode: 'fixed';
  readonly rateBytesPerSecond: number;
  /** The largest burst, as time at the rate; default 100 ms. */
  readonly burstMs?: number;
  /** The window the measured rate is averaged over; default 2 s. */
  readonly measureWindowMs?: number;
}

export interface DynamicRateOptions {
  readonly mode: 'dynamic';
  /** The cap, never exceeded over any period longer than one burst. */
  readonly maxRateBytesPerSecond: number;
  /** The floor the resync is never throttled below; default 250 KiB/s (DRBD's c-min-rate). */
  readonly minRateBytesPerSecond?: number;
  /**
   * The acknowledgement latency to aim for, ms; default 20. It must be above the link's idle round
   * trip plus the peer's write time, or the resync runs at the floor.
   */
  readonly delayTargetMs?: number;
  /** Keep this many bytes in flight instead of aiming for a latency (DRBD's c-fill-target). */
  readonly fillTargetBytes?: number;
  /**
   * With a fill target: keep this many bytes in flight instead while no application I/O was seen for
   * `idleAfterMs` (see noteApplicationIo), so a resync of an idle volume runs at what the link and the
   * peer take, up to the cap, rather than at what is polite beside application writes.
   */
  readonly idleFillTargetBytes?: number;
  /** How long after the last application I/O the volume counts as idle; default 200 ms. */
  readonly idleAfterMs?: number;
  /** How far ahead growth is planned: a shortfall is made up over this long; default 2 s (DRBD's). */
  readonly planAheadMs?: number;
  readonly burstMs?: number;
  readonly measureWindowMs?: number;
}

export type ResyncRateOptions = FixedRateOptions | DynamicRateOptions;

export const RESYNC_RATE_DEFAULTS = {
  burstMs: 100,
  measureWindowMs: 2000,
  minRateBytesPerSecond: 250 * 1024,
  delayTargetMs: 20,
  planAheadMs: 2000,
  /** How often the dynamic controller re-plans. */
  stepMs: 100,
  idleAfterMs: 200,
  /** The smallest window: one 4 KiB block, so a resync is never stalled by the window alone. */
  minWindowBytes: 4096,
} as const;

interface DynamicParts {
  readonly plan: DynamicPlan;
  /** The window while the volume is idle (undefined: the same as busy). */
  readonly idleWindowBytes: number | undefined;
  readonly idleAfterMs: number;
  /** Sends at the planned rate. */
  readonly planned: TokenBucket;
  /** The floor's guarantee; its debt is bounded, so a fast past buys no slow future. */
  readonly floor: TokenBucket;
  readonly burstMs: number;
}

export class ResyncRateController {
  readonly mode: 'fixed' | 'dynamic';
  /** The rate cap (fixed: the rate itself). */
  private readonly cap: TokenBucket;
  private readonly dynamic: DynamicParts | undefined;
  private readonly acked: SlidingWindowSum;
  private readonly fixedRate: number | undefined;
  private lastApplicationIoMs = Number.NEGATIVE_INFINITY;

  constructor(options: ResyncRateOptions) {
    this.mode = options.mode;
    const burstMs = positive(options.burstMs ?? RESYNC_RATE_DEFAULTS.burstMs, 'burstMs');
    this.acked = new SlidingWindowSum(
      positive(options.measureWindowMs ?? RESYNC_RATE_DEFAULTS.measureWindowMs, 'measureWindowMs'),
    );
    if (options.mode === 'fixed') {
      const rate = positive(options.rateBytesPerSecond, 'rateBytesPerSecond');
      this.fixedRate = rate;
      this.cap = new TokenBucket(rate, (rate * burstMs) / 1000);
      this.dynamic = undefined;
      return;
    }
    const maxRate = positive(options.maxRateBytesPerSecond, 'maxRateBytesPerSecond');
    const minRate = nonNegative(
      options.minRateBytesPerSecond ?? RESYNC_RATE_DEFAULTS.minRateBytesPerSecond,
      'minRateBytesPerSecond',
    );
    if (minRate > maxRate) {
      throw optionsError(`minRateBytesPerSecond (${minRate}) is above maxRateBytesPerSecond (${maxRate})`);
    }
    const delayTargetMs = positive(
      options.delayTargetMs ?? RESYNC_RATE_DEFAULTS.delayTargetMs,
      'delayTargetMs',
    );
    const fillTargetBytes =
      options.fillTargetBytes === undefined
        ? undefined
        : positive(options.fillTargetBytes, 'fillTargetBytes');
    this.cap = new TokenBucket(maxRate, (maxRate * burstMs) / 1000);
    const plan = new DynamicPlan({
      delayTargetMs,
      fillTargetBytes,
      minRate,
      maxRate,
      minWindowBytes: RESYNC_RATE_DEFAULTS.minWindowBytes,
      stepMs: RESYNC_RATE_DEFAULTS.stepMs,
      planAheadMs: positive(options.planAheadMs ?? RESYNC_RATE_DEFAULTS.planAheadMs, 'planAheadMs'),
    });
    const floorCapacity = (minRate * burstMs) / 1000;
    const idleWindowBytes =
      options.idleFillTargetBytes === undefined
        ? undefined
        : positive(options.idleFillTargetBytes, 'idleFillTargetBytes');
    if (
      idleWindowBytes !== undefined &&
      (fillTargetBytes === undefined || idleWindowBytes < fillTargetBytes)
    ) {
      throw optionsError('idleFillTargetBytes needs a fillTargetBytes no larger than it');
    }
    this.dynamic = {
      plan,
      idleWindowBytes,
      idleAfterMs: nonNegative(options.idleAfterMs ?? RESYNC_RATE_DEFAULTS.idleAfterMs, 'idleAfterMs'),
      planned: new TokenBucket(maxRate, (maxRate * burstMs) / 1000),
      floor: new TokenBucket(minRate, floorCapacity, floorCapacity),
      burstMs,
    };
  }

  /**
   * How many more bytes the sync source may send at `nowMs`, with `inFlightBytes` sent but not yet
   * acknowledged. `lastAckLatencyMs`, when given, is the latest latency the caller saw outside the
   * resync (an application write's acknowledgement): the dynamic mode plans from the worse of it and
   * the resync's own latency, so it also backs off for application I/O that is getting slow.
   * The source may send up to this many bytes, or one whole request whenever it is above zero (the
   * overshoot is repaid before more is allowed); it reports what it sent through `sent`.
   */
  allowance(nowMs: number, inFlightBytes: number, lastAckLatencyMs?: number): number {
    checkInput(nowMs, 'nowMs');
    checkInput(inFlightBytes, 'inFlightBytes');
    this.acked.begin(nowMs);
    if (lastAckLatencyMs !== undefined) {
      checkInput(lastAckLatencyMs, 'lastAckLatencyMs');
      this.dynamic?.plan.observeOther(lastAckLatencyMs);
    }
    const capTokens = this.cap.available(nowMs);
    const dynamic = this.dynamic;
    if (dynamic === undefined) return Math.max(0, Math.floor(capTokens));
    const idleWindow = this.idleWindowAt(nowMs);
    // Even the floor stops adding to a backlog the peer does not acknowledge.
    if (inFlightBytes >= (idleWindow ?? dynamic.plan.largestWindowBytes)) return 0;
    const plan = dynamic.plan.at(nowMs);
    const rate = plan.rateBytesPerSecond;
    dynamic.planned.reconfigure(nowMs, rate, (rate * dynamic.burstMs) / 1000);
    const window = idleWindow ?? plan.windowBytes;
    const planned = Math.min(dynamic.planned.available(nowMs), window - inFlightBytes);
    const allowed = Math.min(capTokens, Math.max(planned, dynamic.floor.available(nowMs)));
    return Math.max(0, Math.floor(allowed));
  }

  /** Application I/O went to the volume at `nowMs`: the idle window does not apply for a while. */
  noteApplicationIo(nowMs: number): void {
    checkInput(nowMs, 'nowMs');
    this.lastApplicationIoMs = Math.max(this.lastApplicationIoMs, nowMs);
  }

  /** Whether the idle window applies at `nowMs`. */
  idle(nowMs: number): boolean {
    return this.idleWindowAt(nowMs) !== undefined;
  }

  private idleWindowAt(nowMs: number): number | undefined {
    const dynamic = this.dynamic;
    if (dynamic?.idleWindowBytes === undefined) return undefined;
    return nowMs - this.lastApplicationIoMs >= dynamic.idleAfterMs ? dynamic.idleWindowBytes : undefined;
  }

  /** The source sent `bytes` of resync data at `nowMs`. */
  sent(nowMs: number, bytes: number): void {
    checkInput(nowMs, 'nowMs');
    checkInput(bytes, 'bytes');
    this.cap.spend(nowMs, bytes);
    this.dynamic?.planned.spend(nowMs, bytes);
    this.dynamic?.floor.spend(nowMs, bytes);
  }

  /** The peer acknowledged `bytesAcked` of resync data at `nowMs`, `latencyMs` after it was sent. */
  record(nowMs: number, bytesAcked: number, latencyMs: number): void {
    checkInput(nowMs, 'nowMs');
    checkInput(bytesAcked, 'bytesAcked');
    checkInput(latencyMs, 'latencyMs');
    this.acked.add(nowMs, bytesAcked);
    this.dynamic?.plan.sample(latencyMs);
  }

  /** Acknowledged resync bytes per second over the measuring window (for status). */
  rateBytesPerSecond(nowMs: number): number {
    checkInput(nowMs, 'nowMs');
    return this.acked.perSecond(nowMs);
  }

  /** The dynamic mode's current plan: rate and bytes in flight (for status); undefined in fixed mode. */
  plan(nowMs: number): Plan | undefined {
    checkInput(nowMs, 'nowMs');
    const plan = this.dynamic?.plan.at(nowMs);
    const idleWindow = this.idleWindowAt(nowMs);
    return plan && idleWindow !== undefined ? { ...plan, windowBytes: idleWindow } : plan;
  }

  /**
   * Seconds until `remainingBytes` are through at the measured rate; before anything is measured,
   * fixed mode assumes its rate and dynamic mode cannot tell (undefined).
   */
  etaSeconds(remainingBytes: number, nowMs: number): number | undefined {
    checkInput(remainingBytes, 'remainingBytes');
    if (remainingBytes === 0) return 0;
    const measured = this.rateBytesPerSecond(nowMs);
    const rate = measured > 0 ? measured : this.fixedRate;
    return rate === undefined ? undefined : remainingBytes / rate;
  }
}

function checkInput(value: number, name: string): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new ReplicationStateError(
      'resync-rate-input-invalid',
      `${name} must be a finite number >= 0, got ${value}`,
    );
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw optionsError(`${name} must be a finite number > 0, got ${value}`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0)
    throw optionsError(`${name} must be a finite number >= 0, got ${value}`);
  return value;
}

function optionsError(message: string): ReplicationStateError {
  return new ReplicationStateError('resync-rate-options-invalid', `resync rate options: ${message}`);
}
