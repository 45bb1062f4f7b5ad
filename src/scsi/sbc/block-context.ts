// What the SBC executors need from their logical unit: the block device, the geometry, the limits it
// reports, the write cache setting and the range lock. The LU builds one per command from its current
// state; executors never keep it.
import type { BlockDevice } from '../../storage/block-device.js';
import type { RangeLock } from '../../lib/range-lock.js';
import type { BlockLimits } from '../spc/logical-unit.js';

export interface BlockContext {
  readonly device: BlockDevice;
  readonly blockSize: number;
  readonly blockCount: bigint;
  readonly limits: BlockLimits;
  readonly thinProvisioned: boolean;
  /** WCE: acknowledged writes may stay in a volatile cache. Off (write-through): every write is made
   * durable with a flush before GOOD. */
  readonly writeCacheEnabled: boolean;
  readonly lock: RangeLock;
}

/** Byte offset of an LBA already checked to lie within the medium. */
export const byteOffset = (ctx: BlockContext, lba: bigint): number => Number(lba) * ctx.blockSize;
