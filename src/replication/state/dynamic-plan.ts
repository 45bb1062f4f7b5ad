// The dynamic resync controller's plan: a rate to send at and a window of bytes in flight, re-planned
// once per step from the acknowledgement latency seen in that step.
//
// - Latency above the target: the link or the peer's disk is busy (with application I/O, or with our
//   own backlog), so the rate shrinks at once in proportion (at most halving, and only once per
//   observed latency, since requests sent before the cut still arrive late).
// - Latency below the target: the rate grows towards what the spare latency allows, spreading the
//   correction over the plan-ahead time so it does not overshoot (at most doubling per step).
// - The window is what that rate keeps in flight at the target latency (Little's law: bytes in flight
//   = throughput × latency), which stops a backlog from building faster than the rate reacts.
//
// With a fill target the window is that constant instead and the rate is not planned (DRBD's
// c-fill-target): throughput then falls by itself as latency grows.

export interface DynamicPlanOptions {
  readonly delayTargetMs: number;
  readonly fillTargetBytes: number | undefined;
  readonly minRate: number;
  readonly maxRate: number;
  /** The smallest window, so that the window alone never stalls the resync. */
  readonly minWindowBytes: number;
  readonly stepMs: number;
  readonly planAheadMs: number;
}

export interface Plan {
  readonly rateBytesPerSecond: number;
  readonly windowBytes: number;
}

export class DynamicPlan {
  private rate: number;
  private readonly lowestRate: number;
  private nextStepMs: number | undefined;
  private latencySumMs = 0;
  private latencySamples = 0;
  private latestOtherLatencyMs: number | undefined;
  private noCutBeforeMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: DynamicPlanOptions) {
    // Multiplicative growth needs a start above zero: at least one smallest window per target latency.
    this.lowestRate = Math.min(
      options.maxRate,
      Math.max(options.minRate, (options.minWindowBytes * 1000) / options.delayTargetMs),
    );
    this.rate = options.fillTargetBytes === undefined ? this.lowestRate : options.maxRate;
  }

  /** The largest window the plan can ever have: past this much in flight, nothing more is sent. */
  get largestWindowBytes(): number {
    return this.windowFor(this.options.maxRate);
  }

  /** One resync acknowledgement's latency; a step plans from the mean of its samples. */
  sample(latencyMs: number): void {
    this.latencySumMs += latencyMs;
    this.latencySamples += 1;
  }

  /**
   * The latest latency seen elsewhere (application writes): a step plans from the worse of this and
   * the resync's mean, so passing the same observation again changes nothing.
   */
  observeOther(latencyMs: number): void {
    this.latestOtherLatencyMs = latencyMs;
  }

  /** The plan at `nowMs`, after re-planning every step that ended by then. */
  at(nowMs: number): Plan {
    this.nextStepMs ??= nowMs + this.options.stepMs;
    if (nowMs >= this.nextStepMs) {
      this.replan(nowMs);
      const stepsPassed = Math.floor((nowMs - this.nextStepMs) / this.options.stepMs) + 1;
      this.nextStepMs += stepsPassed * this.options.stepMs;
    }
    return { rateBytesPerSecond: this.rate, windowBytes: this.windowFor(this.rate) };
  }

  private windowFor(rate: number): number {
    const { fillTargetBytes, delayTargetMs, minWindowBytes } = this.options;
    return Math.max(minWindowBytes, fillTargetBytes ?? (rate * delayTargetMs) / 1000);
  }

  private replan(nowMs: number): void {
    const { delayTargetMs, fillTargetBytes, maxRate, stepMs, planAheadMs } = this.options;
    const resyncMs = this.latencySamples > 0 ? this.latencySumMs / this.latencySamples : undefined;
    const otherMs = this.latestOtherLatencyMs;
    const latencyMs = resyncMs === undefined ? otherMs : Math.max(resyncMs, otherMs ?? 0);
    this.latencySumMs = 0;
    this.latencySamples = 0;
    this.latestOtherLatencyMs = undefined;
    if (fillTargetBytes !== undefined || latencyMs === undefined) return;

    if (latencyMs > delayTargetMs) {
      if (nowMs < this.noCutBeforeMs) return;
      this.rate *= Math.max(0.5, delayTargetMs / latencyMs);
      this.noCutBeforeMs = nowMs + latencyMs;
    } else {
      const allowedRate = (this.rate * delayTargetMs) / Math.max(latencyMs, 0.001);
      const correction = ((allowedRate - this.rate) * stepMs) / planAheadMs;
      this.rate = Math.min(this.rate + correction, this.rate * 2);
    }
    this.rate = Math.min(maxRate, Math.max(this.lowestRate, this.rate));
  }
}
