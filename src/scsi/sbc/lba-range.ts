// The capacity check every medium-access command makes before touching data (SBC-3 §4.5): the range
// [lba, lba + blocks) must lie within the medium. bigint arithmetic, so an LBA near 2^64 cannot wrap.
import { senseReason, type SenseReason } from '../sense/sense-reason.js';

/** LOGICAL BLOCK ADDRESS OUT OF RANGE when the range ends past the last block; undefined when it fits.
 * A zero-length range is allowed up to and including LBA = blockCount, as Linux LIO allows. */
export function checkLbaRange(lba: bigint, blocks: number, blockCount: bigint): SenseReason | undefined {
  return lba + BigInt(blocks) > blockCount ? senseReason('LBA_OUT_OF_RANGE') : undefined;
}
