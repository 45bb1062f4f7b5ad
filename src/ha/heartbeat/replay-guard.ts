// Replay protection for one sender on one link. Within one boot of the sender, a datagram is
// accepted only when its seq is newer than the last one accepted. A new boot id (the peer
// restarted, seqs begin again) is accepted only when its sentAt is later than everything accepted
// so far, so a recording from an earlier boot cannot take over the window; boot ids already left
// behind are refused outright. If the peer's clock stepped back across its restart, its new boot
// is refused until the old boot has been silent for `staleBootGraceMs`.

export type ReplayVerdict = 'accept' | 'restart' | 'replayed' | 'old-boot' | 'stale-boot';

const RETIRED_BOOTS_KEPT = 16;
export const DEFAULT_STALE_BOOT_GRACE_MS = 60_000;

export class ReplayGuard {
  #bootId: string | null = null;
  #lastSeq = -1;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #lastAcceptedMono = Number.NEGATIVE_INFINITY;
  readonly #retired: string[] = [];

  constructor(readonly staleBootGraceMs = DEFAULT_STALE_BOOT_GRACE_MS) {}

  /** Decides and, when the datagram is accepted, records it. `monoNow` is the receiver's monotonic clock. */
  check(bootId: string, seq: number, sentAt: number, monoNow: number): ReplayVerdict {
    if (bootId === this.#bootId) {
      if (seq <= this.#lastSeq) return 'replayed';
      this.#record(seq, sentAt, monoNow);
      return 'accept';
    }
    if (this.#retired.includes(bootId)) return 'old-boot';
    const first = this.#bootId === null;
    if (!first && sentAt <= this.#lastSentAt && monoNow - this.#lastAcceptedMono < this.staleBootGraceMs) {
      return 'stale-boot';
    }
    if (this.#bootId !== null) {
      this.#retired.push(this.#bootId);
      if (this.#retired.length > RETIRED_BOOTS_KEPT) this.#retired.shift();
    }
    this.#bootId = bootId;
    this.#lastSentAt = Number.NEGATIVE_INFINITY;
    this.#record(seq, sentAt, monoNow);
    return first ? 'accept' : 'restart';
  }

  #record(seq: number, sentAt: number, monoNow: number): void {
    this.#lastSeq = seq;
    this.#lastSentAt = Math.max(this.#lastSentAt, sentAt);
    this.#lastAcceptedMono = monoNow;
  }
}
