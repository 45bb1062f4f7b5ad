// The sync decision of a connection handshake: from both nodes' generation identifiers, roles, disk
// states and crashed-primary flags, whether they are in sync, which side resyncs which (and whether
// the write-intent bitmap suffices or the whole volume must be copied), or why they must stay apart.
// It follows DRBD's use of generation identifiers (DRBD user's guide, "How DRBD uses generation
// identifiers"); docs/replication-states.md has the table and the reasoning for each row.
//
// Every rule is applied in both directions, so the decision is symmetric: decideSync(a, b) and
// decideSync(b, a) agree, with the source flipped. Reasons speak of "the source" and "the target",
// never of "local" and "peer", so both nodes log the same sentence.
import { inHistory, isJustCreated, knownIds } from './generations.js';
import type { ConnectionState, DiskState, Generations, Role } from './types.js';

/** What one node reports about its side of a replicated volume at the handshake. */
export interface NodeView {
  readonly generations: Generations;
  readonly diskState: DiskState;
  readonly role: Role;
  /** The node was primary when it last went down without a clean shutdown (DRBD's crashed-primary flag). */
  readonly crashedPrimary: boolean;
}

export type SyncSide = 'local' | 'peer';

export type SyncDecision =
  | { readonly kind: 'in-sync' }
  | { readonly kind: 'resync'; readonly source: SyncSide; readonly full: boolean; readonly reason: string }
  | { readonly kind: 'split-brain'; readonly reason: string }
  | { readonly kind: 'unrelated-data'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

export interface SyncDecisionOptions {
  /**
   * The side that wins when nothing in the two views tells them apart (both crashed as primary with
   * the same generation, same role and disk state). Both nodes must derive it from the same fact,
   * e.g. the node whose name sorts first, so that they pass opposite values. Without it such a tie
   * is refused and an administrator picks the source.
   */
  readonly tieWinner?: SyncSide;
}

/** Sync sources must hold complete data of their generation. */
const SOURCE_DISK_STATES: readonly DiskState[] = ['up-to-date', 'consistent'];

/** The sync decision for the local node; `decideSync(peer, local)` is the peer's view of the same. */
export function decideSync(local: NodeView, peer: NodeView, options: SyncDecisionOptions = {}): SyncDecision {
  if (local.role === 'primary' && peer.role === 'primary') {
    return refused('both nodes are primary: there may be only one primary, demote one of them first');
  }
  const decision = compareLineage(local, peer, options.tieWinner);
  if (decision.kind !== 'resync') return decision;
  const [source, target] = decision.source === 'local' ? [local, peer] : [peer, local];
  if (!SOURCE_DISK_STATES.includes(source.diskState)) {
    return refused(
      `the sync source's disk is ${source.diskState}, but a sync source must be up-to-date or consistent ` +
        `(${decision.reason})`,
    );
  }
  if (target.role === 'primary') {
    return refused(
      `the sync target is primary: a resync would overwrite the data it serves; demote it first ` +
        `(${decision.reason})`,
    );
  }
  return decision;
}

/**
 * Where the local node's connection goes after the handshake: a resync makes it sync source or
 * target, in sync means connected, and every refusal (split brain, unrelated data, refused) leaves it
 * standalone until an administrator acts.
 */
export function connectionStateAfterHandshake(decision: SyncDecision): ConnectionState {
  switch (decision.kind) {
    case 'in-sync':
      return 'connected';
    case 'resync':
      return decision.source === 'local' ? 'sync-source' : 'sync-target';
    default:
      return 'standalone';
  }
}

type Verdict = 'local' | 'peer' | 'both' | undefined;

/** Which sides satisfy `rule(source, target)`. */
function orient(
  local: NodeView,
  peer: NodeView,
  rule: (source: NodeView, target: NodeView) => boolean,
): Verdict {
  const localIsSource = rule(local, peer);
  const peerIsSource = rule(peer, local);
  if (localIsSource && peerIsSource) return 'both';
  if (localIsSource) return 'local';
  return peerIsSource ? 'peer' : undefined;
}

function compareLineage(local: NodeView, peer: NodeView, tieWinner: SyncSide | undefined): SyncDecision {
  const l = local.generations;
  const p = peer.generations;

  if (isJustCreated(l) && isJustCreated(p)) {
    return refused('no data yet: both disks were just created; start the initial sync on the source');
  }
  const hasData = orient(
    local,
    peer,
    (s, t) => !isJustCreated(s.generations) && isJustCreated(t.generations),
  );
  if (hasData === 'local' || hasData === 'peer') {
    return resync(hasData, true, 'the target was just created and holds no data generation yet');
  }

  if (l.current === p.current) return compareSameGeneration(local, peer, tieWinner);

  if (l.bitmap !== 0n && l.bitmap === p.bitmap) {
    return splitBrain(
      "both nodes started a new generation from the same one while apart: both wrote, and neither has the other's writes",
    );
  }

  const wroteWhileApart = orient(
    local,
    peer,
    (s, t) => s.generations.bitmap !== 0n && s.generations.bitmap === t.generations.current,
  );
  if (wroteWhileApart === 'both') {
    return splitBrain("each node's bitmap counts changes from the other's current generation");
  }
  if (wroteWhileApart) {
    return resync(
      wroteWhileApart,
      false,
      "the target still holds the generation the source's bitmap counts changes from: the source wrote while they were apart",
    );
  }

  const targetIsAncestor = orient(local, peer, (s, t) => inHistory(s.generations, t.generations.current));
  if (targetIsAncestor === 'both') {
    return splitBrain("each node's current generation is in the other's history");
  }
  if (targetIsAncestor) {
    return resync(
      targetIsAncestor,
      true,
      "the target's current generation is an ancestor in the source's history: the source's bitmap does not cover what the target missed",
    );
  }

  // The source missed the end of a resync (its bitmap stayed in use) and has written since; the
  // target adopted the source's generation at that end, which put its own former current (the
  // source's bitmap generation) first in its history, and has done nothing since (no bitmap in use).
  const lostResyncEnd = orient(
    local,
    peer,
    (s, t) =>
      s.generations.bitmap !== 0n &&
      t.generations.bitmap === 0n &&
      t.generations.history[0] === s.generations.bitmap,
  );
  if (lostResyncEnd === 'both') {
    return splitBrain("each node's bitmap generation is the other's last former generation");
  }
  if (lostResyncEnd) {
    return resync(
      lostResyncEnd,
      true,
      "the source's bitmap generation is the target's last former generation and the target has not written since: the source missed the end of the last resync and wrote again",
    );
  }

  const localIds = knownIds(l);
  if (knownIds(p).some((id) => localIds.includes(id))) {
    return splitBrain('the two disks share an ancestor generation but each has moved on from it on its own');
  }
  return {
    kind: 'unrelated-data',
    reason: 'the two disks share no generation identifier: they never were copies of each other',
  };
}

/** Both hold the same current generation: in sync, unless a disk state or a crash says otherwise. */
function compareSameGeneration(
  local: NodeView,
  peer: NodeView,
  tieWinner: SyncSide | undefined,
): SyncDecision {
  const localInconsistent = local.diskState === 'inconsistent';
  const peerInconsistent = peer.diskState === 'inconsistent';
  if (localInconsistent && peerInconsistent) {
    return refused('both disks are inconsistent: neither has complete data to sync from');
  }
  if (localInconsistent || peerInconsistent) {
    return resync(
      localInconsistent ? 'peer' : 'local',
      true,
      "same generation, but the target's disk is inconsistent: an earlier resync into it did not finish",
    );
  }

  const bitmapInUse = orient(
    local,
    peer,
    (s, t) => s.generations.bitmap !== 0n && t.generations.bitmap === 0n,
  );
  if (bitmapInUse === 'local' || bitmapInUse === 'peer') {
    return resync(
      bitmapInUse,
      false,
      "same generation, but the source's bitmap is still in use: it missed the end of the last resync",
    );
  }

  if (local.crashedPrimary !== peer.crashedPrimary) {
    return resync(
      local.crashedPrimary ? 'local' : 'peer',
      false,
      'the source crashed as primary: writes in its active extents may never have reached the target',
    );
  }
  if (local.crashedPrimary) return breakCrashTie(local, peer, tieWinner);
  return { kind: 'in-sync' };
}

const DISK_STATE_RANK: Readonly<Record<DiskState, number>> = {
  'up-to-date': 4,
  consistent: 3,
  outdated: 2,
  inconsistent: 1,
  unknown: 0,
};

/** Both crashed as primary (only possible with both primary at once): one side's activity log must win. */
function breakCrashTie(local: NodeView, peer: NodeView, tieWinner: SyncSide | undefined): SyncDecision {
  const reason = 'both crashed as primary with the same generation; ';
  if (local.role !== peer.role) {
    return resync(
      local.role === 'primary' ? 'local' : 'peer',
      false,
      `${reason}the one that is primary now wins`,
    );
  }
  const rankDifference = DISK_STATE_RANK[local.diskState] - DISK_STATE_RANK[peer.diskState];
  if (rankDifference !== 0) {
    return resync(
      rankDifference > 0 ? 'local' : 'peer',
      false,
      `${reason}the one with the better disk state wins`,
    );
  }
  if (tieWinner) return resync(tieWinner, false, `${reason}the agreed tie-breaker picks the source`);
  return refused(`${reason}nothing tells them apart: an administrator must pick the sync source`);
}

function resync(source: SyncSide, full: boolean, reason: string): SyncDecision {
  return { kind: 'resync', source, full, reason };
}

function splitBrain(reason: string): SyncDecision {
  return { kind: 'split-brain', reason };
}

function refused(reason: string): SyncDecision {
  return { kind: 'refused', reason };
}
