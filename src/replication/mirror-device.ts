// The mirror: the top layer of a replicated volume's block device stack on the primary (DESIGN.md).
// A write completes only when the local write and the peer's acknowledgement have both come back
// (DRBD's protocol C); FUA and flushes reach the peer too. While the peer is away, writes go to the
// local disk alone and their blocks are marked out of sync in the write-intent bitmap.
//
// Crash safety comes from the activity log: a write starts only once the extents it touches are
// recorded active on disk, so after a crash every block that may have had a write in flight to the
// peer is counted as out of sync; and a block marked dirty while its extent is active reaches the
// on-disk bitmap before the extent is retired (metadata/).
//
// Fencing: when the peer fails a write or the link drops, the write does not complete until
// `peerLost()` has run (the engine marks the peer outdated and starts a new data generation, durably);
// only then may the primary acknowledge writes alone.
//
// Resync and verify read regions of this device and send them; they hold `regions` over what they
// read until the peer has acknowledged, so an application write to the same bytes waits and cannot be
// overtaken on the peer by older data.
//
// Peer flushes are group committed like local ones (storage/group-commit.ts): a write-through volume
// flushes after every write, and at queue depth 32 one peer `flush` that started after a caller's
// writes were acknowledged serves every caller waiting for it, instead of one round trip each.
import { RangeLock } from '../lib/range-lock.js';
import { GroupCommit } from '../storage/group-commit.js';
import {
  BlockIoError,
  type AllocationExtent,
  type BlockDevice,
  type WriteOptions,
} from '../storage/block-device.js';

/** The peer's side of the data path, while connected. Rejections mean the peer did not take it. */
export interface PeerDataPath {
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  discard(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
}

/** The part of the replication metadata the mirror needs on every write. */
export interface WriteIntentLog {
  activate(offset: number, length: number): Promise<void> | undefined;
  release(offset: number, length: number): void;
  markDirty(offset: number, length: number): void;
}

export interface MirrorDeviceOptions {
  readonly local: BlockDevice;
  readonly log: WriteIntentLog;
  /** Called once per loss of the peer, before any write is acknowledged without it. */
  readonly peerLost: (reason: string) => Promise<void>;
  /** Whether the peer may be written at all (false: this node is secondary, the device refuses writes). */
  readonly writable: () => boolean;
  /** Runs before a write made without the peer is acknowledged: undefined lets it through; a promise
   * holds it (and fails it) when this node may no longer write alone (the witness lease is gone). */
  readonly confirmAlone?: () => Promise<never> | undefined;
}

export class MirrorDevice implements BlockDevice {
  readonly regions = new RangeLock();
  readonly #local: BlockDevice;
  readonly #log: WriteIntentLog;
  readonly #peerLost: (reason: string) => Promise<void>;
  readonly #writable: () => boolean;
  readonly #confirmAlone: () => Promise<never> | undefined;
  /** performance.now() when the last application write or discard started (resync backs off). */
  lastApplicationIoAt = Number.NEGATIVE_INFINITY;
  #peer: PeerDataPath | null = null;
  /** Shares one peer flush between concurrent callers; one per attached peer. */
  #peerFlushes: GroupCommit | null = null;
  #losing: Promise<void> | null = null;

  constructor(options: MirrorDeviceOptions) {
    this.#local = options.local;
    this.#log = options.log;
    this.#peerLost = options.peerLost;
    this.#writable = options.writable;
    this.#confirmAlone = options.confirmAlone ?? (() => undefined);
  }

  get size(): number {
    return this.#local.size;
  }

  get connected(): boolean {
    return this.#peer !== null;
  }

  /** From now on writes are mirrored to `peer` (the engine calls this once the peer is in sync or
   * syncing). */
  attachPeer(peer: PeerDataPath): void {
    this.#peer = peer;
    this.#peerFlushes = new GroupCommit(() => peer.flush());
    this.#losing = null;
  }

