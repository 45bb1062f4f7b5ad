// How a disk's generation identifiers change, following DRBD's generation identifier tuple (DRBD
// user's guide, "Generation identifiers"): a new data generation starts at the initial full sync,
// when a primary loses its peer, and when a disconnected node becomes primary; a finished resync
// retires the bitmap generation into history. Every function returns a new tuple; none draws random
// numbers (the caller passes a fresh random 64-bit identifier in).
import { ReplicationStateError } from './errors.js';
import type { Generations } from './types.js';

const MAX_GENERATION_ID = (1n << 64n) - 1n;

/** True when `id` can name a data generation: a non-zero unsigned 64-bit integer. */
export function isGenerationId(id: bigint): boolean {
  return id > 0n && id <= MAX_GENERATION_ID;
}

/** True when the disk holds no data generation yet (never synced, never written as primary). */
export function isJustCreated(g: Generations): boolean {
  return g.current === 0n;
}

/** True when `id` (non-zero) is one of the two generations before `g.current`. */
export function inHistory(g: Generations, id: bigint): boolean {
  return id !== 0n && (g.history[0] === id || g.history[1] === id);
}

/** Every non-zero identifier the tuple remembers: current, bitmap and history. */
export function knownIds(g: Generations): bigint[] {
  return [g.current, g.bitmap, g.history[0], g.history[1]].filter((id) => id !== 0n);
}

/**
 * A new data generation on this node: called when a primary loses its peer, or when a node that is
 * not connected becomes primary. The write-intent bitmap starts counting changes against the
 * generation the peer last had, so `bitmap := current`, but only when the bitmap is not already in
 * use (`bitmap == 0n`): a bitmap already in use counts from an older generation the peer may still
 * hold, and replacing it would lose the changes recorded since. Then `current := newCurrent`;
 * history is unchanged. A secondary that loses its peer keeps its tuple as it is (it writes nothing).
 */
export function startNewGeneration(g: Generations, newCurrent: bigint): Generations {
  assertFreshId(g, newCurrent, 'the new current generation');
  return {
    current: newCurrent,
    bitmap: g.bitmap === 0n ? g.current : g.bitmap,
    history: g.history,
  };
}

/**
 * The tuple after a successful resync.
 *
 * - Sync source (`peerCurrent` omitted): `current` stays; the bitmap generation, if one was in use,
 *   moves into history (`history := [bitmap, history[0]]`, the oldest entry is dropped) and
 *   `bitmap := 0n`, because both disks now hold `current` and the bitmap is empty. A source that
 *   had no bitmap in use (a full sync) keeps its history as it is.
 * - Sync target (`peerCurrent` given: the source's current): adopts it (`current := peerCurrent`),
 *   so both sides name the same generation; its own former current moves into history (it is an
 *   ancestor of the adopted data, and keeping it lets a later handshake recognise a stale copy), and
 *   `bitmap := 0n`: whatever the target's bitmap tracked was overwritten by the resync.
 */
export function finishResync(g: Generations, peerCurrent?: bigint): Generations {
  if (peerCurrent === undefined) {
    if (g.bitmap === 0n) return g;
    return { current: g.current, bitmap: 0n, history: [g.bitmap, g.history[0]] };
  }
  assertGenerationId(peerCurrent, "the sync source's current generation");
  const keepsOldCurrent = g.current !== 0n && g.current !== peerCurrent;
  return {
    current: peerCurrent,
    bitmap: 0n,
    history: keepsOldCurrent ? [g.current, g.history[0]] : g.history,
  };
}

/**
 * The source's tuple when an administrator starts the first full sync of a just-created pair: its
 * data becomes generation `newCurrent`. The target stays just created until the sync is done, then
 * adopts `newCurrent` through `finishResync(target, newCurrent)`. Until then the handshake sees one
 * side just created and resumes the full sync from the source.
 */
export function initialSyncGenerations(newCurrent: bigint): Generations {
  assertGenerationId(newCurrent, 'the initial generation');
  return { current: newCurrent, bitmap: 0n, history: [0n, 0n] };
}

function assertGenerationId(id: bigint, what: string): void {
  if (!isGenerationId(id)) {
    throw new ReplicationStateError(
      'generation-invalid',
      `${what} must be a non-zero unsigned 64-bit integer, got ${id.toString()}`,
    );
  }
}

function assertFreshId(g: Generations, id: bigint, what: string): void {
  assertGenerationId(id, what);
  if (knownIds(g).includes(id)) {
    throw new ReplicationStateError(
      'generation-invalid',
      `${what} ${id.toString(16)} is already in the tuple: generation identifiers must be fresh random numbers`,
    );
  }
}
