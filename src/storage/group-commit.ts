// Group commit of flushes: concurrent `flush()` callers share one sync instead of issuing one each.
//
// State, owned by one GroupCommit and changed only by `flush()` and the settling of its syncs:
// - `inFlight`: the sync that is running now, or null.
// - `next`: the sync that will start as soon as `inFlight` settles, or null; it exists only while
//   `inFlight` does.
// Invariants:
// - A flush is satisfied only by a sync that *started after the flush was called*: a write that
//   resolved just before the call may have missed a sync that was already running. So a caller
//   that arrives while a sync is in flight joins `next`, never `inFlight`.
// - At most one sync runs at a time, and at most one is queued: N concurrent callers cause at most
//   2 syncs (the running one they cannot use, and the one they all share).
// - A sync's failure rejects exactly the callers that shared it; the following sync starts afresh.

export type SyncFunction = () => Promise<void>;

export class GroupCommit {
  #inFlight: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  #syncs = 0;

  constructor(private readonly sync: SyncFunction) {}

  /** Resolves when a sync that started after this call has completed; rejects with its error. */
  flush(): Promise<void> {
    if (this.#next) return this.#next;
    const running = this.#inFlight;
    if (!running) return this.#start();
    const next = running.then(noop, noop).then(() => {
      this.#next = null;
      return this.#start();
    });
    this.#next = next;
    return next;
  }

  /** Syncs started so far (for tests and metrics). */
  get syncs(): number {
    return this.#syncs;
  }

  /** Resolves, never rejects, once no sync is running or queued (for an orderly close). */
  async idle(): Promise<void> {
    while (this.#inFlight ?? this.#next) {
      await (this.#next ?? this.#inFlight)?.then(noop, noop);
    }
  }

  #start(): Promise<void> {
    this.#syncs++;
    let run: Promise<void>;
    try {
      run = this.sync();
    } catch (error) {
      run = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const tracked = run.finally(() => {
      if (this.#inFlight === tracked) this.#inFlight = null;
    });
    this.#inFlight = tracked;
    return tracked;
  }
}

function noop(): void {
  // settles a promise without caring how
}
