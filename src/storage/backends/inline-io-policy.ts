// Decides whether a read or write is done inline (a synchronous pread/pwrite on the event loop thread)
// or handed to libuv's thread pool. Why: a 4 KiB read that hits the page cache, or a 4 KiB write into
// it, costs a few microseconds as a system call, but about 20 µs of event-loop time through the thread
// pool (queue, futex wake, completion wake-up, callback), which made Tandem's 4 KiB I/O CPU-bound at
// about half of tgt's rate.
// The risk of inline I/O is a slow call: a read that misses the page cache, or a write the kernel
// throttles because too much is dirty, makes the whole event loop wait for the disk. So I/O runs
// inline only while it keeps proving fast. One slow inline call sends the device to the thread pool
// for a back-off period that doubles while slow calls continue, so a cold or disk-bound volume stalls
// the loop at most once per period (the longest period is a minute).
// Pure logic over an injected clock, so the policy is tested without timing anything.

export interface InlineIoPolicyOptions {
  /** Calls longer than this always use the thread pool (default 128 KiB). */
  readonly maxLength?: number;
  /** An inline call slower than this waited for the disk (default 300 µs). */
  readonly missNanoseconds?: number;
  /** First back-off after a miss (default 1 s); doubles per consecutive miss up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Milliseconds since some fixed point; injected by tests. */
  readonly now?: () => number;
}

export class InlineIoPolicy {
  readonly #maxLength: number;
  readonly #missNanoseconds: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #now: () => number;
  #inlineAgainAt = 0;
  #nextBackoffMs: number;
  #misses = 0;

  constructor(options: InlineIoPolicyOptions = {}) {
    this.#maxLength = options.maxLength ?? 128 * 1024;
    this.#missNanoseconds = options.missNanoseconds ?? 300_000;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#nextBackoffMs = this.#backoffMs;
  }

  /** Slow inline calls seen so far (each one stalled the event loop once). */
  get misses(): number {
    return this.#misses;
  }

  /** True when a call moving `length` bytes should be tried inline now. */
  inline(length: number): boolean {
    return length <= this.#maxLength && this.#now() >= this.#inlineAgainAt;
  }

  /** Reports how long an inline call took. */
  record(nanoseconds: number): void {
    if (nanoseconds < this.#missNanoseconds) {
      // A fast call after a back-off: the cache is warm again, so the next miss starts a short back-off.
      if (this.#now() >= this.#inlineAgainAt + this.#nextBackoffMs) this.#nextBackoffMs = this.#backoffMs;
      return;
    }
    this.#misses++;
    this.#inlineAgainAt = this.#now() + this.#nextBackoffMs;
    this.#nextBackoffMs = Math.min(this.#nextBackoffMs * 2, this.#maxBackoffMs);
  }
}
