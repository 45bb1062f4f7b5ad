// The activity log's bookkeeping in memory: which extents are recorded active, how many writes are
// in flight in each, which was used least recently, and which to add and retire in the next
// transaction. Pure: the I/O that makes a transaction durable is replication-metadata.ts's.
//
// Each of the `capacity` slots holds one extent in one of two states:
// - ACTIVE: recorded in the on-disk log; writes may take references on it (tryAcquire).
// - PENDING: planned for the transaction in progress; becomes ACTIVE on commit().
// A retired extent leaves its slot the moment it is planned out, so no new write can start in it; it
// stays in the on-disk log until the transaction that drops it is durable, which is later and safe.
// Invariant: an extent with references is never planned out, and neither is one that a request
// admitted into the same plan needs.

/** Extents [first, last] (inclusive) that one write needs active. */
export interface ExtentRange {
  readonly first: number;
  readonly last: number;
}

export interface TransactionPlan {
  /** Extents to record active (now PENDING). */
  readonly added: readonly number[];
  /** Extents to drop from the log (now gone from memory; their bitmap pages must reach disk first). */
  readonly retired: readonly number[];
}

export const RELEASE_DONE = 0;
export const RELEASE_FREED = 1;
export const RELEASE_NOT_HELD = 2;
export type ReleaseResult = typeof RELEASE_DONE | typeof RELEASE_FREED | typeof RELEASE_NOT_HELD;

const FREE = 0;
const PENDING = 1;
const ACTIVE = 2;

