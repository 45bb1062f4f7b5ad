// The superblock's flag word (u32). Bits this code does not know are kept as they were read, so a
// newer writer's bits survive an older reader's rewrite of the superblock.

export interface MetadataFlags {
  /** bit 0: the file was closed cleanly (as found by open(); on disk the bit is clear while open). */
  readonly clean: boolean;
  /** bit 1: this node's disk is (or was, when it stopped) the primary: set while primary. */
  readonly wasPrimary: boolean;
  /** bit 2: the peer's disk is known to be outdated (it was fenced off while we went on alone). */
  readonly peerOutdated: boolean;
  /** bit 3: the next resync must copy everything, whatever the bitmap says. */
  readonly fullSyncNeeded: boolean;
  /** bit 4: open() found the file not closed cleanly while `wasPrimary` was set; cleared by the
   * engine once the resync that follows a primary's crash has run. */
  readonly crashedPrimary: boolean;
}

/** The flags a caller may change; `clean` belongs to open() and close(). */
export type SettableFlags = Partial<Omit<MetadataFlags, 'clean'>>;

export const FLAG_CLEAN = 1 << 0;
export const FLAG_WAS_PRIMARY = 1 << 1;
export const FLAG_PEER_OUTDATED = 1 << 2;
export const FLAG_FULL_SYNC_NEEDED = 1 << 3;
export const FLAG_CRASHED_PRIMARY = 1 << 4;

export function decodeFlags(word: number): MetadataFlags {
  return Object.freeze({
    clean: (word & FLAG_CLEAN) !== 0,
    wasPrimary: (word & FLAG_WAS_PRIMARY) !== 0,
    peerOutdated: (word & FLAG_PEER_OUTDATED) !== 0,
    fullSyncNeeded: (word & FLAG_FULL_SYNC_NEEDED) !== 0,
    crashedPrimary: (word & FLAG_CRASHED_PRIMARY) !== 0,
  });
}

/** `word` with the flags named in `changes` set or cleared; every other bit as it was. */
export function applyFlags(word: number, changes: SettableFlags): number {
  let next = word;
  next = withBit(next, FLAG_WAS_PRIMARY, changes.wasPrimary);
  next = withBit(next, FLAG_PEER_OUTDATED, changes.peerOutdated);
  next = withBit(next, FLAG_FULL_SYNC_NEEDED, changes.fullSyncNeeded);
  next = withBit(next, FLAG_CRASHED_PRIMARY, changes.crashedPrimary);
  return next >>> 0;
}

export function withBit(word: number, bit: number, value: boolean | undefined): number {
  if (value === undefined) return word >>> 0;
  return (value ? word | bit : word & ~bit) >>> 0;
}
