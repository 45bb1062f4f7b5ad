// The witness as the failover service uses it (witness.ts implements it with an etcd lease): the
// active role is a lease that only one node can hold; a node that cannot renew it stops acting as
// the holder on its own clock, before the lease can expire for the other node.

export type WitnessGrant =
  | { readonly kind: 'granted' }
  | { readonly kind: 'held-by-peer'; readonly holder: string }
  | { readonly kind: 'unreachable'; readonly error: string };

export interface WitnessPort {
  /** Takes the role if nobody holds it (or this node does); never throws. */
  acquire(): Promise<WitnessGrant>;
  /** Holds the role right now, by this node's monotonic clock. */
  holds(): boolean;
  /** Gives the role up at once, so the peer may take it without waiting for the lease to expire. */
  release(): Promise<void>;
  /** Who holds the role now (null: nobody, or the witness cannot be reached). */
  holder(): Promise<string | null>;
  on(event: 'lost', listener: (reason: string) => void): unknown;
  close(): Promise<void>;
}

export interface WitnessSettings {
  readonly endpoints: readonly string[];
  /** The same on both nodes, different for every pair. */
  readonly pairId: string;
  readonly nodeName: string;
  readonly ttlSeconds: number;
}
