// What the data replication side (src/datarep) may ask of the NAS side (src/nas): a share's location and
// frozen snapshots of its NAS volume. The NAS service implements it; datarep tests may fake it.

/** A share on a NAS volume: a directory inside the volume that users and replication address by name. */
export interface ShareView {
  readonly name: string;
  readonly comment: string;
  /** The NAS volume the share lives on. */
  readonly volume: string;
  /** The share's directory relative to the volume's root ('' for the root itself). */
  readonly relativePath: string;
  /** Absolute path of the share's directory on this node. */
  readonly path: string;
  /** Set when the share is a data replication destination (served by the replication agent). */
  readonly dataReplication: { readonly enabled: boolean; readonly id: string } | null;
}

export type NasSnapshotMode = 'btrfs' | 'reflink' | 'copy';

/** A point-in-time, read-only copy of a whole NAS volume. */
export interface NasSnapshotView {
  readonly volume: string;
  readonly name: string;
  readonly createdAt: string;
  readonly mode: NasSnapshotMode;
  /** Absolute path of the snapshot's root directory (the volume's root as it was). */
  readonly path: string;
  /** Bytes the snapshot costs in the pool now (full copy: its size; reflink/btrfs: shared until changed). */
  readonly bytes: number;
}

export interface NasControl {
  /** Throws a not-found TandemError when there is no such share. */
  share(name: string): ShareView;
  shares(): ShareView[];
  /** Freezes the volume now. `name` defaults to a timestamped one. */
  createSnapshot(volume: string, options?: { readonly name?: string }): Promise<NasSnapshotView>;
  deleteSnapshot(volume: string, name: string): Promise<void>;
  snapshots(volume: string): NasSnapshotView[];
}
