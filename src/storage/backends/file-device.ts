// The backing store of a volume: a BlockDevice over a regular file (the volume image, see
// image-file.ts), the bottom of the data path stack (DESIGN.md). In the manner of tgt's bs_rdwr:
// positional reads and writes through the page cache, fdatasync for flush.
//
// State, owned by one FileBlockDevice:
// - `handle` is open from `open()` until `close()`; every operation checks `closed` first, and
//   close() waits for operations and syncs in flight before closing the handle.
// - `size` changes only through `refreshSize()` (the volume manager grows the file on expand).
// - `syncError`: once an fdatasync has failed, the kernel may have dropped the dirty pages it could
//   not write, and a later fdatasync could succeed without them. So a failed sync is sticky: every
//   later flush and FUA write rejects with it, and the device must be reopened (fsyncgate).
// Durability: a write resolves in the page cache; `flush` (group committed, see group-commit.ts)
// covers every write that resolved before it was called; a FUA write is a write and then a flush.
import { read as fsRead, readSync, write as fsWrite, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import {
  BlockIoError,
  checkDeviceRange,
  type AllocationExtent,
  type BlockDevice,
  type WriteOptions,
} from '../block-device.js';
import { GroupCommit } from '../group-commit.js';
import { Semaphore } from '../../lib/semaphore.js';
import { InlineIoPolicy, type InlineIoPolicyOptions } from './inline-io-policy.js';
import { toBlockIoError } from './io-errors.js';
import { fileExtents, punchHole } from './sparse-file.js';

export interface FileBlockDeviceOptions {
  /** Open read only: writes and discards reject as 'unavailable'. */
  readonly readOnly?: boolean;
  /** Discards shorter than this write zeroes instead of spawning `fallocate` (default 64 KiB). */
  readonly punchThreshold?: number;
  /** When reads and writes run inline on the event loop (see inline-io-policy.ts); `false`: never. */
  readonly inlineReads?: InlineIoPolicyOptions | false;
  readonly inlineWrites?: InlineIoPolicyOptions | false;
  /** pwrites in flight at once (default 4): buffered writes to one file serialize on its inode lock,
   * so more threads only contend for it (measured: 128 KiB writes cost a third more CPU with 16). */
  readonly writesInFlight?: number;
}

const DEFAULT_PUNCH_THRESHOLD = 64 * 1024;
/** Largest zero buffer written at once when a discard falls back to writing zeroes. */
const ZERO_CHUNK = 1024 * 1024;

export class FileBlockDevice implements BlockDevice {
  readonly #handle: FileHandle;
  readonly #groupCommit: GroupCommit;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #readOnly: boolean;
  readonly #punchThreshold: number;
  readonly #inlineReads: InlineIoPolicy | null;
  readonly #inlineWrites: InlineIoPolicy | null;
  readonly #writeSlots: Semaphore;
  #size: number;
  #closed = false;
  #closing: Promise<void> | null = null;
  #syncError: BlockIoError | null = null;

  private constructor(
    readonly path: string,
    handle: FileHandle,
    size: number,
    options: FileBlockDeviceOptions,
  ) {
    this.#handle = handle;
    this.#size = size;
    this.#readOnly = options.readOnly ?? false;
    this.#punchThreshold = options.punchThreshold ?? DEFAULT_PUNCH_THRESHOLD;
    this.#groupCommit = new GroupCommit(() => this.#datasync());
    this.#writeSlots = new Semaphore(options.writesInFlight ?? 4);
    this.#inlineReads = options.inlineReads === false ? null : new InlineIoPolicy(options.inlineReads);
    this.#inlineWrites = options.inlineWrites === false ? null : new InlineIoPolicy(options.inlineWrites);
  }

  /** Opens an existing image file (created by image-file.ts); its size is the device's size. */
  static async open(path: string, options: FileBlockDeviceOptions = {}): Promise<FileBlockDevice> {
    let handle: FileHandle;
    try {
      handle = await open(path, options.readOnly ? 'r' : 'r+');
    } catch (error) {
      const wrapped = toBlockIoError(error, `open ${path}`);
      throw new BlockIoError('unavailable', wrapped.message, wrapped.errno);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new BlockIoError('unavailable', `${path} is not a regular file`);
      return new FileBlockDevice(path, handle, stats.size, options);
    } catch (error) {
      await handle.close();
      throw toBlockIoError(error, `open ${path}`);
    }
  }

  get size(): number {
    return this.#size;
  }

  /** fdatasync calls issued so far (group commit makes this far fewer than flushes). */
  get syncs(): number {
    return this.#groupCommit.syncs;
  }

  /** Re-reads the file's size after the volume manager grew it; returns the new size. */
  refreshSize(): Promise<number> {
    return this.#run('stat', async (handle) => {
      this.#size = (await handle.stat()).size;
      return this.#size;
    });
  }

  read(offset: number, length: number): Promise<Buffer> {
    // Not zero-filled up front: pread fills it, and a read past the end of the file is zeroed.
    const buffer = Buffer.allocUnsafe(length);
    return this.readInto(buffer, offset).then(() => buffer);
  }

  /** Reads `target.length` bytes at `offset` into `target` (a caller that reuses its buffers, such as
   * the resync, saves a fresh allocation, and its page faults, per read). */
  readInto(target: Buffer, offset: number): Promise<void> {
    const length = target.length;
    return this.#run(`read ${length} bytes at ${offset}`, async (handle) => {
      this.#checkRange(offset, length);
      let done = 0;
      if (this.#inlineReads?.inline(length)) done = this.#readInline(handle.fd, target, offset);
      while (done < length) {
        const bytesRead = await pread(handle.fd, target, done, length - done, offset + done);
        if (bytesRead === 0) {
          target.fill(0, done);
          break;
        }
        done += bytesRead;
      }
    });
  }

  async write(offset: number, data: Buffer, options: WriteOptions = {}): Promise<void> {
    await this.#run(`write ${data.length} bytes at ${offset}`, async (handle) => {
      this.#checkWritable();
      this.#checkRange(offset, data.length);
      const done = this.#inlineWrites?.inline(data.length) ? this.#writeInline(handle.fd, data, offset) : 0;
      if (done < data.length) {
        await this.#writeSlots.run(() => writeAll(handle, data.subarray(done), offset + done));
      }
    });
    if (options.fua) await this.flush();
  }

  flush(): Promise<void> {
    return this.#run('flush', async () => {
      if (this.#syncError) throw this.#syncError;
      await this.#groupCommit.flush();
    });
  }

  discard(offset: number, length: number): Promise<void> {
    return this.#run(`discard ${length} bytes at ${offset}`, async (handle) => {
      this.#checkWritable();
      this.#checkRange(offset, length);
      if (length === 0) return;
      if (length >= this.#punchThreshold) {
        if ((await punchHole(this.path, offset, length)) === 'punched') return;
      }
      // Small range, or no punch hole here: zero only what is allocated, so holes stay holes.
      for (const extent of await fileExtents(handle.fd, offset, length)) {
        if (extent.mapped) await writeZeroes(handle, extent.offset, extent.length);
      }
    });
  }

  allocation(offset: number, length: number): Promise<AllocationExtent[]> {
    return this.#run(`allocation of ${length} bytes at ${offset}`, (handle) => {
      this.#checkRange(offset, length);
      return fileExtents(handle.fd, offset, length);
    });
  }

  /** Waits for operations in flight, then closes the file. Later calls reject as 'unavailable'. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      await Promise.allSettled([...this.#pending]);
      await this.#groupCommit.idle();
      try {
        await this.#handle.close();
      } catch (error) {
        throw toBlockIoError(error, `close ${this.path}`);
      }
    })();
    return this.#closing;
  }

  /** Runs one operation on the open handle: refuses after close, tracks it, maps its errors. */
  #run<T>(what: string, body: (handle: FileHandle) => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new BlockIoError('unavailable', `${what}: ${this.path} is closed`));
    }
    const handle = this.#handle;
    const operation = (async () => body(handle))().catch((error: unknown) => {
      if (error instanceof RangeError) throw error; // a caller's bug, not an I/O failure
      throw toBlockIoError(error, `${what} on ${this.path}`);
    });
    this.#pending.add(operation);
    const forget = (): void => {
      this.#pending.delete(operation);
    };
    operation.then(forget, forget);
    return operation;
  }

  async #datasync(): Promise<void> {
    // Sticky: a sync after a failed one may succeed without the pages the kernel dropped.
    if (this.#syncError) throw this.#syncError;
    try {
      await this.#handle.datasync();
    } catch (error) {
      const wrapped = toBlockIoError(error, `fdatasync ${this.path}`);
      this.#syncError ??= wrapped;
      throw wrapped;
    }
  }

  /** One pread on the event loop thread, timed for the policy; returns the bytes read. */
  #readInline(fd: number, buffer: Buffer, offset: number): number {
    const started = process.hrtime.bigint();
    const bytesRead = readSync(fd, buffer, 0, buffer.length, offset);
    this.#inlineReads?.record(Number(process.hrtime.bigint() - started));
    if (bytesRead === 0) buffer.fill(0);
    return bytesRead === 0 ? buffer.length : bytesRead;
  }

  /** One pwrite on the event loop thread, timed for the policy; returns the bytes written. */
  #writeInline(fd: number, data: Buffer, offset: number): number {
    const started = process.hrtime.bigint();
    const written = writeSync(fd, data, 0, data.length, offset);
    this.#inlineWrites?.record(Number(process.hrtime.bigint() - started));
    return written;
  }

  #checkWritable(): void {
    if (this.#readOnly) throw new BlockIoError('unavailable', `${this.path} is open read only`);
  }

  #checkRange(offset: number, length: number): void {
    checkDeviceRange(offset, length, this.#size);
  }
}

/** pwrite until every byte is written (the kernel may write less than asked). */
async function writeAll(handle: FileHandle, data: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const bytesWritten = await pwrite(handle.fd, data, done, data.length - done, offset + done);
    if (bytesWritten === 0) throw new BlockIoError('medium', `pwrite wrote nothing at ${offset + done}`);
    done += bytesWritten;
  }
}

async function writeZeroes(handle: FileHandle, offset: number, length: number): Promise<void> {
  const zeroes = Buffer.alloc(Math.min(length, ZERO_CHUNK));
  for (let done = 0; done < length; done += zeroes.length) {
    const chunk = Math.min(zeroes.length, length - done);
    await writeAll(handle, zeroes.subarray(0, chunk), offset + done);
  }
}

// The callback forms of pread/pwrite on the handle's descriptor: on the hot path they cost about half
// the CPU of FileHandle.read/write (measured by the bench's profile), for the same libuv work.
function pread(fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fsRead(fd, buffer, at, length, position, (error, bytes) => (error ? reject(error) : resolve(bytes))),
  );
}

function pwrite(fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fsWrite(fd, buffer, at, length, position, (error, bytes) => (error ? reject(error) : resolve(bytes))),
  );
}
