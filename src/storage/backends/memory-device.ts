// A sparse BlockDevice in memory, for fast tests of the layers above (SCSI, snapshots, mirror), with
// failure injection so they can exercise MEDIUM ERROR and SPACE ALLOCATION FAILED.
//
// State, owned by one MemoryBlockDevice: `chunks` maps a chunk index to its bytes; a chunk that is
// absent is unallocated and reads as zeroes. Writes allocate the chunks they touch (zeroes
// included, like a file); discard frees the chunks it covers whole and zeroes the parts of the
// others. Invariants: every stored chunk is exactly `chunkSize` bytes; no chunk lies at or past
// `size` (resize drops them). Failure rules are checked, in order, before an operation does anything.
import {
  BlockIoError,
  checkDeviceRange,
  type AllocationExtent,
  type BlockDevice,
  type BlockIoErrorKind,
  type WriteOptions,
} from '../block-device.js';

export type MemoryOperation = 'read' | 'write' | 'flush' | 'discard' | 'allocation';

/** One operation as a failure rule sees it (`length` is 0 for flush). */
export interface MemoryRequest {
  readonly op: MemoryOperation;
  readonly offset: number;
  readonly length: number;
  readonly fua: boolean;
}

/** Returns the kind of error to fail the request with, or undefined to let it through. */
export type FailurePredicate = (request: MemoryRequest) => BlockIoErrorKind | undefined;

export interface MemoryBlockDeviceOptions {
  /** Allocation granularity in bytes (default 64 KiB). */
  readonly chunkSize?: number;
}

export interface MemoryDeviceStats {
  reads: number;
  writes: number;
  fuaWrites: number;
  flushes: number;
  discards: number;
}

const DEFAULT_CHUNK_SIZE = 64 * 1024;

export class MemoryBlockDevice implements BlockDevice {
  readonly chunkSize: number;
  readonly stats: MemoryDeviceStats = { reads: 0, writes: 0, fuaWrites: 0, flushes: 0, discards: 0 };
  readonly #chunks = new Map<number, Buffer>();
  #rules: { predicate: FailurePredicate; remaining: number }[] = [];
  #size: number;
  #closed = false;

  constructor(size: number, options: MemoryBlockDeviceOptions = {}) {
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad device size ${size}`);
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize <= 0) {
      throw new RangeError(`bad chunk size ${this.chunkSize}`);
    }
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes held by allocated chunks (what a thin volume would occupy in the pool). */
  get allocatedBytes(): number {
    return this.#chunks.size * this.chunkSize;
  }

  /** Changes the size, as a volume expand would; chunks past a smaller size are dropped. */
  resize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad device size ${size}`);
    this.#size = size;
    // Zero the tail of a chunk cut in two, so a later grow reads zeroes there.
    const cut = size % this.chunkSize;
    const partial = this.#chunks.get(Math.floor(size / this.chunkSize));
    if (cut > 0 && partial) partial.fill(0, cut);
    for (const index of this.#chunks.keys()) {
      if (index * this.chunkSize >= size) this.#chunks.delete(index);
    }
  }

  /** Fails the next `count` operations of `op` (any operation when omitted) with `kind`. */
  failNext(kind: BlockIoErrorKind, op?: MemoryOperation, count = 1): void {
    this.#rules.push({
      predicate: (request) => (op === undefined || request.op === op ? kind : undefined),
      remaining: count,
    });
  }

  /** Fails every operation for which `predicate` returns a kind, until `clearFailures()`. */
  failWhen(predicate: FailurePredicate): void {
    this.#rules.push({ predicate, remaining: Infinity });
  }

  clearFailures(): void {
    this.#rules = [];
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.#run({ op: 'read', offset, length, fua: false }, () => {
      this.stats.reads++;
      const out = Buffer.alloc(length);
      this.#eachPiece(offset, length, (index, within, count, done) => {
        this.#chunks.get(index)?.copy(out, done, within, within + count);
      });
      return out;
    });
  }

  write(offset: number, data: Buffer, options: WriteOptions = {}): Promise<void> {
    const fua = options.fua ?? false;
    return this.#run({ op: 'write', offset, length: data.length, fua }, () => {
      this.stats.writes++;
      if (fua) this.stats.fuaWrites++;
      this.#eachPiece(offset, data.length, (index, within, count, done) => {
        let chunk = this.#chunks.get(index);
        if (!chunk) {
          chunk = Buffer.alloc(this.chunkSize);
          this.#chunks.set(index, chunk);
        }
        data.copy(chunk, within, done, done + count);
      });
    });
  }

  flush(): Promise<void> {
    return this.#run({ op: 'flush', offset: 0, length: 0, fua: false }, () => {
      this.stats.flushes++;
    });
  }

  discard(offset: number, length: number): Promise<void> {
    return this.#run({ op: 'discard', offset, length, fua: false }, () => {
      this.stats.discards++;
      this.#eachPiece(offset, length, (index, within, count) => {
        // Whole chunk, or all of the device's last, partial chunk: free it.
        if (within === 0 && (count === this.chunkSize || index * this.chunkSize + count >= this.#size)) {
          this.#chunks.delete(index);
        } else this.#chunks.get(index)?.fill(0, within, within + count);
      });
    });
  }

  allocation(offset: number, length: number): Promise<AllocationExtent[]> {
    return this.#run({ op: 'allocation', offset, length, fua: false }, () => {
      const extents: { offset: number; length: number; mapped: boolean }[] = [];
      this.#eachPiece(offset, length, (index, _within, count, done) => {
        const mapped = this.#chunks.has(index);
        const last = extents.at(-1);
        if (last?.mapped === mapped) last.length += count;
        else extents.push({ offset: offset + done, length: count, mapped });
      });
      return extents;
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Checks state, range and failure rules, then runs `body`; every failure is a rejection. */
  #run<T>(request: MemoryRequest, body: () => T): Promise<T> {
    try {
      if (this.#closed) throw new BlockIoError('unavailable', `${request.op}: memory device is closed`);
      checkDeviceRange(request.offset, request.length, this.#size);
      const kind = this.#injectedFailure(request);
      if (kind) throw new BlockIoError(kind, `${request.op}: injected ${kind} failure`, 'EINJECTED');
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #injectedFailure(request: MemoryRequest): BlockIoErrorKind | undefined {
    for (const rule of this.#rules) {
      const kind = rule.predicate(request);
      if (kind === undefined) continue;
      rule.remaining--;
      if (rule.remaining <= 0) this.#rules = this.#rules.filter((other) => other !== rule);
      return kind;
    }
    return undefined;
  }

  /** Splits [offset, offset + length) at chunk boundaries: (chunk index, offset in chunk, bytes, bytes before). */
  #eachPiece(
    offset: number,
    length: number,
    visit: (index: number, within: number, count: number, done: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const position = offset + done;
      const index = Math.floor(position / this.chunkSize);
      const within = position % this.chunkSize;
      const count = Math.min(this.chunkSize - within, length - done);
      visit(index, within, count, done);
      done += count;
    }
  }
}
