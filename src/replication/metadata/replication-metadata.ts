// The per-volume replication metadata file: superblock (generations, disk state, flags), activity
// log and write-intent bitmap, with DRBD's semantics. Format and crash-safety argument:
// docs/replication-metadata.md.
//
// The invariant everything here serves: every block that may hold a write the peer does not have is,
// on disk, either inside an extent the on-disk activity log lists or set in the on-disk bitmap.
// - activate() resolves only once the log listing the range's extents is durable, so a write that
//   starts after it is covered by the log.
// - An extent leaves the on-disk log only after the bitmap pages covering it are durable, and only
//   when no write is in flight in it; the caller marks a write's blocks dirty before releasing it.
// - open() after a crash turns every listed extent into dirty bits before clearing the log.
//
// State: all file I/O runs in one serial pump (#pump), one step at a time: a *round* (batched
// activations, superblock changes, flushes: one transaction) or a *job* (grow, close). Callers only
// queue work and wake the pump, so concurrent requests arriving during a round share the next one.
// A failed read, write or sync is sticky (#failure): after it nothing is written again, because a
// later fdatasync could succeed without the pages the kernel dropped, and every operation rejects.
import { messageOf } from '../../lib/errors.js';
import { DISK_STATES, JUST_CREATED, type DiskState, type Generations } from '../state/types.js';
import {
  ActivityLog,
  RELEASE_DONE,
  RELEASE_NOT_HELD,
  type ExtentRange,
  type TransactionPlan,
} from './activity-log.js';
import { Bitmap } from './bitmap.js';
import { MetadataError } from './errors.js';
import {
  applyFlags,
  decodeFlags,
  FLAG_CLEAN,
  FLAG_CRASHED_PRIMARY,
  FLAG_WAS_PRIMARY,
  type MetadataFlags,
  type SettableFlags,
} from './flags.js';
import {
  BITMAP_OFFSET,
  BITMAP_PAGE_BYTES,
  BITS_PER_PAGE,
  layoutOf,
  resolveGeometry,
  SLOT_BYTES,
  SLOT_OFFSETS,
  type Geometry,
  type GeometryOptions,
  type Layout,
} from './geometry.js';
import {
  errorCodeOf,
  nodeMetadataStorage,
  type MetadataFile,
  type MetadataStorage,
} from './metadata-file.js';
import { chooseRecord, decodeRecord, encodeRecord, type MetadataRecord } from './record.js';

export interface MetadataIoOptions {
  /** The file operations to use (tests inject failures and count syncs); default node:fs. */
  readonly storage?: MetadataStorage;
}

export type CreateMetadataOptions = GeometryOptions & MetadataIoOptions;

/** A contiguous byte range of the volume. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface ActivationWaiter extends Waiter, ExtentRange {}

interface Job extends Waiter {
  readonly run: () => Promise<void>;
}

/** Largest single write of bitmap pages (contiguous dirty pages are written together). */
const MAX_PAGES_PER_WRITE = 256;
const MAX_U64 = (1n << 64n) - 1n;

type Lifecycle = 'open' | 'closing' | 'closed';

export class ReplicationMetadata {
  readonly path: string;
  readonly blockBytes: number;
  readonly extentBytes: number;
  readonly maxActiveExtents: number;

  readonly #file: MetadataFile;
  readonly #log: ActivityLog;
  #geometry: Geometry;
  /** #geometry.deviceSize, in a field of its own for the data path's range checks. */
  #deviceSize: number;
  #layout: Layout;
  #bitmap: Bitmap;
  /** One byte per bitmap page: 1 when memory differs from what was last written. */
  #dirtyPages: Uint8Array;
  #dirtyPageCount = 0;
  /** A bitmap page was written and no fdatasync has completed since. */
  #bitmapUnsynced = false;