export class ActivityLog {
  readonly capacity: number;
  readonly #slotOf = new Map<number, number>();
  readonly #extent: Float64Array;
  readonly #state: Uint8Array;
  readonly #references: Int32Array;
  readonly #lastUse: Float64Array;
  /** Slots pinned by the plan being built: `#pinnedBy[slot] === #planNumber`. */
  readonly #pinnedBy: Float64Array;
  #planNumber = 0;
  #clock = 0;
  #totalReferences = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`bad capacity ${capacity}`);
    this.capacity = capacity;
    this.#extent = new Float64Array(capacity).fill(-1);
    this.#state = new Uint8Array(capacity);
    this.#references = new Int32Array(capacity);
    this.#lastUse = new Float64Array(capacity);
    this.#pinnedBy = new Float64Array(capacity);
  }

  /** Writes in flight over all extents. */
  get references(): number {
    return this.#totalReferences;
  }

  /** Whether `extent` is recorded active (writes may start in it without a transaction). */
  isActive(extent: number): boolean {
    const slot = this.#slotOf.get(extent);
    return slot !== undefined && this.#state[slot] === ACTIVE;
  }

  /** Writes in flight in `extent`. */
  referencesOf(extent: number): number {
    const slot = this.#slotOf.get(extent);
    return slot === undefined ? 0 : (this.#references[slot] ?? 0);
  }

  /** Extents the on-disk log must list: ACTIVE and PENDING ones, in slot order. */
  recordedExtents(): number[] {
    const extents: number[] = [];
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.#state[slot] !== FREE) extents.push(this.#extent[slot] ?? -1);
    }
    return extents;
  }

  /**
   * Takes one reference on every extent in [first, last] if all are ACTIVE, and marks them used;
   * otherwise changes nothing. The data path's fast check: no allocation.
   */
  tryAcquire(first: number, last: number): boolean {
    const slotOf = this.#slotOf;
    const state = this.#state;
    for (let extent = first; extent <= last; extent++) {
      const slot = slotOf.get(extent);
      if (slot === undefined || state[slot] !== ACTIVE) return false;
    }
    const now = ++this.#clock;
    for (let extent = first; extent <= last; extent++) {
      const slot = slotOf.get(extent) ?? 0;
      this.#references[slot] = (this.#references[slot] ?? 0) + 1;
      this.#lastUse[slot] = now;
    }
    this.#totalReferences += last - first + 1;
    return true;
  }

  /**
   * Drops one reference on every extent in [first, last]. Returns RELEASE_FREED when one of them has
   * none left (a waiting request may now retire it), RELEASE_NOT_HELD, changing nothing, when one of
   * them held no reference (a caller bug), else RELEASE_DONE.
   */
  release(first: number, last: number): ReleaseResult {
    for (let extent = first; extent <= last; extent++) {
      const slot = this.#slotOf.get(extent);
      if (slot === undefined || (this.#references[slot] ?? 0) <= 0) return RELEASE_NOT_HELD;
    }
    let result: ReleaseResult = RELEASE_DONE;
    for (let extent = first; extent <= last; extent++) {
      const slot = this.#slotOf.get(extent) ?? 0;
      const left = (this.#references[slot] ?? 0) - 1;
      this.#references[slot] = left;
      if (left === 0) result = RELEASE_FREED;
    }
    this.#totalReferences -= last - first + 1;
    return result;
  }

  /**
   * Admits `requests` in order while the log has room for the extents they lack: free slots first,
   * then the least recently used ACTIVE extents with no references that no admitted request needs.
   * Stops at the first request that does not fit (so a wide request is not starved by narrow ones).
   * Returns null when nothing needs adding.
   */
  plan(requests: Iterable<ExtentRange>): TransactionPlan | null {
    const plan = ++this.#planNumber;
    const added: number[] = [];
    const retired: number[] = [];
    for (const request of requests) {
      const missing = this.#missingIn(request);
      if (missing === 0) {
        this.#pin(request, plan);
        continue;
      }
      if (missing > this.#roomFor(request, plan)) break;
      this.#pin(request, plan);
      for (let extent = request.first; extent <= request.last; extent++) {
        if (this.#slotOf.has(extent)) continue;
        const slot = this.#takeSlot(plan, retired);
        this.#slotOf.set(extent, slot);
        this.#extent[slot] = extent;
        this.#state[slot] = PENDING;
        this.#references[slot] = 0;
        this.#lastUse[slot] = ++this.#clock;
        this.#pinnedBy[slot] = plan;
        added.push(extent);
      }
    }
    return added.length === 0 ? null : { added, retired };
  }

  /** The plan's transaction is durable: its added extents become ACTIVE. */
  commit(plan: TransactionPlan): void {
    for (const extent of plan.added) {
      const slot = this.#slotOf.get(extent);
      if (slot !== undefined) this.#state[slot] = ACTIVE;
    }
  }

  /** Empties the log (close). Throws if a write is still in flight. */
  clear(): void {
    if (this.#totalReferences !== 0)
      throw new RangeError('cannot clear the activity log with writes in flight');
    this.#slotOf.clear();
    this.#extent.fill(-1);
    this.#state.fill(FREE);
  }

  #missingIn(request: ExtentRange): number {
    let missing = 0;
    for (let extent = request.first; extent <= request.last; extent++) {
      if (!this.#slotOf.has(extent)) missing++;
    }
    return missing;
  }

  /** Slots the request could get: free ones and retirable ones it does not need itself. */
  #roomFor(request: ExtentRange, plan: number): number {
    let room = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      const extent = this.#extent[slot] ?? -1;
      if (this.#state[slot] === FREE) room++;
      else if (this.#isRetirable(slot, plan) && (extent < request.first || extent > request.last)) room++;
    }
    return room;
  }

  #isRetirable(slot: number, plan: number): boolean {
    return this.#state[slot] === ACTIVE && this.#references[slot] === 0 && this.#pinnedBy[slot] !== plan;
  }

  #pin(request: ExtentRange, plan: number): void {
    for (let extent = request.first; extent <= request.last; extent++) {
      const slot = this.#slotOf.get(extent);
      if (slot !== undefined) this.#pinnedBy[slot] = plan;
    }
  }

  /** A free slot, or the least recently used retirable one (its extent goes to `retired`). */
  #takeSlot(plan: number, retired: number[]): number {
    let victim = -1;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.#state[slot] === FREE) return slot;
      if (
        this.#isRetirable(slot, plan) &&
        (victim < 0 || (this.#lastUse[slot] ?? 0) < (this.#lastUse[victim] ?? 0))
      ) {
        victim = slot;
      }
    }
    if (victim < 0) throw new Error('activity log plan ran out of slots (bug in #roomFor)');
    const extent = this.#extent[victim] ?? -1;
    this.#slotOf.delete(extent);
    this.#state[victim] = FREE;
    this.#extent[victim] = -1;
    retired.push(extent);
    return victim;
  }
}
