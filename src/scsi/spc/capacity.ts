// READ CAPACITY (10) and (16) parameter data (SBC-3 §5.15.2, §5.16.2). RETURNED LOGICAL BLOCK ADDRESS
// is the last LBA, not the count.
import type { ReadCapacity16 } from '../cdb/command.js';
import { physicalPerLogical, truncateToAllocation, type LogicalUnitInfo } from './logical-unit.js';

const U32_MAX = 0xffff_ffffn;

/** 8 bytes. An LU with more than 2^32 − 1 blocks reports FFFFFFFFh, telling the initiator to use
 * READ CAPACITY (16). */
export function readCapacity10(lu: LogicalUnitInfo): Buffer {
  const out = Buffer.alloc(8);
  const lastLba = lu.blockCount - 1n;
  out.writeUInt32BE(Number(lastLba >= U32_MAX ? U32_MAX : lastLba), 0);
  out.writeUInt32BE(lu.blockSize, 4);
  return out;
}

/** 32 bytes: P_TYPE and PROT_EN 0 (no protection information); LBPPBE from the physical block size;
 * LBPME and LBPRZ when thin provisioned; LOWEST ALIGNED LOGICAL BLOCK ADDRESS 0. */
export function readCapacity16Data(lu: LogicalUnitInfo): Buffer {
  const out = Buffer.alloc(32);
  out.writeBigUInt64BE(lu.blockCount - 1n, 0);
  out.writeUInt32BE(lu.blockSize, 8);
  out[13] = Math.log2(physicalPerLogical(lu)) & 0x0f; // P_I_EXPONENT = 0, LBPPBE
  if (lu.thinProvisioned) out[14] = 0x80 | 0x40; // LBPME, LBPRZ
  return out;
}

/** SBC-3 §5.16.1: an ALLOCATION LENGTH of 0 transfers nothing and is not an error. */
export function respondReadCapacity16(lu: LogicalUnitInfo, command: ReadCapacity16): Buffer {
  return truncateToAllocation(readCapacity16Data(lu), command.allocationLength);
}