  /** A new term as primary: a loss that ended in a refusal (its writes failed) is over. */
  forgetLoss(): void {
    if (this.#peer === null) this.#losing = null;
  }

  /** The link is gone (or stopped on purpose): writes go local only, marked out of sync. Resolves once
   * the peer is fenced (see peerLost). */
  detachPeer(reason: string): Promise<void> {
    if (this.#peer === null) return this.#losing ?? Promise.resolve();
    this.#peer = null;
    this.#peerFlushes = null;
    this.#losing = this.#fence(reason);
    return this.#losing;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.#local.read(offset, length);
  }

  write(offset: number, data: Buffer, options: WriteOptions = {}): Promise<void> {
    return this.#change(
      offset,
      data.length,
      (peer) => peer.write(offset, data, options.fua === true),
      () => this.#local.write(offset, data, options),
    );
  }

  discard(offset: number, length: number): Promise<void> {
    return this.#change(
      offset,
      length,
      (peer) => peer.discard(offset, length),
      () => this.#local.discard(offset, length),
    );
  }

  async flush(): Promise<void> {
    const peer = this.#peer;
    if (!peer) {
      await this.#losing;
      return this.#local.flush();
    }
    const remote = this.#peerFlushes?.flush() ?? peer.flush();
    const [local, remoteFailure] = await Promise.all([failureOf(this.#local.flush()), failureOf(remote)]);
    if (remoteFailure !== undefined) await this.#lose(peer, remoteFailure.reason);
    if (local !== undefined) throw local.reason;
  }

  allocation(offset: number, length: number): Promise<AllocationExtent[]> {
    return this.#local.allocation(offset, length);
  }

  /** Closes the local device; the engine has detached the peer first. */
  close(): Promise<void> {
    return this.#local.close();
  }

  /** A write or discard: its extents active in the log, its bytes locked against resync and verify,
   * then applied on both sides. */
  async #change(
    offset: number,
    length: number,
    remote: (peer: PeerDataPath) => Promise<void>,
    local: () => Promise<void>,
  ): Promise<void> {
    this.#checkWritable();
    this.lastApplicationIoAt = performance.now();
    const pending = this.#log.activate(offset, length);
    if (pending) await pending;
    try {
      const release = await this.regions.acquire(offset, offset + length);
      try {
        await this.#mirrored(offset, length, remote, local);
      } finally {
        release();
      }
    } finally {
      this.#log.release(offset, length);
    }
  }

  /** One change on both sides (protocol C), or on this side alone, marked, when the peer is away. */
  async #mirrored(
    offset: number,
    length: number,
    remote: (peer: PeerDataPath) => Promise<void>,
    local: () => Promise<void>,
  ): Promise<void> {
    const peer = this.#peer;
    if (!peer) {
      this.#log.markDirty(offset, length);
      await this.#losing;
      await local();
      const refusal = this.#confirmAlone();
      if (refusal) await refusal;
      return;
    }
    // Both sides at once; the peer's request goes out first so its round trip overlaps the local write.
    const remoteDone = failureOf(remote(peer));
    const localFailure = await failureOf(local());
    const remoteFailure = await remoteDone;
    if (remoteFailure !== undefined) {
      this.#log.markDirty(offset, length);
      await this.#lose(peer, remoteFailure.reason);
    }
    if (localFailure !== undefined) {
      // The peer may have the data and this disk not: the blocks differ until a resync.
      this.#log.markDirty(offset, length);
      throw localFailure.reason;
    }
  }

  /** The peer failed a request: stop using it and fence it before anything completes alone. */
  async #lose(peer: PeerDataPath, reason: unknown): Promise<void> {
    if (this.#peer === peer) {
      this.#peer = null;
      this.#peerFlushes = null;
      this.#losing = this.#fence(`peer failed a request: ${String(reason)}`);
    }
    await this.#losing;
  }

  /** Runs the fencing once per loss. Its failure (the node gave up the role) reaches every write that
   * waits for it; nobody else has to handle it. */
  #fence(reason: string): Promise<void> {
    const losing = this.#peerLost(reason);
    losing.catch(() => undefined);
    return losing;
  }

  #checkWritable(): void {
    if (!this.#writable()) {
      throw new BlockIoError('unavailable', 'the volume is a replication secondary: it takes no writes here');
    }
  }
}

interface Failure {
  readonly reason: unknown;
}

/** Resolves with the failure of `operation`, or undefined once it succeeded; never rejects. (Cheaper
 * than Promise.allSettled on the per-write path: no result objects for the common success.) */
function failureOf(operation: Promise<void>): Promise<Failure | undefined> {
  return operation.then(
    () => undefined,
    (reason: unknown) => ({ reason }),
  );
}
