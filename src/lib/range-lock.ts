// A lock over ranges (of logical blocks for an LU, of bytes for a mirror). Every SCSI command that writes takes it over the blocks it
// writes, and COMPARE AND WRITE takes it over its blocks for the read, the compare and the write, so
// no other write can land between its compare and its write (SBC-3 §5.2: the command is atomic with
// respect to every other command that writes those blocks; VMware ATS relies on it).
//
// Invariants: grants are first come, first served among overlapping requests (a request waits for
// every earlier request that overlaps it, held or still waiting), so no request starves and no two
// overlapping holders exist at once. Non-overlapping requests never wait for each other. Ranges are
// half-open [start, end) in blocks; an empty range is granted at once.

export type Release = () => void;

interface Entry {
  readonly start: number;
  readonly end: number;
  /** Called once when this entry is released (later overlapping requests counting down). */
  waiters: (() => void)[] | null;
}

const NOTHING_TO_RELEASE: Release = () => undefined;

export class RangeLock {
  readonly #entries = new Set<Entry>();

  /** Resolves when [start, end) is held; call the returned function exactly once to release it. */
  acquire(start: number, end: number): Promise<Release> {
    if (end <= start) return Promise.resolve(NOTHING_TO_RELEASE);
    const entry: Entry = { start, end, waiters: null };
    let waitingFor = 0;
    let granted: (() => void) | undefined;
    const countDown = (): void => {
      if (--waitingFor === 0) granted?.();
    };
    for (const earlier of this.#entries) {
      if (earlier.start < end && start < earlier.end) {
        waitingFor++;
        (earlier.waiters ??= []).push(countDown);
      }
    }
    this.#entries.add(entry);
    const release = this.#releaser(entry);
    // Uncontended (the common case on the I/O path): no promise chain beyond the resolved one.
    if (waitingFor === 0) return Promise.resolve(release);
    return new Promise((resolve) => (granted = () => resolve(release)));
  }

  #releaser(entry: Entry): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#entries.delete(entry);
      const waiters = entry.waiters;
      entry.waiters = null;
      if (waiters !== null) for (const wake of waiters) wake();
    };
  }

  /** Runs `fn` while holding [start, end). */
  async with<T>(start: number, end: number, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(start, end);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Ranges held or waited for (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }
}
