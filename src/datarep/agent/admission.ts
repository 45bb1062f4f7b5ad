// Which connections the agent's gate hands to rsync, and when. rsync takes one of its "max
// connections" slots for a client as soon as the client names a module, before the password
// challenge, so connections that never answer it must not be able to hold all the slots:
//
// - at most `perClient` connections of one client (IPv4 address or IPv6 /64) are with rsync and not
//   yet authenticated ("pending"); further ones wait, without a slot, until one of them is done;
// - at most `total` connections are pending in all, less the slots that authenticated sessions hold
//   (`setOccupied`), but at least one: `total` is one below rsync's max connections, so a slot stays
//   free for the moment in which rsync's process for a dropped connection is still exiting; when that
//   many are pending, a newcomer takes the place of the oldest pending one once that one has been
//   pending for `evictAfterMs` (a real client answers in milliseconds), and otherwise waits;
// - at most `waitingPerClient` and `waitingTotal` connections wait; more are refused.
//
// Waiting connections go on in arrival order, skipping clients that are at their own limit. How long
// a connection may stay pending or waiting is the gate's deadline, not decided here. Pure: no
// sockets, no timers; the time is passed in.

export interface AdmissionLimits {
  readonly perClient: number;
  readonly total: number;
  readonly evictAfterMs: number;
  readonly waitingPerClient: number;
  readonly waitingTotal: number;
}

/** What the gate has to do after an event: hand these to rsync, drop those. */
export interface AdmissionStep<T> {
  readonly forward: T[];
  readonly evict: T[];
}

export type Refusal = 'client-busy' | 'busy';

interface Entry<T> {
  readonly item: T;
  readonly key: string;
  readonly since: number;
}

export class Admission<T> {
  /** Insertion order is age order: the first entry is the oldest. */
  private readonly pending = new Map<T, Entry<T>>();
  private readonly waiting: Entry<T>[] = [];
  private readonly pendingOf = new Map<string, number>();
  private readonly waitingOf = new Map<string, number>();
  private occupied = 0;

  constructor(private limits: AdmissionLimits) {}

  setLimits(limits: AdmissionLimits): void {
    this.limits = limits;
  }

  /** Slots held by authenticated sessions; call pump() after a change. */
  setOccupied(count: number): void {
    this.occupied = count;
  }

  private get room(): number {
    return Math.max(1, this.limits.total - this.occupied);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** A new connection of client `key`; `refused` is set when it may not even wait. */
  arrive(item: T, key: string, now: number): AdmissionStep<T> & { readonly refused: Refusal | null } {
    const entry = { item, key, since: now };
    this.waiting.push(entry);
    bump(this.waitingOf, key, 1);
    const step = this.pump(now);
    let refused: Refusal | null = null;
    if (this.waiting.includes(entry)) {
      if ((this.waitingOf.get(key) ?? 0) > this.limits.waitingPerClient) refused = 'client-busy';
      else if (this.waiting.length > this.limits.waitingTotal) refused = 'busy';
      if (refused !== null) this.removeWaiting(entry);
    }
    return { ...step, refused };
  }

  /** The connection authenticated, was dropped or closed: it frees its place (no-op if it had none). */
  leave(item: T, now: number): AdmissionStep<T> {
    const entry = this.pending.get(item);
    if (entry !== undefined) this.removePending(entry);
    else {
      const waiting = this.waiting.find((e) => e.item === item);
      if (waiting !== undefined) this.removeWaiting(waiting);
    }
    return this.pump(now);
  }

  /** Moves waiting connections on as far as the limits allow now. */
  pump(now: number): AdmissionStep<T> {
    const forward: T[] = [];
    const evict: T[] = [];
    let i = 0;
    while (i < this.waiting.length) {
      const entry = this.waiting[i] as Entry<T>;
      if ((this.pendingOf.get(entry.key) ?? 0) >= this.limits.perClient) {
        i += 1;
        continue;
      }
      if (this.pending.size >= this.room) {
        const oldest = this.pending.values().next().value;
        if (oldest === undefined || now - oldest.since < this.limits.evictAfterMs) break;
        this.removePending(oldest);
        evict.push(oldest.item);
        continue;
      }
      this.removeWaiting(entry);
      this.pending.set(entry.item, { item: entry.item, key: entry.key, since: now });
      bump(this.pendingOf, entry.key, 1);
      forward.push(entry.item);
    }
    return { forward, evict };
  }

  /** When pump() could next move something by evicting (the oldest pending one comes of age), or null. */
  nextEvictionAt(): number | null {
    if (this.waiting.length === 0 || this.pending.size < this.room) return null;
    const canMove = this.waiting.some((e) => (this.pendingOf.get(e.key) ?? 0) < this.limits.perClient);
    const oldest = this.pending.values().next().value;
    return canMove && oldest !== undefined ? oldest.since + this.limits.evictAfterMs : null;
  }

  private removePending(entry: Entry<T>): void {
    this.pending.delete(entry.item);
    bump(this.pendingOf, entry.key, -1);
  }

  private removeWaiting(entry: Entry<T>): void {
    const index = this.waiting.indexOf(entry);
    if (index === -1) return;
    this.waiting.splice(index, 1);
    bump(this.waitingOf, entry.key, -1);
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
