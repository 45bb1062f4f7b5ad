// The rules for role changes (promote, demote, automatic promotion by failover) and the small table of
// how disk states move on replication events. DRBD's rules: only up-to-date data is promoted without
// force, never two primaries, and a disk in the middle of being resynced is never usable.
import type { ConnectionState, DiskState, Role } from './types.js';

export type RuleResult =
  { readonly ok: true; readonly warning?: string } | { readonly ok: false; readonly reason: string };

/** What a promotion decision looks at: this node's disk and connection, and what it knows of the peer. */
export interface PromoteInput {
  readonly diskState: DiskState;
  readonly connection: ConnectionState;
  /** The peer's role, `unknown` while not connected. */
  readonly peerRole: Role | 'unknown';
  /** The peer's disk state, `unknown` while not connected. */
  readonly peerDiskState: DiskState;
}

export interface DemoteInput {
  readonly role: Role;
  /** Something still uses the volume (an exported target, an open handle): a secondary serves nothing. */
  readonly inUse: boolean;
}

const CONNECTED_STATES: readonly ConnectionState[] = ['connected', 'sync-source', 'sync-target', 'verifying'];

/**
 * May this node become primary? Without `force` only an up-to-date disk may. `force` lets an
 * administrator promote a consistent or outdated disk (data the peer took after this disk fell behind
 * is then lost), but never an inconsistent one: its blocks are a mix of two generations (a resync into
 * it is running or was cut off), so no generation's data is on it, whatever the administrator says.
 */
export function canPromote(input: PromoteInput, force: boolean): RuleResult {
  const refusal = promotionRefusal(input);
  if (refusal !== undefined) return { ok: false, reason: refusal };
  if (input.diskState === 'up-to-date') return { ok: true };

  const state = input.diskState;
  if (CONNECTED_STATES.includes(input.connection) && input.peerDiskState === 'up-to-date') {
    return {
      ok: false,
      reason: `this disk is ${state} and the connected peer is up-to-date: promote the peer, or let the resync finish`,
    };
  }
  if (!force) {
    return {
      ok: false,
      reason: `this disk is ${state}: it may lack the latest writes, so promoting it needs force`,
    };
  }
  return {
    ok: true,
    warning:
      `forced promotion of a ${state} disk: writes the peer took after this disk fell behind will be lost ` +
      'when the two reconnect (or they will be in split brain)',
  };
}

/**
 * May failover promote this node on its own? Only an up-to-date disk, never over a primary peer.
 * (Whether the peer is really gone, fencing and quorum are the failover's business, not this rule's.)
 */
export function canAutoPromote(input: PromoteInput): RuleResult {
  const refusal = promotionRefusal(input);
  if (refusal !== undefined) return { ok: false, reason: refusal };
  if (input.diskState !== 'up-to-date') {
    return {
      ok: false,
      reason: `this disk is ${input.diskState}: automatic failover only promotes an up-to-date disk; an administrator may force it`,
    };
  }
  return { ok: true };
}

/** May this node become secondary? Demoting a secondary is a no-op. */
export function canDemote(input: DemoteInput): RuleResult {
  if (input.role === 'secondary') return { ok: true, warning: 'this node is already secondary' };
  if (input.inUse) {
    return { ok: false, reason: 'the volume is still in use: stop exporting it before demoting this node' };
  }
  return { ok: true };
}

/** The refusals no force overrides. */
function promotionRefusal(input: PromoteInput): string | undefined {
  if (input.peerRole === 'primary') {
    return 'the peer is primary: there is never more than one primary; demote the peer first';
  }
  if (input.diskState === 'inconsistent') {
    return input.connection === 'sync-target'
      ? 'this disk is the target of a running resync: it is half synced and holds no usable data; wait for the resync to finish'
      : 'this disk is inconsistent (an unfinished resync, or never synced): it holds no usable data; resync it from the peer first';
  }
  if (input.diskState === 'unknown') return 'this node does not know the state of its own disk';
  return undefined;
}

/**
 * Events that move a disk state. Most apply to this node's own disk; `peer-lost` and `peer-fenced`
 * apply to this node's record of the peer's disk.
 */
export type DiskEvent =
  | 'resync-started-as-target'
  | 'resync-finished-as-target'
  | 'resync-finished-as-source'
  | 'initial-sync-started-as-source'
  | 'connected-in-sync'
  | 'outdate-received'
  | 'forced-promotion'
  | 'attached'
  | 'attached-with-peer-outdated'
  | 'peer-lost'
  | 'peer-fenced';

const HAS_COMPLETE_DATA: readonly DiskState[] = ['up-to-date', 'consistent', 'outdated'];

const TRANSITIONS: Readonly<Record<DiskEvent, (current: DiskState) => DiskState>> = {
  // Blocks are overwritten out of order: until the end, the disk holds no single generation.
  'resync-started-as-target': () => 'inconsistent',
  'resync-finished-as-target': () => 'up-to-date',
  'resync-finished-as-source': (current) => (current === 'consistent' ? 'up-to-date' : current),
  // The administrator declares the just-created source's data generation one.
  'initial-sync-started-as-source': () => 'up-to-date',
  // Same generation on both sides after the handshake: whatever was complete is now known newest.
  'connected-in-sync': (current) => (HAS_COMPLETE_DATA.includes(current) ? 'up-to-date' : current),
  // The primary goes on without this secondary; inconsistent is already worse than outdated.
  'outdate-received': (current) =>
    current === 'up-to-date' || current === 'consistent' ? 'outdated' : current,
  'forced-promotion': (current) =>
    current === 'consistent' || current === 'outdated' ? 'up-to-date' : current,
  // Alone after a restart a node cannot tell whether the peer wrote since: complete, not newest.
  attached: (current) => (current === 'up-to-date' ? 'consistent' : current),
  // ... unless it outdated its peer before going down: then no one can have written since.
  'attached-with-peer-outdated': (current) => current,
  'peer-lost': () => 'unknown',
  'peer-fenced': (current) => (current === 'inconsistent' ? current : 'outdated'),
};

export const DISK_EVENTS = Object.keys(TRANSITIONS) as DiskEvent[];

/** The disk state after `event`, from `current` (see the table in docs/replication-states.md). */
export function diskStateAfter(event: DiskEvent, current: DiskState): DiskState {
  return TRANSITIONS[event](current);
}
