// Decides whether a read or write is done inline (a synchronous pread/pwrite on the event loop thread)
// or handed to libuv's thread pool. Why: a 4 KiB read that hits the page cache, or a 4 KiB write into
// it, costs a few microseconds as a system call, but about 20 µs of event-loop time through the thread
// pool (queue, futex wake, completion wake-up, callback), which made Tandem's 4 KiB I/O CPU-bound at
// about half of tgt's rate.
// The risk of inline I/O is a slow call: a read that misses the page cache, or a write the kernel
// throttles because too much is dirty, makes the whole event loop wait for the disk. So I/O runs
// inline only while it keeps proving fast. A call that waited for the disk (1 ms or more) sends the
// device to the thread pool at once, for a back-off period that doubles while such calls continue
// (the longest is a minute). Shorter slow calls (over 300 µs) spend a stall budget instead (a token
// bucket: 10 ms of stall per second, up to 20 ms at once) and back off only once it is spent. Why a
// budget for those: with two writers on one disk, an occasional pwrite waits a few hundred µs for
// the journal; sending 10,000 writes a second to the thread pool for that costs the loop ~200 ms a
// second, where the odd stall cost it a millisecond.
// Pure logic over an injected clock, so the policy is tested without timing anything.

export interface InlineIoPolicyOptions {
  /** Calls longer than this always use the thread pool (default 128 KiB). */
  readonly maxLength?: number;
  /** An inline call slower than this stalled the event loop (default 300 µs). */
  readonly missNanoseconds?: number;
  /** An inline call this slow waited for the disk: back off at once (default 1 ms). */
  readonly diskWaitNanoseconds?: number;
  /** First back-off after a miss (default 1 s); doubles per consecutive miss up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Stall time slow calls may spend per second before the device backs off (default 10). */
  readonly stallBudgetMsPerSecond?: number;
  /** The most stall time the budget holds at once (default 20; 0: any slow call backs off). */
  readonly stallBurstMs?: number;
  /** Milliseconds since some fixed point; injected by tests. */
  readonly now?: () => number;
}

export class InlineIoPolicy {
  readonly #maxLength: number;
  readonly #missNanoseconds: number;
  readonly #diskWaitNanoseconds: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #now: () => number;
  readonly #budgetPerMs: number;
  readonly #burstNs: number;
  /** Stall nanoseconds left, as of #budgetAt. */
  #budgetNs: number;
  #budgetAt: number;
  #inlineAgainAt = 0;
  #nextBackoffMs: number;
  #misses = 0;

  constructor(options: InlineIoPolicyOptions = {}) {
    this.#maxLength = options.maxLength ?? 128 * 1024;
    this.#missNanoseconds = options.missNanoseconds ?? 300_000;
    this.#diskWaitNanoseconds = options.diskWaitNanoseconds ?? 1_000_000;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#nextBackoffMs = this.#backoffMs;
    // ns of stall allowed per ms of wall time: a budget of B ms per second is B µs per ms.
    this.#budgetPerMs = (options.stallBudgetMsPerSecond ?? 10) * 1000;
    this.#burstNs = (options.stallBurstMs ?? 20) * 1_000_000;
    this.#budgetNs = this.#burstNs;
    this.#budgetAt = this.#now();
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
    const now = this.#now();
    this.#budgetNs = Math.min(this.#burstNs, this.#budgetNs + (now - this.#budgetAt) * this.#budgetPerMs);
    this.#budgetAt = now;
    this.#budgetNs -= nanoseconds;
    if (this.#budgetNs >= 0 && nanoseconds < this.#diskWaitNanoseconds) return;
    this.#budgetNs = this.#burstNs;
    this.#inlineAgainAt = now + this.#nextBackoffMs;
    this.#nextBackoffMs = Math.min(this.#nextBackoffMs * 2, this.#maxBackoffMs);
  }
}
