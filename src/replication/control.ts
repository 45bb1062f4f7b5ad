// What the API and the CLI can ask of volume replication on this node: the contract between
// api/routes/replication.ts and the replication service (src/replication/replication-service.ts).
import type { ConnectionState, DiskState, Role } from './state/types.js';

/** A volume's replication settings: which side of a pair it is, and where the other side is. */
export interface VolumeReplicationSettings {
  readonly volume: string;
  readonly mode: 'source' | 'destination';
  /** The peer node's replication address, host:port. */
  readonly mirrorServer: string;
}

/** This node's pairing with its peer (one peer per node). The secret is never returned. */
export interface PairingView {
  readonly nodeName: string;
  /** This node's replication listener, host:port. */
  readonly listen: string;
  readonly peerName: string | null;
  readonly paired: boolean;
  readonly tls: boolean;
  /** SHA-256 of this node's TLS certificate (give it to the peer), when TLS is on. */
  readonly fingerprint: string | null;
  readonly peerFingerprint: string | null;
}

export interface PairRequest {
  readonly peerName: string;
  /** 16..256 bytes; stored 0600 in the config store, never returned or logged. */
  readonly secret: string;
  readonly tls?: boolean;
  readonly peerFingerprint?: string;
}

/** A destination volume the peer offers (browse, for the task editor on the source). */
export interface DestinationVolume {
  readonly volume: string;
  readonly size: number;
  /** Why it cannot be chosen now (mapped to a LUN, already in a task), or null. */
  readonly unavailable: string | null;
}

export interface ResyncProgress {
  readonly totalBytes: number;
  readonly doneBytes: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null;
}

export interface VerifyProgress {
  readonly totalBytes: number;
  readonly doneBytes: number;
  readonly mismatchedBytes: number;
}

export type ConnectionStatus = ConnectionState | 'split-brain' | 'unrelated-data';

export interface TaskStatus {
  readonly name: string;
  /** `source`: created here; `reverse`: the destination's view of a source task (`<task>_reverse`). */
  readonly direction: 'source' | 'reverse';
  readonly volume: string;
  readonly remoteVolume: string;
  readonly peerAddress: string;
  readonly running: boolean;
  readonly role: Role;
  readonly connection: ConnectionStatus;
  readonly diskState: DiskState;
  readonly peerDiskState: DiskState;
  readonly outOfSyncBytes: number;
  readonly resync: ResyncProgress | null;
  readonly verify: VerifyProgress | null;
  readonly lastError: string | null;
  readonly rate: { readonly mode: 'dynamic' | 'fixed'; readonly bytesPerSecond: number };
}

export interface CreateTaskRequest {
  readonly name: string;
  readonly volume: string;
  readonly remoteVolume: string;
  readonly rate?: { readonly mode: 'dynamic' | 'fixed'; readonly bytesPerSecond: number };
}

export interface ReplicationControl {
  pairing(): PairingView;
  pair(request: PairRequest): Promise<PairingView>;
  unpair(): Promise<void>;

  volumeSettings(volume: string): VolumeReplicationSettings | null;
  /** Sets mode and mirror server; `clearMetadata` forgets the replication history (full sync next). */
  setVolumeSettings(
    volume: string,
    settings: { mode: 'source' | 'destination'; mirrorServer: string; clearMetadata?: boolean },
  ): Promise<VolumeReplicationSettings>;

  /** The peer's destination-mode volumes, asked over the replication link. */
  browseDestinations(): Promise<DestinationVolume[]>;

  tasks(): TaskStatus[];
  task(name: string): TaskStatus;
  createTask(request: CreateTaskRequest): Promise<TaskStatus>;
  deleteTask(name: string): Promise<void>;
  startTask(name: string): Promise<TaskStatus>;
  stopTask(name: string): Promise<TaskStatus>;
  /** Only an up-to-date volume may be promoted; `force` allows more and is logged as a warning. */
  promote(name: string, force: boolean): Promise<TaskStatus & { warning?: string }>;
  demote(name: string): Promise<TaskStatus>;
  /** Online verify: compare checksums with the peer; mismatches become out of sync. */
  verify(name: string): Promise<TaskStatus>;
  /** Split brain: discard the changes of `discard` ('local' or 'peer', as seen from this node), after
   * keeping a copy of that node's data; returns where the copy is, when it is on this node. */
  resolveSplitBrain(name: string, discard: 'local' | 'peer'): Promise<TaskStatus & { copy?: string }>;
}
