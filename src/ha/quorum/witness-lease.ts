// The pure half of the witness (witness.ts): the etcd key, the lease's timing, the validity
// arithmetic and how etcd's answers are read. No I/O and no clock: every time is passed in, in
// monotonic milliseconds of the local clock, so that the rules can be tested in virtual time.
//
// Validity: a lease that etcd answered for (grant or keepalive) lives at least TTL seconds from the
// moment etcd handled the request, which is after this node SENT it. So this node may act as the
// holder until sentAt + TTL - margin, where sentAt is read before the request goes out; the answer's
// arrival time plays no part (an answer delayed by a pause or a slow network extends nothing past
// what its send time allows). The margin covers the two clocks running at slightly different rates.

/** Margin kept off the TTL: 10% of it, at least this many milliseconds. */
export const MIN_SAFETY_MARGIN_MS = 500;
export const SAFETY_MARGIN_FRACTION = 0.1;

export interface LeaseTiming {
  /** The TTL this node asks etcd for, in ms. */
  readonly ttlMs: number;
  /** Kept off the TTL when computing validity. */
  readonly marginMs: number;
  /** A keepalive goes out this often (TTL/3, as etcd's own clients do). */
  readonly keepaliveMs: number;
  /** Deadline of one etcd request: an answer later than this is of no use to the lease. */
  readonly requestTimeoutMs: number;
}

/** The key naming the active node of a pair. */
export function witnessKey(pairId: string): string {
  return `/tandem/${pairId}/active`;
}

/** What is wrong with the witness options, or an empty list. */
export function witnessOptionProblems(options: {
  readonly endpoints: readonly string[];
  readonly pairId: string;
  readonly nodeName: string;
  readonly ttlSeconds: number;
}): string[] {
  const problems: string[] = [];
  if (options.endpoints.length === 0) problems.push('at least one etcd endpoint is needed');
  for (const endpoint of options.endpoints) {
    if (!/^(https?:\/\/)?[^\s/]+:\d+\/?$/.test(endpoint)) {
      problems.push(`etcd endpoint ${JSON.stringify(endpoint)} is not [http[s]://]host:port`);
    }
  }
  if (!/^[A-Za-z0-9._-]+$/.test(options.pairId)) {
    problems.push(`pair id ${JSON.stringify(options.pairId)} must be letters, digits, '.', '_' or '-'`);
  }
  if (options.nodeName === '') problems.push('the node name must not be empty');
  if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
    problems.push(`the lease TTL must be a whole number of seconds >= 1, not ${options.ttlSeconds}`);
  }
  return problems;
}

export function leaseTiming(ttlSeconds: number): LeaseTiming {
  const ttlMs = ttlSeconds * 1000;
  const marginMs = Math.max(MIN_SAFETY_MARGIN_MS, Math.ceil(ttlMs * SAFETY_MARGIN_FRACTION));
  const keepaliveMs = Math.floor(ttlMs / 3);
  // At least one keepalive interval, at most what is left of the TTL after the margin.
  const requestTimeoutMs = Math.max(keepaliveMs, ttlMs - marginMs);
  return { ttlMs, marginMs, keepaliveMs, requestTimeoutMs };
}

/**
 * Until when a lease that etcd answered for is valid here. `answeredTtlSeconds` is the TTL in etcd's
 * answer (etcd may raise a short TTL to its minimum, never lower it): the smaller of it and the TTL
 * asked for is used.
 */
export function validityFrom(sentAt: number, answeredTtlSeconds: number, timing: LeaseTiming): number {
  const ttlMs = Math.min(timing.ttlMs, answeredTtlSeconds * 1000);
  return sentAt + ttlMs - timing.marginMs;
}

/** What a keepalive answer says; etcd answers TTL 0 (or less) for a lease it no longer has. */
export type KeepaliveAnswer =
  { readonly kind: 'alive'; readonly ttlSeconds: number } | { readonly kind: 'expired' };

export function interpretKeepalive(ttl: string | number): KeepaliveAnswer {
  const seconds = Number(ttl);
  if (!Number.isFinite(seconds) || seconds <= 0) return { kind: 'expired' };
  return { kind: 'alive', ttlSeconds: seconds };
}

