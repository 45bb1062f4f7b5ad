// What fencing found out, and what the primary may do with it. Before a primary writes alone (the
// peer stopped acknowledging), the peer's copy must be known not to be promotable, or the peer may be
// serving already and every write here would be one the other copy never gets.
//
// - confirmed: the peer answered, as a secondary, that its copy is not up to date now (outdated or
//   resyncing): it will not take over by itself, so this node may write alone.
// - no-answer: the peer could not be asked (dead, or every path to it is cut). Without a third vote
//   this node cannot tell which; in ping-node mode it writes alone (docs/failover.md says what that
//   risks when both links are cut).
// - refused: the peer answered and did not outdate its copy: it is primary or taking over. This node
//   must never acknowledge a write alone; it suspends I/O and gives up the role.

export type FencingVerdict =
  | { readonly kind: 'confirmed'; readonly peerDisk: string }
  | { readonly kind: 'no-answer' }
  | { readonly kind: 'refused'; readonly reason: string };

/** The answering side's reply to an outdate request, as it travels in a heartbeat request. */
export interface OutdateReply {
  readonly ok?: unknown;
  readonly role?: unknown;
  readonly diskState?: unknown;
  readonly error?: unknown;
}

const NOT_PROMOTABLE = new Set(['outdated', 'inconsistent']);

/** Reads an outdate reply (null: no answer). Anything but a secondary's clear "my copy is outdated"
 * is a refusal. Pure. */
export function verdictOf(reply: OutdateReply | null): FencingVerdict {
  if (reply === null) return { kind: 'no-answer' };
  if (reply.ok !== true) {
    return { kind: 'refused', reason: typeof reply.error === 'string' ? reply.error : 'the peer refused' };
  }
  if (reply.role !== 'secondary') {
    return { kind: 'refused', reason: `the peer's copy is ${String(reply.role)}` };
  }
  if (typeof reply.diskState !== 'string' || !NOT_PROMOTABLE.has(reply.diskState)) {
    return { kind: 'refused', reason: `the peer's copy is still ${String(reply.diskState)}` };
  }
  return { kind: 'confirmed', peerDisk: reply.diskState };
}
