// A sum over the last `windowMs` of a caller-supplied clock, kept in fixed slots so memory stays
// constant however many samples arrive. Used for the measured resync rate shown in status.

export class SlidingWindowSum {
  private readonly slotIds: number[];
  private readonly slotSums: number[];
  private firstMs: number | undefined;

  constructor(
    readonly windowMs: number,
    private readonly slotMs = 100,
  ) {
    const slots = Math.max(1, Math.ceil(windowMs / slotMs));
    this.slotIds = new Array<number>(slots).fill(Number.NEGATIVE_INFINITY);
    this.slotSums = new Array<number>(slots).fill(0);
  }

  /** Marks the start of measurement, if nothing did yet: rates before a full window count from here. */
  begin(nowMs: number): void {
    this.firstMs ??= nowMs;
  }

  add(nowMs: number, amount: number): void {
    this.begin(nowMs);
    const id = Math.floor(nowMs / this.slotMs);
    const index = this.indexOf(id);
    if (this.slotIds[index] !== id) {
      this.slotIds[index] = id;
      this.slotSums[index] = 0;
    }
    this.slotSums[index] = (this.slotSums[index] ?? 0) + amount;
  }

  /** The sum over the window ending at `nowMs`. */
  total(nowMs: number): number {
    const newestId = Math.floor(nowMs / this.slotMs);
    const oldestId = newestId - this.slotIds.length + 1;
    let sum = 0;
    for (let i = 0; i < this.slotIds.length; i++) {
      const id = this.slotIds[i] ?? Number.NEGATIVE_INFINITY;
      if (id >= oldestId && id <= newestId) sum += this.slotSums[i] ?? 0;
    }
    return sum;
  }

  /** The sum per second over the window, or over the time since the first call if that is shorter. */
  perSecond(nowMs: number): number {
    const total = this.total(nowMs);
    const newestSlotStart = Math.floor(nowMs / this.slotMs) * this.slotMs;
    const windowStart = newestSlotStart - (this.slotIds.length - 1) * this.slotMs;
    this.begin(nowMs);
    const spanMs = nowMs - Math.max(windowStart, this.firstMs ?? nowMs);
    return spanMs > 0 ? (total * 1000) / spanMs : 0;
  }

  private indexOf(id: number): number {
    const n = this.slotIds.length;
    return ((id % n) + n) % n;
  }
}
