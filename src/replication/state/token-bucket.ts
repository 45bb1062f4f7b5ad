// A token bucket on a caller-supplied clock: tokens flow in at `ratePerSecond` up to `capacity`, and
// spending may run into debt, which later inflow repays. Debt keeps the long-run rate exact when a
// caller sends a whole request as soon as any allowance is left.

export class TokenBucket {
  private tokens: number;
  private lastMs: number | undefined;

  /**
   * @param maxDebt how far below zero spending may take the bucket (Infinity: any debt is repaid,
   *   so the rate is a hard cap over time).
   */
  constructor(
    private ratePerSecond: number,
    private capacity: number,
    private readonly maxDebt = Number.POSITIVE_INFINITY,
  ) {
    this.tokens = capacity;
  }

  /** From `nowMs` on, flow in at a new rate up to a new capacity (what flowed in until now stays). */
  reconfigure(nowMs: number, ratePerSecond: number, capacity: number): void {
    this.refill(nowMs);
    this.ratePerSecond = ratePerSecond;
    this.capacity = capacity;
    this.tokens = Math.min(this.tokens, capacity);
  }

  /** Tokens available at `nowMs` (negative while in debt). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  spend(nowMs: number, amount: number): void {
    this.refill(nowMs);
    this.tokens = Math.max(this.tokens - amount, -this.maxDebt);
  }

  private refill(nowMs: number): void {
    // A clock that steps back is taken as no time having passed.
    const elapsedMs = this.lastMs === undefined ? 0 : Math.max(0, nowMs - this.lastMs);
    this.lastMs = this.lastMs === undefined ? nowMs : Math.max(this.lastMs, nowMs);
    this.tokens = Math.min(this.capacity, this.tokens + (this.ratePerSecond * elapsedMs) / 1000);
  }
}
