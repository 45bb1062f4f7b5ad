// One replicated volume on this node: its local disk, its replication metadata, its role, and the
// connection to the peer's copy. It glues the pieces of docs/replication.md together:
//
// - on connect, the attach exchange gives each side the other's view (generations, role, disk state);
//   both OR the peer's write-intent bitmap into their own and run the same pure decision (state/), so
//   they agree on: in sync, resync in which direction (partial or full), split brain, unrelated data;
// - the primary's writes go through the MirrorDevice (protocol C); a secondary applies what the peer
//   sends and serves nothing else;
// - resync (resync.ts) and online verify (verify.ts) run on the sync source.
//
// State changes that matter after a crash (generations, disk state, flags) are written to the
// metadata before the engine acts on them.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { invalid, conflict } from '../lib/errors.js';
import { Mutex } from '../lib/mutex.js';
import { FileBlockDevice } from '../storage/backends/file-device.js';
import { BlockIoError } from '../storage/block-device.js';
import type { ConnectionStatus, ResyncProgress, TaskStatus, VerifyProgress } from './control.js';
import { isMetadataError } from './metadata/errors.js';
import { ReplicationMetadata } from './metadata/replication-metadata.js';
import { MirrorDevice, type PeerDataPath } from './mirror-device.js';
import type { PeerChannel } from './peer/index.js';
import type { FencingVerdict } from './fencing.js';
import { runResync, type ResyncRun } from './resync.js';
import { decideSync, type SyncDecision } from './state/sync-decision.js';
import {
  finishResync,
  initialSyncGenerations,
  isJustCreated,
  startNewGeneration,
} from './state/generations.js';
import { canPromote } from './state/rules.js';
import type { DiskState, Generations, Role } from './state/types.js';
import { runVerify, type VerifyRun } from './verify.js';
import { serveSecondary } from './secondary.js';
import {
  ATTACH_FLAG_CRASHED_PRIMARY,
  MAX_DATA_LENGTH,
  splitForWire,
  type AttachFields,
  type ReplMessage,
} from './wire/index.js';

export interface EngineTask {
  readonly name: string;
  readonly direction: 'source' | 'reverse';
  readonly volume: string;
  readonly remoteVolume: string;
  readonly peerAddress: string;
  readonly rate: { readonly mode: 'dynamic' | 'fixed'; readonly bytesPerSecond: number };
}

export interface EngineOptions {
  readonly task: EngineTask;
  readonly imagePath: string;
  readonly metadataPath: string;
  readonly logger: Logger;
  /** Called when role or connection changes (the iSCSI service re-reads which device to serve). */
  readonly onChange: () => void;
  /** Fencing through another path (failover's heartbeat): outdate the peer's copy before this primary
   * writes alone. A refusal means the peer serves: nothing is written alone (see fencing.ts). */
  readonly fencePeer?: (reason: string) => Promise<FencingVerdict>;
  /** With a witness: whether this primary may acknowledge a write the peer does not have, right now. */
  readonly mayWriteAlone?: () => boolean;
  /** The volume's persistent reservation state (JSON) as kept on this node: the primary sends it to
   * the secondary, which keeps it, so reservations survive a failover. */
  readonly prState?: { load(): string | undefined; save(state: string): void };
}

/** A random, non-zero generation identifier. */
export function newGenerationId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE(0);
    if (id !== 0n) return id;
  }
}

const BITMAP_CHUNK_BLOCKS = 8 * 32 * 1024; // 32 KiB of bits per message: 1 GiB of volume

export class ReplicationEngine {
  readonly mirror: MirrorDevice;
  readonly #options: EngineOptions;
  readonly #local: FileBlockDevice;
  readonly #meta: ReplicationMetadata;
  readonly #log: Logger;
  #role: Role;
  readonly #roleChange = new Mutex();
  /** Writes suspended by a refused fencing wait for this (resolved by the demotion). */
  #roleGivenUp: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;
  #connection: ConnectionStatus = 'standalone';
  #peerDiskState: DiskState = 'unknown';
  #peerRole: Role | null = null;
  #channel: PeerChannel | null = null;
  #resync: ResyncRun | null = null;
  #verify: VerifyRun | null = null;
  #lastError: string | null = null;
  #closed = false;