/** The key as an acquire transaction saw it when the write did not happen. */
export interface SeenKey {
  readonly value: string;
  readonly modRevision: string;
}

/** How an acquire transaction ("write the key with my lease if ...; else read it") ended. */
export type AcquireStep =
  | { readonly kind: 'written' }
  /** The key holds this node's name under another lease (an earlier run): write it over at this revision. */
  | { readonly kind: 'take-over'; readonly modRevision: string }
  | { readonly kind: 'held-by-peer'; readonly holder: string }
  /** The key changed between the compare and the read: try again. */
  | { readonly kind: 'retry' };

export function interpretAcquire(succeeded: boolean, seen: SeenKey | null, nodeName: string): AcquireStep {
  if (succeeded) return { kind: 'written' };
  if (seen === null) return { kind: 'retry' };
  if (seen.value === nodeName) return { kind: 'take-over', modRevision: seen.modRevision };
  return { kind: 'held-by-peer', holder: seen.value };
}

// --- the held lease as a state machine --------------------------------------------------------------

export type LeaseState =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'held';
      readonly leaseId: string;
      readonly validUntil: number;
      /** The last keepalive failure since the last answer, for the 'lost' reason and the logs. */
      readonly lastError: string | null;
    };

export type LeaseEvent =
  /** etcd granted the lease and the key was written with it; sentAt is when the grant went out. */
  | {
      readonly kind: 'granted';
      readonly leaseId: string;
      readonly sentAt: number;
      readonly ttlSeconds: number;
    }
  /** A keepalive sent at sentAt was answered with this TTL (0: the lease is gone). */
  | {
      readonly kind: 'keepalive-answered';
      readonly leaseId: string;
      readonly sentAt: number;
      readonly ttl: string | number;
    }
  /** A keepalive failed without an answer (etcd down, deadline, connection refused). */
  | { readonly kind: 'keepalive-failed'; readonly leaseId: string; readonly error: string }
  /** etcd says the lease does not exist (revoked or expired). */
  | { readonly kind: 'lease-invalid'; readonly leaseId: string }
  /** The clock was read (a timer fired or someone asked). */
  | { readonly kind: 'tick'; readonly now: number }
  /** This node gave the role up (release or close). */
  | { readonly kind: 'released' };

export interface LeaseStep {
  readonly state: LeaseState;
  /** Set once, when a held lease is lost: the reason. */
  readonly lost: string | null;
}

export const NO_LEASE: LeaseState = { kind: 'none' };

export function stepLease(state: LeaseState, event: LeaseEvent, timing: LeaseTiming): LeaseStep {
  const stay: LeaseStep = { state, lost: null };
  if (event.kind === 'granted') {
    return {
      state: {
        kind: 'held',
        leaseId: event.leaseId,
        validUntil: validityFrom(event.sentAt, event.ttlSeconds, timing),
        lastError: null,
      },
      lost: null,
    };
  }
  if (event.kind === 'released') return { state: NO_LEASE, lost: null };
  if (state.kind !== 'held') return stay;
  switch (event.kind) {
    case 'tick':
      if (event.now < state.validUntil) return stay;
      return {
        state: NO_LEASE,
        lost:
          state.lastError === null
            ? 'no keepalive was answered in time: the lease validity ran out'
            : `keepalives failed until the lease validity ran out (last error: ${state.lastError})`,
      };
    case 'keepalive-answered': {
      if (event.leaseId !== state.leaseId) return stay;
      const answer = interpretKeepalive(event.ttl);
      if (answer.kind === 'expired') return { state: NO_LEASE, lost: 'etcd says the lease has expired' };
      const validUntil = Math.max(state.validUntil, validityFrom(event.sentAt, answer.ttlSeconds, timing));
      return { state: { ...state, validUntil, lastError: null }, lost: null };
    }
    case 'keepalive-failed':
      if (event.leaseId !== state.leaseId) return stay;
      return { state: { ...state, lastError: event.error }, lost: null };
    case 'lease-invalid':
      if (event.leaseId !== state.leaseId) return stay;
      return { state: NO_LEASE, lost: 'etcd says the lease no longer exists' };
  }
}

/** The lease is held and still valid at `now`. */
export function leaseValidAt(state: LeaseState, now: number): boolean {
  return state.kind === 'held' && now < state.validUntil;
}
