// Decides whether a read is done inline (a synchronous pread on the event loop thread) or handed to
// libuv's thread pool. Why: a 4 KiB read that hits the page cache costs a few microseconds as a
// pread, but about 20 µs of event-loop time through the thread pool (queue, futex wake, completion
// wake-up, callback), which made Tandem's 4 KiB random reads CPU-bound at half of tgt's rate.
// The risk of an inline read is a page-cache miss: the whole event loop waits for the disk. So reads
// run inline only while they keep proving fast. One slow inline read (a miss) sends the device to the
// thread pool for a back-off period that doubles while misses continue, so a cold or disk-bound volume
// stalls the loop at most once per period (the longest period is a minute).
// Pure logic over an injected clock, so the policy is tested without timing anything.

export interface InlineReadPolicyOptions {
  /** Reads longer than this always use the thread pool (default 128 KiB). */
  readonly maxLength?: number;
  /** An inline read slower than this was a page-cache miss (default 300 µs). */
  readonly missNanoseconds?: number;
  /** First back-off after a miss (default 1 s); doubles per consecutive miss up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Milliseconds since some fixed point; injected by tests. */
  readonly now?: () => number;
}

export class InlineReadPolicy {
  readonly #maxLength: number;
  readonly #missNanoseconds: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #now: () => number;
  #inlineAgainAt = 0;
  #nextBackoffMs: number;
  #misses = 0;

  constructor(options: InlineReadPolicyOptions = {}) {
    this.#maxLength = options.maxLength ?? 128 * 1024;
    this.#missNanoseconds = options.missNanoseconds ?? 300_000;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#nextBackoffMs = this.#backoffMs;
  }

  /** Inline page-cache misses seen so far (each one stalled the event loop once). */
  get misses(): number {
    return this.#misses;
  }

  /** True when a read of `length` bytes should be tried inline now. */
  inline(length: number): boolean {
    return length <= this.#maxLength && this.#now() >= this.#inlineAgainAt;
  }

  /** Reports how long an inline read took. */
  record(nanoseconds: number): void {
    if (nanoseconds < this.#missNanoseconds) {
      // A fast read after a back-off: the cache is warm again, so the next miss starts a short back-off.
      if (this.#now() >= this.#inlineAgainAt + this.#nextBackoffMs) this.#nextBackoffMs = this.#backoffMs;
      return;
    }
    this.#misses++;
    this.#inlineAgainAt = this.#now() + this.#nextBackoffMs;
    this.#nextBackoffMs = Math.min(this.#nextBackoffMs * 2, this.#maxBackoffMs);
  }
}