  #generations: Generations;
  #diskState: DiskState;
  /** The flag word as it goes to disk (clean bit clear while open). */
  #flagWord: number;
  #flagsView: MetadataFlags;
  readonly #lastShutdownClean: boolean;
  #recoveredExtents = 0;
  /** The activity log as open() found it on disk. */
  readonly #extentsToRecover: readonly number[];

  /** Sequence number of the newest durable slot, and which slot the next write goes to. */
  #sequence: number;
  #nextSlot: 0 | 1;

  #activationWaiters: ActivationWaiter[] = [];
  #flushWaiters: Waiter[] = [];
  #recordWaiters: Waiter[] = [];
  readonly #jobs: Job[] = [];
  #pumping = false;
  /** Counts #kick() calls, so the pump sees requests that arrive while a round is finishing. */
  #wakeups = 0;

  #lifecycle: Lifecycle = 'open';
  #closing: Promise<void> | null = null;
  #onDrained: (() => void) | null = null;
  #failure: MetadataError | null = null;

  private constructor(
    path: string,
    file: MetadataFile,
    record: MetadataRecord,
    slot: 0 | 1,
    bitmap: Bitmap,
    lastShutdownClean: boolean,
  ) {
    this.path = path;
    this.#file = file;
    this.#geometry = record.geometry;
    this.#deviceSize = record.geometry.deviceSize;
    this.#layout = layoutOf(record.geometry);
    this.blockBytes = record.geometry.blockBytes;
    this.extentBytes = record.geometry.extentBytes;
    this.maxActiveExtents = record.geometry.maxActiveExtents;
    this.#log = new ActivityLog(record.geometry.maxActiveExtents);
    this.#bitmap = bitmap;
    this.#dirtyPages = new Uint8Array(this.#layout.pageCount);
    this.#generations = record.generations;
    this.#diskState = record.diskState;
    this.#lastShutdownClean = lastShutdownClean;
    this.#flagWord = record.flags & ~FLAG_CLEAN;
    this.#flagsView = this.#viewFlags();
    this.#extentsToRecover = record.activeExtents;
    this.#sequence = record.sequence;
    this.#nextSlot = slot === 0 ? 1 : 0;
  }

  /** Size of the metadata file for a volume of `deviceSize` bytes: 8 KiB + 1 bit per block in 4 KiB
   * pages (32 KiB per GiB at 4 KiB blocks). */
  static metadataBytes(deviceSize: number, options: GeometryOptions = {}): number {
    return layoutOf(resolveGeometry(deviceSize, options)).fileBytes;
  }

  /**
   * Creates the metadata file for a new volume and opens it: generations JUST_CREATED, disk state
   * 'inconsistent', bitmap clear, activity log empty. Never overwrites: MetadataError('exists').
   */
  static async create(
    path: string,
    deviceSize: number,
    options: CreateMetadataOptions = {},
  ): Promise<ReplicationMetadata> {
    const geometry = resolveGeometry(deviceSize, options);
    const storage = options.storage ?? nodeMetadataStorage;
    const layout = layoutOf(geometry);
    let file: MetadataFile;
    try {
      file = await storage.createExclusive(path);
    } catch (error) {
      if (errorCodeOf(error) === 'EEXIST') {
        throw new MetadataError('exists', `${path} already exists; metadata is never overwritten`);
      }
      throw ioError(`create ${path}`, error);
    }
    const record: MetadataRecord = {
      sequence: 1,
      geometry,
      generations: JUST_CREATED,
      diskState: 'inconsistent',
      flags: 0,
      activeExtents: [],
    };
    try {
      await file.truncate(layout.fileBytes);
      await file.write(encodeRecord(record), SLOT_OFFSETS[0]);
      await file.datasync();
      await storage.syncDirectoryOf(path);
    } catch (error) {
      await file.close().catch(ignore);
      await storage.remove(path).catch(ignore);
      throw ioError(`create ${path}`, error);
    }
    return new ReplicationMetadata(
      path,
      file,
      record,
      0,
      new Bitmap(layout.blockCount, layout.bitmapBytes),
      true,
    );
  }

