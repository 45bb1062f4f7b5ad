// The vocabulary of volume replication (DRBD's), shared by every piece under src/replication/.

export type Role = 'primary' | 'secondary';

/** A disk's state as its node knows it; `unknown` is a peer's disk while not connected. */
export type DiskState = 'up-to-date' | 'consistent' | 'inconsistent' | 'outdated' | 'unknown';

export const DISK_STATES: readonly DiskState[] = [
  'up-to-date',
  'consistent',
  'inconsistent',
  'outdated',
  'unknown',
];

/** Where a replication task's connection is. */
export type ConnectionState =
  'standalone' | 'connecting' | 'connected' | 'sync-source' | 'sync-target' | 'verifying';

/**
 * Generation identifiers (DRBD's UUIDs), 64-bit random numbers. `current` names the data generation
 * the disk holds; `bitmap` is the generation the write-intent bitmap counts changes from (0 when the
 * bitmap is not in use, i.e. while connected and in sync); `history` keeps the two generations before.
 * All zero: a disk that was just created and never synced ("just created").
 */
export interface Generations {
  readonly current: bigint;
  readonly bitmap: bigint;
  readonly history: readonly [bigint, bigint];
}

export const JUST_CREATED: Generations = { current: 0n, bitmap: 0n, history: [0n, 0n] };