  private constructor(options: EngineOptions, local: FileBlockDevice, meta: ReplicationMetadata) {
    this.#options = options;
    this.#local = local;
    this.#meta = meta;
    this.#log = options.logger.child({ task: options.task.name });
    // A node comes up as it went down: primary if it was (a crashed primary stays primary until told).
    this.#role = meta.flags.wasPrimary ? 'primary' : 'secondary';
    this.mirror = new MirrorDevice({
      local,
      log: meta,
      peerLost: (reason) => this.#peerLost(reason),
      confirmAlone: () =>
        this.#options.mayWriteAlone?.() === false
          ? this.#suspendUntilDemoted('this node does not hold the witness lease')
          : undefined,
      writable: () => this.#role === 'primary',
    });
  }

  /** Opens the volume and its metadata (created on first use: a just-created, inconsistent disk). */
  static async open(options: EngineOptions): Promise<ReplicationEngine> {
    const local = await FileBlockDevice.open(options.imagePath);
    let meta: ReplicationMetadata;
    try {
      try {
        meta = await ReplicationMetadata.open(options.metadataPath, local.size);
      } catch (error) {
        if (!isMetadataError(error, 'not-found')) throw error;
        meta = await ReplicationMetadata.create(options.metadataPath, local.size);
      }
    } catch (error) {
      await local.close();
      throw error;
    }
    const engine = new ReplicationEngine(options, local, meta);
    if (meta.recoveredExtents > 0) {
      engine.#log.warn(
        { extents: meta.recoveredExtents, outOfSyncBytes: meta.dirtyBytes },
        'replication metadata was not closed cleanly: activity log extents marked out of sync',
      );
    }
    return engine;
  }

  get task(): EngineTask {
    return this.#options.task;
  }

  get role(): Role {
    return this.#role;
  }

  get connected(): boolean {
    return this.#channel !== null;
  }

  get connection(): ConnectionStatus {
    return this.#connection;
  }

  get generations(): Generations {
    return this.#meta.generations;
  }

  get diskState(): DiskState {
    return this.#meta.diskState;
  }

  /** The source side's first start: its data becomes the first generation and everything must be
   * copied to the peer. Does nothing once the volume has a history. */
  async initializeAsSource(): Promise<void> {
    if (!isJustCreated(this.#meta.generations)) return;
    this.#meta.setAllDirty();
    await this.#meta.setGenerations(initialSyncGenerations(newGenerationId()));
    await this.#meta.setDiskState('up-to-date');
    await this.#meta.setFlags({ wasPrimary: true, fullSyncNeeded: true });
    await this.#meta.flush();
    this.#role = 'primary';
    this.#log.info('initial generation created: the first connect copies the whole volume');
  }

  /** Forgets the replication history: a just-created disk again, so the next connect is a full sync. */
  async clearMetadata(): Promise<void> {
    if (this.#channel) throw conflict('replication-running', 'stop the task before clearing its metadata');
    await this.#meta.setGenerations({ current: 0n, bitmap: 0n, history: [0n, 0n] });
    this.#meta.setAllDirty();
    await this.#meta.setDiskState('inconsistent');
    await this.#meta.setFlags({ peerOutdated: false, fullSyncNeeded: true, crashedPrimary: false });
    await this.#meta.flush();
  }

  /** This node's side of the attach exchange. */
  attachFields(): AttachFields {
    const task = this.#options.task;
    return {
      task: task.direction === 'source' ? task.name : task.name.replace(/_reverse$/, ''),
      volume: task.direction === 'source' ? task.remoteVolume : task.volume,
      sizeBytes: BigInt(this.#local.size),
      role: this.#role,
      diskState: this.#meta.diskState,
      generations: this.#meta.generations,
      flags: this.#meta.flags.crashedPrimary ? ATTACH_FLAG_CRASHED_PRIMARY : 0,
    };
  }

  /**
   * Runs a connection that has exchanged attach messages: bitmaps, the sync decision, then resync or
   * plain replication until the channel closes. Resolves with the decision once the connection is up
   * (or refused); the channel's end is handled by itself.
   */
  async connect(channel: PeerChannel, peer: AttachFields): Promise<SyncDecision> {
    if (this.#closed) throw conflict('replication-closed', 'the task is shut down');
    if (peer.sizeBytes !== BigInt(this.#local.size)) {
      const reason = `the volumes differ in size: ${this.#local.size} bytes here, ${peer.sizeBytes} on the peer`;
      channel.close(reason);
      this.#refuse('standalone', reason);
      return { kind: 'refused', reason };
    }
    this.#channel = channel;
    this.#peerRole = peer.role;
    this.#peerDiskState = peer.diskState;
    this.#connection = 'connecting';
    const inbound = this.#receiveBitmap(channel);
    channel.onMessage((message, id, respond) => {
      this.#onMessage(message, id, respond, inbound).catch((error: unknown) => {
        // Metadata failures while applying the peer's state: the link cannot go on safely.
        this.#lastError = `replication failed: ${String(error)}`;
        this.#log.error({ err: String(error) }, 'replication failed; disconnecting');
        channel.close(this.#lastError);
      });
    });
    await this.#sendBitmap(channel);
    const merged = await inbound.done;
    if (!merged) return this.#lostDuringHandshake(channel);
    const decision = decideSync(
      {
        generations: this.#meta.generations,
        diskState: this.#meta.diskState,
        role: this.#role,
        crashedPrimary: this.#meta.flags.crashedPrimary,
      },
      {
        generations: peer.generations,
        diskState: peer.diskState,
        role: peer.role,
        crashedPrimary: (peer.flags & ATTACH_FLAG_CRASHED_PRIMARY) !== 0,
      },
      { tieWinner: this.#options.task.direction === 'source' ? 'local' : 'peer' },
    );
    void channel.closed.then((reason) => this.#disconnected(channel, reason));
    this.#log.info({ decision }, 'connected to the peer');
    switch (decision.kind) {
      case 'in-sync':
        this.#connection = 'connected';
        this.#lastError = null;
        this.#peerDiskState = 'up-to-date';
        if (this.#meta.diskState !== 'up-to-date') await this.#meta.setDiskState('up-to-date');
        await this.#meta.setFlags({ peerOutdated: false, crashedPrimary: false });
        this.#meta.clearAll();
        await this.#meta.flush();
        this.#attachMirror(channel);
        break;
      case 'resync':
        if (decision.source === 'local') {
          this.#connection = 'sync-source';
          this.#peerDiskState = 'inconsistent';
          if (decision.full || this.#meta.flags.fullSyncNeeded) this.#meta.setAllDirty();
          this.#attachMirror(channel);
          this.#startResync(channel);
        } else {
          this.#connection = 'sync-target';
          await this.#meta.setDiskState('inconsistent');
        }
        break;
      case 'split-brain':
        this.#refuse('split-brain', `split brain: ${decision.reason}`);
        channel.close('split brain');
        break;
      case 'unrelated-data':
        this.#refuse('unrelated-data', `unrelated data: ${decision.reason}`);
        channel.close('unrelated data');
        break;
      case 'refused':
        this.#refuse('standalone', decision.reason);
        channel.close(decision.reason);
        break;
    }
    this.#options.onChange();
    return decision;
  }

  /** Closes the connection (the task stops); the peer's copy stops being updated. */
  async disconnect(reason: string): Promise<void> {
    const channel = this.#channel;
    if (channel) {
      channel.close(reason);
      await this.#disconnected(channel, reason);
    }
    if (this.#connection !== 'split-brain' && this.#connection !== 'unrelated-data') {
      this.#connection = 'standalone';
    }
  }

  /** Promote, demote and an outdate from the peer never interleave: an outdate that lands during a
   * take-over either outdates this copy before the promotion looks at it, or finds it primary. */
  promote(force: boolean): Promise<{ warning?: string }> {
    return this.#roleChange.run(() => this.#promote(force));
  }

  async #promote(force: boolean): Promise<{ warning?: string }> {
    if (this.#role === 'primary') return {};
    const result = canPromote(
      {
        diskState: this.#meta.diskState,
        connection:
          this.#connection === 'split-brain' || this.#connection === 'unrelated-data'
            ? 'standalone'
            : this.#connection,
        peerRole: (this.#channel ? this.#peerRole : null) ?? 'unknown',
        peerDiskState: this.#channel ? this.#peerDiskState : 'unknown',
      },
      force,
    );
    if (!result.ok) throw conflict('promote-refused', result.reason);
    if (!this.#channel) {
      // Writing without the peer: a new data generation, so the peer's copy is known to be behind.
      await this.#meta.setGenerations(startNewGeneration(this.#meta.generations, newGenerationId()));
    }
    if (this.#meta.diskState !== 'up-to-date') await this.#meta.setDiskState('up-to-date');
    await this.#meta.setFlags({ wasPrimary: true });
    await this.#meta.flush();
    this.#role = 'primary';
    this.mirror.forgetLoss();
    if (this.#channel) {
      this.#channel.send({ type: 'state', role: 'primary', diskState: this.#meta.diskState });
      this.#attachMirror(this.#channel);
    }
    this.#log.warn({ force, warning: result.warning }, 'promoted to primary');
    this.#options.onChange();
    return result.warning === undefined ? {} : { warning: result.warning };
  }

  demote(): Promise<void> {
    return this.#roleChange.run(() => this.#demote());
  }

  async #demote(): Promise<void> {
    if (this.#role === 'secondary') return;
    this.#role = 'secondary';
    this.#roleGivenUp?.resolve();
    this.#roleGivenUp = null;
    await this.mirror.flush().catch(() => undefined);
    if (this.#channel) {
      await this.mirror.detachPeer('demoted').catch(() => undefined);
      this.#channel.send({ type: 'state', role: 'secondary', diskState: this.#meta.diskState });
    }
    await this.#meta.setFlags({ wasPrimary: false });
    await this.#meta.flush();
    this.#log.info('demoted to secondary');
    this.#options.onChange();
  }

  /** Online verify against the peer (this node must be the connected primary/sync source side). */
  verify(): void {
    const channel = this.#channel;
    if (!channel || this.#connection !== 'connected') {
      throw conflict('verify-refused', `verify needs a connected, in-sync task (it is ${this.#connection})`);
    }
    if (this.#role !== 'primary') throw conflict('verify-refused', 'start verify on the primary');
    this.#connection = 'verifying';
    this.#verify = runVerify({
      channel,
      device: this.mirror,
      meta: this.#meta,
      logger: this.#log,
    });
    void this.#verify.done.then(
      (mismatched) => {
        if (this.#channel !== channel) return;
        this.#connection = 'connected';
        this.#log.info({ mismatchedBytes: mismatched }, 'online verify finished');
        if (this.#meta.dirtyBytes > 0) {
          this.#connection = 'sync-source';
          this.#peerDiskState = 'inconsistent';
          this.#startResync(channel);
        }
      },
      (error: unknown) => {
        this.#lastError = `verify failed: ${String(error)}`;
        if (this.#connection === 'verifying') this.#connection = this.#channel ? 'connected' : 'standalone';
      },
    );
  }

  /** Split brain, this node's changes are the ones discarded: becomes a partial sync target of the
   * peer (the union of both bitmaps is copied back). The caller has kept a copy of the data. */
  async discardLocalChanges(): Promise<void> {
    if (this.#channel) throw conflict('replication-running', 'the task is connected: nothing to resolve');
    if (this.#role === 'primary') await this.demote();
    const g = this.#meta.generations;
    // Our current is unknown to the peer; pointing it at the common ancestor (the bitmap generation,
    // which the survivor also has) makes the next connect a partial resync from the peer.
    const ancestor = g.bitmap !== 0n ? g.bitmap : 0n;
    await this.#meta.setGenerations({ current: ancestor, bitmap: 0n, history: g.history });
    if (ancestor === 0n) this.#meta.setAllDirty();
    await this.#meta.setDiskState('outdated');
    await this.#meta.flush();
    this.#connection = 'standalone';
    this.#lastError = null;
  }

  /** The primary fenced this copy (over the link or the heartbeat; it writes alone now): an up-to-date
   * secondary becomes outdated, durably, so failover never promotes it by itself. */
  outdateByPeer(): Promise<{ role: Role; diskState: DiskState }> {
    return this.#roleChange.run(async () => {
      if (this.#role === 'secondary' && this.#meta.diskState === 'up-to-date') {
        await this.#meta.setDiskState('outdated');
        await this.#meta.flush();
        this.#log.warn('outdated by the primary (fencing): this copy is behind until it resyncs');
        this.#options.onChange();
      }
      return { role: this.#role, diskState: this.#meta.diskState };
    });
  }

  /** Split brain resolved on the other node: this node may connect again. */
  clearRefusal(): void {
    if (this.#connection === 'split-brain' || this.#connection === 'unrelated-data') {
      this.#connection = 'standalone';
      this.#lastError = null;
    }
  }

  /** A failed connect attempt, for the status (the loop retries). */
  noteError(message: string): void {
    this.#lastError = message;
  }

  get refused(): boolean {
    return this.#connection === 'split-brain' || this.#connection === 'unrelated-data';
  }

  status(running: boolean): TaskStatus {
    const task = this.#options.task;
    const now = performance.now();
    const resync: ResyncProgress | null = this.#resync?.progress(now) ?? null;
    const verify: VerifyProgress | null = this.#verify?.progress() ?? null;
    return {
      name: task.name,
      direction: task.direction,
      volume: task.volume,
      remoteVolume: task.remoteVolume,
      peerAddress: task.peerAddress,
      running,
      role: this.#role,
      connection: this.#connection,
      diskState: this.#meta.diskState,
      peerDiskState: this.#channel
        ? this.#peerDiskState
        : this.#meta.flags.peerOutdated
          ? 'outdated'
          : 'unknown',
      outOfSyncBytes: this.#meta.dirtyBytes,
      resync: this.#connection === 'sync-source' || this.#connection === 'sync-target' ? resync : null,
      verify: this.#connection === 'verifying' ? verify : null,
      lastError: this.#lastError,
      rate: task.rate,
    };
  }

  /** Disconnects, flushes and closes the volume and its metadata (clean shutdown). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.disconnect('node shutting down');
    await this.mirror.flush().catch(() => undefined);
    await this.#local.close();
    await this.#meta.close();
  }

  // ---------------------------------------------------------------------------------------------

  /** The primary's reservations changed: the secondary keeps a copy (best effort: a lost copy is
   * sent again on the next change and on every connect). */
  replicatePrState(state: string): void {
    const channel = this.#channel;
    if (!channel || this.#role !== 'primary') return;
    channel.request({ type: 'pr-state', state }).then(expectAck, (error: unknown) => {
      this.#log.warn({ err: String(error) }, 'persistent reservations not copied to the peer');
    });
  }

  #attachMirror(channel: PeerChannel): void {
    if (this.#role !== 'primary') return;
    const reservations = this.#options.prState?.load();
    if (reservations !== undefined) this.replicatePrState(reservations);
    // `.then(expectAck)` rather than an async wrapper: one promise less per mirrored write.
    const path: PeerDataPath = {
      // A write that fits one message (nearly all) goes without the split's array and Promise.all.
      write: (offset, data, fua) =>
        data.length <= MAX_DATA_LENGTH
          ? channel.request({ type: 'write', offset: BigInt(offset), fua, data }).then(expectAck)
          : Promise.all(
              splitForWire(offset, data).map((piece) =>
                channel
                  .request({ type: 'write', offset: BigInt(piece.offset), fua, data: piece.data })
                  .then(expectAck),
              ),
            ).then(() => undefined),
      discard: (offset, length) =>
        channel.request({ type: 'discard', offset: BigInt(offset), length }).then(expectAck),
      flush: () => channel.request({ type: 'flush' }).then(expectAck),
    };
    this.mirror.attachPeer(path);
  }

  #startResync(channel: PeerChannel): void {
    const run = runResync({
      channel,
      device: this.mirror,
      local: this.#local,
      meta: this.#meta,
      rate: this.#options.task.rate,
      logger: this.#log,
    });
    this.#resync = run;
    void run.done.then(
      async () => {
        if (this.#channel !== channel) return;
        // The target adopts our generation; then both are up to date.
        await channel.request({ type: 'generations', generations: this.#meta.generations }).then(expectAck);
        await this.#meta.setGenerations(finishResync(this.#meta.generations));
        await this.#meta.setFlags({ peerOutdated: false, fullSyncNeeded: false, crashedPrimary: false });
        await this.#meta.flush();
        this.#peerDiskState = 'up-to-date';
        this.#connection = 'connected';
        this.#log.info('resync finished: both disks up to date');
        this.#options.onChange();
      },
      (error: unknown) => {
        if (this.#channel === channel) {
          this.#lastError = `resync failed: ${String(error)}`;
          channel.close(this.#lastError);
        }
      },
    );
  }

  async #onMessage(
    message: ReplMessage,
    id: number,
    respond: (reply: ReplMessage) => void,
    inbound: BitmapReceiver,
  ): Promise<void> {
    switch (message.type) {
      case 'bitmap-chunk':
        inbound.chunk(message.firstBlock, message.bits, message.last);
        return;
      case 'state':
        this.#peerRole = message.role;
        this.#peerDiskState = message.diskState;
        this.#options.onChange();
        return;
      case 'generations':
        // Sent by the sync source when the resync is complete.
        await this.#meta.setGenerations(finishResync(this.#meta.generations, message.generations.current));
        this.#meta.clearAll();
        await this.#meta.setDiskState('up-to-date');
        await this.#meta.setFlags({ fullSyncNeeded: false, crashedPrimary: false });
        await this.#meta.flush();
        this.#connection = 'connected';
        this.#peerDiskState = 'up-to-date';
        this.#log.info('resync finished: this disk is up to date');
        respond({ type: 'ack', status: 'ok', message: '' });
        this.#options.onChange();
        return;
      case 'pr-state':
        if (this.#role === 'secondary') this.#options.prState?.save(message.state);
        respond({ type: 'ack', status: 'ok', message: '' });
        return;
      case 'outdate':
        await this.outdateByPeer();
        respond({ type: 'ack', status: 'ok', message: '' });
        return;
      default:
        if (id !== 0 || message.type === 'write' || message.type === 'resync-data') {
          await serveSecondary(message, respond, this.#local, {
            acceptWrites: () => this.#role === 'secondary',
          });
        }
    }
  }

  async #sendBitmap(channel: PeerChannel): Promise<void> {
    const blocks = this.#meta.blockCount;
    for (let first = 0; ; first += BITMAP_CHUNK_BLOCKS) {
      const count = Math.min(BITMAP_CHUNK_BLOCKS, blocks - first);
      const last = first + count >= blocks;
      channel.send({
        type: 'bitmap-chunk',
        firstBlock: BigInt(first),
        bits: this.#meta.exportBits(first, Math.max(0, count)),
        last,
      });
      if (last) return;
      // Let the socket drain between chunks of a big bitmap.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #receiveBitmap(channel: PeerChannel): BitmapReceiver {
    let finish!: (ok: boolean) => void;
    const done = new Promise<boolean>((resolve) => (finish = resolve));
    void channel.closed.then(() => finish(false));
    return {
      done,
      chunk: (firstBlock, bits, last) => {
        const first = Number(firstBlock);
        if (first < this.#meta.blockCount) this.#meta.mergeBits(first, bits);
        if (last) finish(true);
      },
    };
  }

  #lostDuringHandshake(channel: PeerChannel): SyncDecision {
    const reason = channel.closeReason ?? 'connection closed';
    if (this.#channel === channel) this.#channel = null;
    this.#connection = 'standalone';
    this.#lastError = `connection lost during the handshake: ${reason}`;
    return { kind: 'refused', reason: this.#lastError };
  }

  async #disconnected(channel: PeerChannel, reason: string): Promise<void> {
    if (this.#channel !== channel) return;
    this.#channel = null;
    this.#resync?.stop();
    this.#verify?.stop();
    this.#peerRole = null;
    if (this.#connection !== 'split-brain' && this.#connection !== 'unrelated-data') {
      this.#connection = 'standalone';
    }
    this.#log.warn({ reason }, 'peer disconnected');
    // A refused fencing fails the writes that wait for it; the disconnect itself goes on.
    if (this.#role === 'primary') await this.mirror.detachPeer(reason).catch(() => undefined);
    else this.#peerDiskState = 'unknown';
    this.#options.onChange();
  }

  /** Fencing: runs before the primary acknowledges any write without the peer. */
  async #peerLost(reason: string): Promise<void> {
    // Demoted (the mirror is detached on the way to secondary): no write follows, nothing to fence.
    if (this.#role !== 'primary') return;
    if (this.#meta.flags.peerOutdated) {
      this.#peerDiskState = 'outdated';
      return;
    }
    const verdict: FencingVerdict = this.#options.fencePeer
      ? await this.#options.fencePeer(reason).catch((): FencingVerdict => ({ kind: 'no-answer' }))
      : { kind: 'no-answer' };
    if (verdict.kind === 'refused') await this.#suspendUntilDemoted(`fencing refused: ${verdict.reason}`);
    this.#peerDiskState = 'outdated';
    await this.#meta.setGenerations(startNewGeneration(this.#meta.generations, newGenerationId()));
    await this.#meta.setFlags({ peerOutdated: true });
    await this.#meta.flush();
    this.#log.warn({ reason }, 'peer lost: marked outdated, new data generation, writes continue alone');
  }

  /** The peer serves, or may: no write here is acknowledged. Writes wait (the initiator sees no
   * error) until the failover gives this node's role up, and then fail: by then the sessions that
   * sent them are gone. Never resolves. */
  async #suspendUntilDemoted(why: string): Promise<never> {
    if (this.#role === 'primary') {
      if (!this.#roleGivenUp) {
        this.#lastError = `no write is acknowledged alone (${why}): I/O suspended until this node gives up the primary role`;
        this.#log.error({ why }, 'writing alone is not allowed: no write is acknowledged here');
        this.#options.onChange();
        let resolve = (): void => undefined;
        const promise = new Promise<void>((done) => (resolve = done));
        this.#roleGivenUp = { promise, resolve };
      }
      await this.#roleGivenUp.promise;
    }
    throw new BlockIoError(
      'unavailable',
      'this node gave up the primary role: the write was not acknowledged',
    );
  }

  #refuse(connection: ConnectionStatus, reason: string): void {
    this.#connection = connection;
    this.#lastError = reason;
    this.#log.error({ reason }, 'connection refused');
  }
}

interface BitmapReceiver {
  readonly done: Promise<boolean>;
  chunk(firstBlock: bigint, bits: Buffer, last: boolean): void;
}

function expectAck(reply: ReplMessage): void {
  if (reply.type !== 'ack') throw new BlockIoError('medium', `the peer answered ${reply.type}, not ack`);
  if (reply.status === 'ok') return;
  throw new BlockIoError(
    reply.status === 'no-space' ? 'no-space' : 'medium',
    `the peer failed: ${reply.message}`,
  );
}

export function checkTaskName(name: string): void {
  if (name.endsWith('_reverse')) throw invalid('task-name', 'task names ending in _reverse are reserved');
}