  /**
   * Opens an existing metadata file. If it was not closed cleanly, every block of every extent its
   * activity log lists becomes dirty (see recoveredExtents). Refuses with MetadataError: 'not-found',
   * 'not-metadata', 'unsupported-version', 'corrupt' (both slots bad, or file cut short),
   * 'device-size-mismatch' (when `expectedDeviceSize` is given and differs).
   */
  static async open(
    path: string,
    expectedDeviceSize?: number,
    options: MetadataIoOptions = {},
  ): Promise<ReplicationMetadata> {
    const storage = options.storage ?? nodeMetadataStorage;
    let file: MetadataFile;
    try {
      file = await storage.open(path);
    } catch (error) {
      if (errorCodeOf(error) === 'ENOENT') throw new MetadataError('not-found', `${path} does not exist`);
      throw ioError(`open ${path}`, error);
    }
    try {
      const metadata = await ReplicationMetadata.#load(path, file, expectedDeviceSize);
      await metadata.#recover();
      return metadata;
    } catch (error) {
      await file.close().catch(ignore);
      throw error instanceof MetadataError ? error : ioError(`open ${path}`, error);
    }
  }

  static async #load(
    path: string,
    file: MetadataFile,
    expectedDeviceSize?: number,
  ): Promise<ReplicationMetadata> {
    const slots = new Uint8Array(2 * SLOT_BYTES);
    const slotBytesRead = await file.read(slots, 0);
    const chosen = chooseRecord(
      decodeRecord(slots.subarray(0, Math.min(slotBytesRead, SLOT_BYTES))),
      decodeRecord(slots.subarray(SLOT_BYTES, Math.max(SLOT_BYTES, slotBytesRead))),
    );
    if (!chosen.ok) throw new MetadataError(chosen.code, `${path}: ${chosen.message}`);
    const { record } = chosen;
    if (expectedDeviceSize !== undefined && record.geometry.deviceSize !== expectedDeviceSize) {
      throw new MetadataError(
        'device-size-mismatch',
        `${path} describes a device of ${record.geometry.deviceSize} bytes, not ${expectedDeviceSize}`,
        { recorded: record.geometry.deviceSize, expected: expectedDeviceSize },
      );
    }
    const layout = layoutOf(record.geometry);
    const bytes = new Uint8Array(layout.bitmapBytes);
    if ((await file.read(bytes, BITMAP_OFFSET)) < bytes.length) {
      throw new MetadataError('corrupt', `${path} is cut short: its bitmap needs ${layout.fileBytes} bytes`);
    }
    const bitmap = Bitmap.fromBytes(layout.blockCount, bytes, layout.bitmapBytes);
    const clean = (record.flags & FLAG_CLEAN) !== 0;
    return new ReplicationMetadata(path, file, record, chosen.slot, bitmap, clean);
  }

  get deviceSize(): number {
    return this.#deviceSize;
  }

  get blockCount(): number {
    return this.#layout.blockCount;
  }

  /** Extents the activity log listed when open() found the file not closed cleanly (now dirty). */
  get recoveredExtents(): number {
    return this.#recoveredExtents;
  }

  /** Writes in flight (activated and not yet released), counted per extent. */
  get writesInFlight(): number {
    return this.#log.references;
  }

  // ---- superblock -------------------------------------------------------------------------------

  get generations(): Generations {
    return this.#generations;
  }

  /** Durable when the promise resolves. */
  setGenerations(generations: Generations): Promise<void> {
    const values = [generations.current, generations.bitmap, ...generations.history];
    if (values.length !== 4 || values.some((v) => v < 0n || v > MAX_U64)) {
      return Promise.reject(new RangeError('generation identifiers are two plus two unsigned 64-bit values'));
    }
    return this.#changeRecord(() => {
      this.#generations = {
        current: generations.current,
        bitmap: generations.bitmap,
        history: [generations.history[0], generations.history[1]],
      };
    });
  }

  get diskState(): DiskState {
    return this.#diskState;
  }

  setDiskState(state: DiskState): Promise<void> {
    if (!DISK_STATES.includes(state)) return Promise.reject(new RangeError(`unknown disk state ${state}`));
    return this.#changeRecord(() => {
      this.#diskState = state;
    });
  }

  /** The flags; `clean` tells whether the file had been closed cleanly when it was opened. */
  get flags(): MetadataFlags {
    return this.#flagsView;
  }

  setFlags(changes: SettableFlags): Promise<void> {
    return this.#changeRecord(() => {
      this.#flagWord = applyFlags(this.#flagWord, changes);
      this.#flagsView = this.#viewFlags();
    });
  }

  // ---- activity log -----------------------------------------------------------------------------

  /**
   * Makes sure every extent the byte range touches is recorded active on disk, and takes a reference
   * on each for the write about to start. Returns undefined when they all already were (no I/O, no
   * allocation), else a promise that resolves once they are. Every call that did not reject must be
   * matched by one release() of the same range once the write is done (locally and, if connected, on
   * the peer: mark it dirty before releasing if the peer may not have it).
   */
  activate(offset: number, length: number): Promise<void> | undefined {
    this.#checkRange(offset, length);
    if (length === 0) return undefined;
    if (this.#lifecycle !== 'open' || this.#failure !== null) return Promise.reject(this.#unusable());
    const first = Math.floor(offset / this.extentBytes);
    const last = Math.floor((offset + length - 1) / this.extentBytes);
    if (this.#log.tryAcquire(first, last)) return undefined;
    return this.#waitForExtents(first, last);
  }

  /** Ends the write that activate() admitted for this range. */
  release(offset: number, length: number): void {
    this.#checkRange(offset, length);
    if (length === 0) return;
    const first = Math.floor(offset / this.extentBytes);
    const last = Math.floor((offset + length - 1) / this.extentBytes);
    const result = this.#log.release(first, last);
    if (result === RELEASE_DONE) return;
    if (result === RELEASE_NOT_HELD) {
      throw new MetadataError('not-active', `release of ${offset}+${length}: no write in flight there`);
    }
    if (this.#activationWaiters.length > 0) this.#kick();
    if (this.#onDrained !== null && this.#log.references === 0) this.#onDrained();
  }

  // ---- bitmap -----------------------------------------------------------------------------------

  /** Marks every block the range touches (partial blocks count). Durable with the extent's
   * retirement or the next flush(); before then the activity log covers blocks of active extents. */
  markDirty(offset: number, length: number): void {
    this.#checkRange(offset, length);
    this.#checkNotClosed();
    if (length === 0) return;
    const first = Math.floor(offset / this.blockBytes);
    const last = Math.floor((offset + length - 1) / this.blockBytes);
    if (this.#bitmap.setRange(first, last - first + 1) > 0) this.#markPages(first, last);
  }

  /** Clears the blocks lying entirely inside the range (the device's short last block counts as
   * entire when the range reaches the end of the device). */
  clearDirty(offset: number, length: number): void {
    this.#checkRange(offset, length);
    this.#checkNotClosed();
    const first = Math.ceil(offset / this.blockBytes);
    const end = offset + length;
    const endBlock = end === this.#deviceSize ? this.blockCount : Math.floor(end / this.blockBytes);
    if (endBlock <= first) return;
    if (this.#bitmap.clearRange(first, endBlock - first) > 0) this.#markPages(first, endBlock - 1);
  }

  setAllDirty(): void {
    this.#checkNotClosed();
    if (this.#bitmap.setAll() > 0) this.#markPages(0, this.blockCount - 1);
  }

  clearAll(): void {
    this.#checkNotClosed();
    if (this.#bitmap.clearAll() > 0) this.#markPages(0, this.blockCount - 1);
  }

  /** Whether any block the range touches is dirty. */
  isDirty(offset: number, length: number): boolean {
    this.#checkRange(offset, length);
    if (length === 0) return false;
    const first = Math.floor(offset / this.blockBytes);
    const last = Math.floor((offset + length - 1) / this.blockBytes);
    return this.#bitmap.anySet(first, last - first + 1);
  }

  /** Bytes of the volume in dirty blocks (the short last block counts with its real size). */
  get dirtyBytes(): number {
    const bytes = this.#bitmap.setCount * this.blockBytes;
    const shortfall = this.blockCount * this.blockBytes - this.#deviceSize;
    return shortfall > 0 && this.#bitmap.get(this.blockCount - 1) ? bytes - shortfall : bytes;
  }

  /**
   * Contiguous dirty byte ranges in order, starting at the block that holds `fromOffset`, each at
   * most `maxRunBytes` long (rounded down to whole blocks, at least one). Reads the live bitmap, so
   * bits changed while iterating may or may not be seen.
   */
  *dirtyRuns(fromOffset = 0, maxRunBytes = Number.POSITIVE_INFINITY): Generator<ByteRange, void, undefined> {
    const blockBytes = this.blockBytes;
    const maxBlocks = Math.max(1, Math.floor(maxRunBytes / blockBytes));
    for (const run of this.#bitmap.runs(Math.floor(Math.max(0, fromOffset) / blockBytes), maxBlocks)) {
      const offset = run.first * blockBytes;
      const end = Math.min((run.first + run.count) * blockBytes, this.#deviceSize);
      yield { offset, length: end - offset };
    }
  }

  /** Bits of blocks [firstBlock, firstBlock + blockCount): bit i of byte j is block firstBlock + 8j + i,
   * spare bits of the last byte zero. For sending to the peer. */
  exportBits(firstBlock: number, blockCount: number): Buffer {
    this.#checkBlockRange(firstBlock, blockCount);
    return this.#bitmap.exportRange(firstBlock, blockCount);
  }

  /** ORs bits in exportBits()'s order into the bitmap at `firstBlock`; bits past the end are ignored.
   * Durable after the next flush(). */
  mergeBits(firstBlock: number, bits: Uint8Array): void {
    this.#checkBlockRange(firstBlock, 0);
    this.#checkNotClosed();
    if (this.#bitmap.mergeRange(firstBlock, bits) > 0) {
      this.#markPages(firstBlock, Math.min(this.blockCount, firstBlock + bits.length * 8) - 1);
    }
  }

  // ---- durability and lifecycle -----------------------------------------------------------------

  /** Writes changed bitmap pages (and any pending superblock change) and fdatasyncs. */
  flush(): Promise<void> {
    if (this.#lifecycle === 'closed' || this.#failure !== null) return Promise.reject(this.#unusable());
    return new Promise<void>((resolve, reject) => {
      this.#flushWaiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Extends the bitmap to a device of `newDeviceSize` bytes (new blocks clean); durable when resolved. */
  grow(newDeviceSize: number): Promise<void> {
    if (this.#lifecycle === 'closed' || this.#failure !== null) return Promise.reject(this.#unusable());
    let geometry: Geometry;
    try {
      geometry = resolveGeometry(newDeviceSize, this.#geometry);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (newDeviceSize < this.#deviceSize) {
      return Promise.reject(
        new MetadataError(
          'invalid-geometry',
          `cannot shrink from ${this.#deviceSize} to ${newDeviceSize} bytes`,
        ),
      );
    }
    return this.#enqueueJob(() => this.#grow(geometry));
  }

  /**
   * Rejects waiting activations, waits for the writes in flight to be released, writes the bitmap,
   * then empties the activity log and marks the file clean. Later calls of anything else reject
   * (or throw, for the synchronous ones) with MetadataError('closed'); close() again returns the same
   * promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  // ---- internals ----------------------------------------------------------------------------------

  /** activate()'s slow path, kept out of it so the fast path allocates nothing (not even a closure
   * context). */
  #waitForExtents(first: number, last: number): Promise<void> {
    if (last - first + 1 > this.maxActiveExtents) {
      throw new RangeError(
        `extents ${first}..${last} are more than the activity log holds (${this.maxActiveExtents})`,
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#activationWaiters.push({ first, last, resolve, reject });
      this.#kick();
    });
  }

  /** Throws RangeError unless [offset, offset + length) lies inside the device: a caller outside it
   * is a bug above this layer. Reads the size from a field rather than taking it as an argument, so
   * a size beyond the small-integer range is never boxed on the data path. */
  #checkRange(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.#deviceSize
    ) {
      throw new RangeError(`range ${offset}+${length} is outside the device (size ${this.#deviceSize})`);
    }
  }

  /** After open: crash recovery, then the clean bit goes off on disk while the file is in use. */
  async #recover(): Promise<void> {
    const listed = this.#extentsToRecover;
    for (const extent of listed) {
      const first = extent * this.#layout.blocksPerExtent;
      const end = Math.min(first + this.#layout.blocksPerExtent, this.blockCount);
      if (this.#bitmap.setRange(first, end - first) > 0) this.#markPages(first, end - 1);
    }
    this.#recoveredExtents = listed.length;
    if (!this.#lastShutdownClean && (this.#flagWord & FLAG_WAS_PRIMARY) !== 0) {
      this.#flagWord |= FLAG_CRASHED_PRIMARY;
      this.#flagsView = this.#viewFlags();
    }
    await this.#writeDirtyPages(0, this.#layout.pageCount);
    if (this.#bitmapUnsynced) await this.#sync();
    await this.#writeRecord();
    await this.#sync();
  }

  #viewFlags(): MetadataFlags {
    return Object.freeze({ ...decodeFlags(this.#flagWord), clean: this.#lastShutdownClean });
  }

  #changeRecord(change: () => void): Promise<void> {
    if (this.#lifecycle === 'closed' || this.#failure !== null) return Promise.reject(this.#unusable());
    change();
    return new Promise<void>((resolve, reject) => {
      this.#recordWaiters.push({ resolve, reject });
      this.#kick();
    });
  }

  #enqueueJob(run: () => Promise<void>): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      this.#jobs.push({ run, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    this.#wakeups++;
    if (this.#pumping) return;
    this.#pumping = true;
    // Started from a microtask, so every request made in the same synchronous run joins the first round.
    queueMicrotask(() => void this.#pump());
  }

  /** Runs jobs and rounds until there is nothing to do. */
  async #pump(): Promise<void> {
    try {
      while (this.#failure === null) {
        const wakeups = this.#wakeups;
        const job = this.#jobs.shift();
        if (job !== undefined) await this.#runJob(job);
        else if (!(await this.#round()) && this.#wakeups === wakeups) break;
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #runJob(job: Job): Promise<void> {
    try {
      await job.run();
    } catch (error) {
      job.reject(this.#fail(error));
      return;
    }
    job.resolve();
  }

  /**
   * One transaction for everything queued: plan the activity log for waiting activations, write the
   * bitmap pages that must precede it, write the superblock slot, fdatasync. Returns false when
   * there was nothing to do.
   */
  async #round(): Promise<boolean> {
    this.#grantReady();
    const plan = this.#activationWaiters.length > 0 ? this.#log.plan(this.#activationWaiters) : null;
    const flushers = this.#flushWaiters;
    const recordWaiters = this.#recordWaiters;
    if (plan === null && flushers.length === 0 && recordWaiters.length === 0) return false;
    this.#flushWaiters = [];
    this.#recordWaiters = [];
    try {
      await this.#commit(plan, flushers.length > 0, recordWaiters.length > 0);
    } catch (error) {
      const failure = this.#fail(error);
      for (const waiter of [...flushers, ...recordWaiters]) waiter.reject(failure);
      return false;
    }
    if (plan !== null) this.#log.commit(plan);
    for (const waiter of flushers) waiter.resolve();
    for (const waiter of recordWaiters) waiter.resolve();
    this.#grantReady();
    return true;
  }

  async #commit(plan: TransactionPlan | null, flush: boolean, recordChanged: boolean): Promise<void> {
    if (flush) await this.#writeDirtyPages(0, this.#layout.pageCount);
    else if (plan !== null) for (const extent of plan.retired) await this.#writeExtentPages(extent);
    // The log may only forget an extent once the bits that replace it are durable.
    if (plan !== null && plan.retired.length > 0 && this.#bitmapUnsynced) await this.#sync();
    const writeRecord = plan !== null || recordChanged;
    if (writeRecord) await this.#writeRecord();
    if (writeRecord || this.#bitmapUnsynced) await this.#sync();
  }

  /** Hands their references to waiting activations whose extents are all active now. */
  #grantReady(): void {
    const waiters = this.#activationWaiters;
    if (waiters.length === 0) return;
    let kept = 0;
    for (const waiter of waiters) {
      if (this.#log.tryAcquire(waiter.first, waiter.last)) waiter.resolve();
      else waiters[kept++] = waiter;
    }
    waiters.length = kept;
  }

  async #grow(geometry: Geometry): Promise<void> {
    if (geometry.deviceSize <= this.#deviceSize) return;
    const layout = layoutOf(geometry);
    if ((await this.#file.size()) < layout.fileBytes) {
      // The new bitmap space must exist (as zeroes: clean) before a superblock says it does.
      await this.#file.truncate(layout.fileBytes);
      await this.#sync();
    }
    this.#bitmap.grow(layout.blockCount, layout.bitmapBytes);
    const dirtyPages = new Uint8Array(layout.pageCount);
    dirtyPages.set(this.#dirtyPages);
    this.#dirtyPages = dirtyPages;
    this.#geometry = geometry;
    this.#deviceSize = geometry.deviceSize;
    this.#layout = layout;
    await this.#writeRecord();
    await this.#sync();
  }

  async #shutDown(): Promise<void> {
    if (this.#lifecycle === 'open') this.#lifecycle = 'closing';
    const closed = new MetadataError('closed', `${this.path} is closing`);
    const waiting = this.#activationWaiters;
    this.#activationWaiters = [];
    for (const waiter of waiting) waiter.reject(closed);
    try {
      if (this.#failure === null) {
        await this.#writesDrained();
        await this.#enqueueJob(() => this.#markClean());
      }
    } finally {
      this.#lifecycle = 'closed';
      await this.#file.close().catch(ignore);
    }
    if (this.#failure !== null) throw this.#failure;
  }

  /** close()'s last transaction; also answers flushes and superblock changes still queued. */
  async #markClean(): Promise<void> {
    const waiters = [...this.#flushWaiters, ...this.#recordWaiters];
    this.#flushWaiters = [];
    this.#recordWaiters = [];
    try {
      await this.#writeDirtyPages(0, this.#layout.pageCount);
      if (this.#bitmapUnsynced) await this.#sync();
      this.#log.clear();
      this.#flagWord |= FLAG_CLEAN;
      await this.#writeRecord();
      await this.#sync();
    } catch (error) {
      const failure = this.#fail(error);
      for (const waiter of waiters) waiter.reject(failure);
      throw failure;
    }
    for (const waiter of waiters) waiter.resolve();
  }

  #writesDrained(): Promise<void> {
    if (this.#log.references === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#onDrained = () => {
        this.#onDrained = null;
        resolve();
      };
    });
  }

  /** Writes the superblock and activity log to the older slot (not synced: the caller syncs). */
  async #writeRecord(): Promise<void> {
    const sequence = this.#sequence + 1;
    const bytes = encodeRecord({
      sequence,
      geometry: this.#geometry,
      generations: this.#generations,
      diskState: this.#diskState,
      flags: this.#flagWord,
      activeExtents: this.#log.recordedExtents(),
    });
    await this.#file.write(bytes, SLOT_OFFSETS[this.#nextSlot]);
    this.#sequence = sequence;
    this.#nextSlot = this.#nextSlot === 0 ? 1 : 0;
  }

  async #sync(): Promise<void> {
    await this.#file.datasync();
    this.#bitmapUnsynced = false;
  }

  /** Writes the changed pages among [firstPage, endPage), contiguous ones together. Each page is
   * copied first: bits set meanwhile mark it changed again rather than tearing the write. */
  async #writeDirtyPages(firstPage: number, endPage: number): Promise<void> {
    const dirty = this.#dirtyPages;
    let page = firstPage;
    while (page < endPage && this.#dirtyPageCount > 0) {
      if (dirty[page] === 0) {
        page++;
        continue;
      }
      let runEnd = page;
      while (runEnd < endPage && runEnd - page < MAX_PAGES_PER_WRITE && dirty[runEnd] === 1) {
        dirty[runEnd++] = 0;
        this.#dirtyPageCount--;
      }
      const bytes = this.#bitmap.bytes.slice(page * BITMAP_PAGE_BYTES, runEnd * BITMAP_PAGE_BYTES);
      this.#bitmapUnsynced = true;
      await this.#file.write(bytes, BITMAP_OFFSET + page * BITMAP_PAGE_BYTES);
      page = runEnd;
    }
  }

  async #writeExtentPages(extent: number): Promise<void> {
    const firstBlock = extent * this.#layout.blocksPerExtent;
    const lastBlock = Math.min(firstBlock + this.#layout.blocksPerExtent, this.blockCount) - 1;
    await this.#writeDirtyPages(
      Math.floor(firstBlock / BITS_PER_PAGE),
      Math.floor(lastBlock / BITS_PER_PAGE) + 1,
    );
  }

  #markPages(firstBlock: number, lastBlock: number): void {
    const dirty = this.#dirtyPages;
    const lastPage = Math.floor(lastBlock / BITS_PER_PAGE);
    for (let page = Math.floor(firstBlock / BITS_PER_PAGE); page <= lastPage; page++) {
      if (dirty[page] === 0) {
        dirty[page] = 1;
        this.#dirtyPageCount++;
      }
    }
  }

  /** Makes the failure sticky and fails everything waiting. */
  #fail(error: unknown): MetadataError {
    this.#failure ??=
      error instanceof MetadataError
        ? error
        : new MetadataError('io-error', `${this.path}: ${messageOf(error)}`);
    const failure = this.#failure;
    const waiters: Waiter[] = [
      ...this.#activationWaiters,
      ...this.#flushWaiters,
      ...this.#recordWaiters,
      ...this.#jobs.splice(0),
    ];
    this.#activationWaiters = [];
    this.#flushWaiters = [];
    this.#recordWaiters = [];
    for (const waiter of waiters) waiter.reject(failure);
    this.#onDrained?.();
    return failure;
  }

  #unusable(): MetadataError {
    return this.#failure ?? new MetadataError('closed', `${this.path} is closed`);
  }

  #checkNotClosed(): void {
    if (this.#lifecycle === 'closed') throw new MetadataError('closed', `${this.path} is closed`);
  }

  #checkBlockRange(firstBlock: number, blockCount: number): void {
    if (
      !Number.isSafeInteger(firstBlock) ||
      !Number.isSafeInteger(blockCount) ||
      firstBlock < 0 ||
      blockCount < 0 ||
      firstBlock + blockCount > this.blockCount
    ) {
      throw new RangeError(
        `blocks ${firstBlock}+${blockCount} are outside the bitmap (${this.blockCount} blocks)`,
      );
    }
  }
}

function ioError(what: string, error: unknown): MetadataError {
  return new MetadataError('io-error', `${what}: ${messageOf(error)}`);
}

function ignore(): void {
  // best effort while already failing
}
