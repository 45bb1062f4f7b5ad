// The witness: the third vote of a failover pair, as a lease held in etcd. The active node holds the
// key `/tandem/<pairId>/active`, whose value is its node name, attached to an etcd lease that it
// keeps alive; when the node stops keeping it alive (dead, paused, cut off), etcd deletes the key
// at the end of the TTL and the peer may take it. A node acts as the holder only while holds(),
// computed from its own monotonic clock and the send times of the requests etcd answered
// (witness-lease.ts), so that a node that was paused past the TTL knows on resuming that it holds
// nothing, before any message arrives. docs/witness.md tells the whole story.
//
// etcd is spoken through the `etcd3` client (gRPC). Every request has a deadline; nothing here
// throws at the caller except the constructor on bad options.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError, type IOptions, type Lease } from 'etcd3';
import { messageOf } from '../../lib/errors.js';
import type { Logger } from '../../observability/logger.js';
import {
  NO_LEASE,
  interpretAcquire,
  leaseTiming,
  leaseValidAt,
  stepLease,
  witnessKey,
  witnessOptionProblems,
  type AcquireStep,
  type LeaseEvent,
  type LeaseState,
  type LeaseTiming,
  type SeenKey,
} from './witness-lease.js';
import type { WitnessGrant, WitnessPort, WitnessSettings } from './witness-port.js';

export type { WitnessGrant };

/** The settings (endpoints, pairId: the key is `/tandem/<pairId>/active`, nodeName: the value this
 * node writes, ttlSeconds: an integer >= 1), and where to log. */
export interface WitnessOptions extends WitnessSettings {
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Monotonic ms; default performance.now. */
  readonly now?: () => number;
}

/** At most this many keepalives wait for an answer at once (each has a deadline anyway). */
const MAX_KEEPALIVES_IN_FLIGHT = 3;
/** Attempts of one acquire transaction when the key changes under it. */
const MAX_WRITE_ATTEMPTS = 3;

const unreachable = (error: string): WitnessGrant => ({ kind: 'unreachable', error });

/** Rejects after ms if the promise has not settled by then (a backstop to the gRPC deadline). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Emits 'lost' (reason: string) once when a held lease is lost: etcd says it is gone, or no keepalive
 * was answered before the validity ran out. Not emitted on release() or close().
 */
