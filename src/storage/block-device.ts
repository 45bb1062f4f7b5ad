// The one interface every layer of the data path implements (DESIGN.md: backing store → snapshot
// origin → mirror). A layer wraps the one below and adds one concern; the SCSI layer sees only this.
//
// Contract for every implementation:
// - Offsets and lengths are bytes; callers keep them inside [0, size) (the SCSI layer checks LBAs).
// - `write` resolves when the data reached the layer's cache (for a file: the page cache); it is
//   durable only after a `flush` that started after the write resolved, or when written with `fua`.
// - `flush` makes every write that resolved before the call durable. Implementations share one
//   fdatasync between concurrent callers (group commit).
// - `discard` deallocates: later reads of the range return zeroes.
// - Failures reject with a BlockIoError; nothing else is thrown on the data path.

export type BlockIoErrorKind =
  /** the backing store could not read or write (EIO and friends): MEDIUM ERROR */
  | 'medium'
  /** the pool is out of space for a thin volume: SPACE ALLOCATION FAILED */
  | 'no-space'
  /** the device is closed or read only by configuration */
  | 'unavailable';

export class BlockIoError extends Error {
  constructor(
    readonly kind: BlockIoErrorKind,
    message: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'BlockIoError';
  }
}

export interface WriteOptions {
  /** Force unit access: resolve only when this data is durable. */
  readonly fua?: boolean;
}

/** One run of blocks and whether it holds data (GET LBA STATUS, thin initial sync). */
export interface AllocationExtent {
  readonly offset: number;
  readonly length: number;
  readonly mapped: boolean;
}

export interface BlockDevice {
  /** Size in bytes. */
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer, options?: WriteOptions): Promise<void>;
  flush(): Promise<void>;
  discard(offset: number, length: number): Promise<void>;
  /** Allocation of the range, as extents covering it in order; devices without a map say all mapped. */
  allocation(offset: number, length: number): Promise<AllocationExtent[]>;
  close(): Promise<void>;
}

/** Throws a RangeError unless [offset, offset + length) lies inside a device of `size` bytes: a caller
 * outside the device is a bug above the storage layer, not an I/O error. */
export function checkDeviceRange(offset: number, length: number, size: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new RangeError(`range ${offset}+${length} is outside the device (size ${size})`);
  }
}