export class Witness extends EventEmitter implements WitnessPort {
  private readonly options: WitnessOptions;
  private readonly timing: LeaseTiming;
  private readonly key: string;
  private readonly now: () => number;
  private readonly client: Etcd3;
  private state: LeaseState = NO_LEASE;
  /** The etcd3 lease object behind state (null when none is held). */
  private lease: Lease | null = null;
  private acquiring: Promise<WitnessGrant> | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private keepalivesInFlight = 0;
  private keepaliveFailing = false;
  /** Revocations still under way (close() waits for them). */
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(options: WitnessOptions) {
    super();
    const problems = witnessOptionProblems(options);
    if (problems.length > 0) throw new Error(`witness: ${problems.join('; ')}`);
    this.options = options;
    this.timing = leaseTiming(options.ttlSeconds);
    this.key = witnessKey(options.pairId);
    this.now = options.now ?? (() => performance.now());
    const timeoutMs = this.timing.requestTimeoutMs;
    const clientOptions: IOptions = {
      hosts: options.endpoints.map((endpoint) => endpoint.replace(/\/$/, '')),
      dialTimeout: timeoutMs,
      defaultCallOptions: () => ({ deadline: Date.now() + timeoutMs }),
      faultHandling: {
        // No circuit breaker: it would refuse every request for seconds after a few failures, longer
        // than a lease lives. With several endpoints, a failed request is tried on the next one.
        host: () => noop,
        global:
          options.endpoints.length > 1
            ? retry(handleWhen(isRecoverableError), { maxAttempts: options.endpoints.length - 1 })
            : noop,
      },
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': Math.max(200, this.timing.keepaliveMs),
      },
    };
    this.client = new Etcd3(clientOptions);
  }

  /**
   * Takes the active role: grants a new lease and writes the key with it only if the key is absent
   * (or already this node's); keeps the lease alive from then on. Never throws: errors are
   * 'unreachable'. Calls made while one is under way get its answer.
   */
  acquire(): Promise<WitnessGrant> {
    if (this.acquiring === null) {
      this.acquiring = this.acquireOnce().finally(() => {
        this.acquiring = null;
      });
    }
    return this.acquiring;
  }

  /** This node holds the role right now: granted, not released or lost, and now() < validUntil(). */
  holds(): boolean {
    return leaseValidAt(this.state, this.now());
  }

  /**
   * Monotonic ms until which this node may act as the holder: the send time of the last keepalive
   * (or grant) that etcd answered, plus the TTL, minus the safety margin. 0 when not held.
   */
  validUntil(): number {
    return this.holds() && this.state.kind === 'held' ? this.state.validUntil : 0;
  }

  /** Gives the role up: revokes the lease (the key goes with it), so the peer may take it at once. */
  async release(): Promise<void> {
    if (this.acquiring !== null) await this.acquiring;
    const wasHeld = this.state.kind === 'held';
    await this.dropLease();
    if (wasHeld) this.options.logger.info({ key: this.key }, 'witness: role released');
  }

  /** Who holds the key now (null: nobody), for status; null also when etcd cannot be reached. */
  async holder(): Promise<string | null> {
    if (this.closed) return null;
    try {
      return await this.client.get(this.key).string();
    } catch {
      return null;
    }
  }

  /** Stops keeping the lease alive and revokes it (this node could no longer claim it anyway). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.acquiring !== null) await this.acquiring;
    await this.dropLease();
    await Promise.allSettled([...this.pending]);
    this.client.close();
  }

  /** A method, not the field, so that checks after an await are not narrowed away. */
  private isClosed(): boolean {
    return this.closed;
  }

  // --- acquiring --------------------------------------------------------------------------------------

  private async acquireOnce(): Promise<WitnessGrant> {
    if (this.closed) return unreachable('the witness is closed');
    this.apply({ kind: 'tick', now: this.now() });
    if (this.state.kind === 'held') return { kind: 'granted' };

    const sentAt = this.now();
    const lease = this.client.lease(this.options.ttlSeconds, {
      autoKeepAlive: false,
      deadline: Date.now() + this.timing.requestTimeoutMs,
    });
    try {
      const leaseId = await withTimeout(lease.grant(), this.timing.requestTimeoutMs + 1000, 'lease grant');
      const step = await this.writeKey(leaseId);
      if (step.kind === 'held-by-peer') {
        this.revokeInBackground(lease);
        return { kind: 'held-by-peer', holder: step.holder };
      }
      if (this.isClosed()) {
        this.revokeInBackground(lease);
        return unreachable('the witness was closed while acquiring');
      }
      this.lease = lease;
      this.keepaliveFailing = false;
      this.apply({ kind: 'granted', leaseId, sentAt, ttlSeconds: this.options.ttlSeconds });
      if (!this.holds()) {
        // etcd answered so late that the lease would already be past its validity here.
        await this.dropLease();
        return unreachable(`etcd answered too slowly: no time was left on a ${this.timing.ttlMs} ms lease`);
      }
      this.scheduleKeepalive();
      this.options.logger.info(
        { key: this.key, lease: leaseId, ttlSeconds: this.options.ttlSeconds, took: this.now() - sentAt },
        'witness: role granted',
      );
      return { kind: 'granted' };
    } catch (error) {
      // The write may have happened even though its answer was lost: revoking takes the key away.
      this.revokeInBackground(lease);
      return unreachable(messageOf(error));
    }
  }

  /** Writes the key with the lease if it is absent or this node's; otherwise says who holds it. */
  private async writeKey(leaseId: string): Promise<Exclude<AcquireStep, { kind: 'take-over' | 'retry' }>> {
    let modRevision: string | null = null;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const compare =
        modRevision === null
          ? this.client.if(this.key, 'Create', '==', 0)
          : this.client.if(this.key, 'Mod', '==', modRevision);
      const answer = await compare
        .then(this.client.put(this.key).value(this.options.nodeName).lease(leaseId))
        .else(this.client.get(this.key))
        .commit();
      const step = interpretAcquire(answer.succeeded, seenKey(answer.responses), this.options.nodeName);
      switch (step.kind) {
        case 'written':
          if (modRevision !== null) {
            this.options.logger.info(
              { key: this.key },
              'witness: the key still named this node from an earlier lease; taken over',
            );
          }
          return step;
        case 'held-by-peer':
          return step;
        case 'take-over':
          modRevision = step.modRevision;
          break;
        case 'retry':
          modRevision = null;
          break;
      }
    }
    throw new Error(`the key ${this.key} kept changing while it was being written`);
  }

  // --- keeping the lease alive ------------------------------------------------------------------------

  private scheduleKeepalive(): void {
    if (this.keepaliveTimer !== null) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => {
      this.keepaliveTimer = null;
      this.apply({ kind: 'tick', now: this.now() });
      if (this.state.kind !== 'held') return;
      this.sendKeepalive();
      this.scheduleKeepalive();
    }, this.timing.keepaliveMs);
    this.keepaliveTimer.unref();
  }

  private sendKeepalive(): void {
    const lease = this.lease;
    if (this.state.kind !== 'held' || lease === null) return;
    if (this.keepalivesInFlight >= MAX_KEEPALIVES_IN_FLIGHT) return;
    const leaseId = this.state.leaseId;
    const sentAt = this.now();
    this.keepalivesInFlight++;
    withTimeout(
      lease.keepaliveOnce({ deadline: Date.now() + this.timing.requestTimeoutMs }),
      this.timing.requestTimeoutMs + 1000,
      'lease keepalive',
    )
      .then((answer) => {
        if (this.keepaliveFailing && this.lease === lease) {
          this.keepaliveFailing = false;
          this.options.logger.info({ key: this.key }, 'witness: keepalives answered again');
        }
        this.apply({ kind: 'keepalive-answered', leaseId, sentAt, ttl: answer.TTL });
      })
      .catch((error: unknown) => {
        if (error instanceof EtcdLeaseInvalidError) {
          this.apply({ kind: 'lease-invalid', leaseId });
          return;
        }
        if (!this.keepaliveFailing && this.lease === lease) {
          this.keepaliveFailing = true;
          this.options.logger.warn({ key: this.key, err: messageOf(error) }, 'witness: keepalive failed');
        }
        this.apply({ kind: 'keepalive-failed', leaseId, error: messageOf(error) });
      })
      .finally(() => {
        this.keepalivesInFlight--;
      });
  }

  /** Feeds an event to the lease state machine and acts on the outcome. */
  private apply(event: LeaseEvent): void {
    const before = this.state;
    const { state, lost } = stepLease(this.state, event, this.timing);
    this.state = state;
    if (lost !== null) {
      this.onLost(lost);
      return;
    }
    if (state.kind === 'held' && (before.kind !== 'held' || before.validUntil !== state.validUntil)) {
      this.armExpiry(state.validUntil);
    }
  }

  /** Wakes up when the validity runs out, so that 'lost' comes on time without waiting for a keepalive. */
  private armExpiry(validUntil: number): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    const delay = Math.max(0, Math.ceil(validUntil - this.now())) + 1;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.apply({ kind: 'tick', now: this.now() });
      if (this.state.kind === 'held') this.armExpiry(this.state.validUntil);
    }, delay);
    this.expiryTimer.unref();
  }

  private onLost(reason: string): void {
    const lease = this.lease;
    this.lease = null;
    this.stopTimers();
    this.options.logger.warn({ key: this.key, reason }, 'witness: lease lost');
    // If etcd still has the lease (this node only lost track of it), revoking frees the key for the
    // peer at once. Only the lease is revoked, never the key deleted: the key may be the peer's by now.
    if (lease !== null) this.revokeInBackground(lease);
    try {
      this.emit('lost', reason);
    } catch (error) {
      this.options.logger.error({ err: messageOf(error) }, "witness: a 'lost' listener threw");
    }
  }

  // --- giving up --------------------------------------------------------------------------------------

  private async dropLease(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    this.stopTimers();
    this.apply({ kind: 'released' });
    if (lease !== null) await this.revoke(lease);
  }

  private stopTimers(): void {
    if (this.keepaliveTimer !== null) clearTimeout(this.keepaliveTimer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.keepaliveTimer = null;
    this.expiryTimer = null;
  }

  private async revoke(lease: Lease): Promise<void> {
    try {
      await withTimeout(
        lease.revoke({ deadline: Date.now() + this.timing.requestTimeoutMs }),
        this.timing.requestTimeoutMs + 1000,
        'lease revoke',
      );
    } catch (error) {
      this.options.logger.warn(
        { key: this.key, err: messageOf(error) },
        'witness: could not revoke the lease; etcd drops it at the end of its TTL',
      );
    }
  }

  private revokeInBackground(lease: Lease): void {
    const done = this.revoke(lease).finally(() => this.pending.delete(done));
    this.pending.add(done);
  }
}

/** The key as the else branch of an acquire transaction read it (null: absent). */
function seenKey(responses: readonly unknown[]): SeenKey | null {
  const first = responses[0] as
    { response_range?: { kvs?: { value: Buffer; mod_revision: string }[] } | null } | undefined;
  const kv = first?.response_range?.kvs?.[0];
  return kv === undefined ? null : { value: kv.value.toString('utf8'), modRevision: kv.mod_revision };
}
