// Space a volume takes from its pool beyond its own size.
//
// Replication metadata follows DRBD's internal meta-data layout: a write-intent bitmap with one bit
// per 4 KiB block (32 KiB of bitmap per GiB of volume), rounded up to 4 KiB, plus 1 MiB for the
// superblock, generation identifiers and activity log.
import { invalid } from '../lib/errors.js';
import { alignUp, parseSize } from '../lib/size.js';

export const BITMAP_BLOCK_BYTES = 4096;
export const REPLICATION_METADATA_FIXED_BYTES = 1024 * 1024;

export function replicationMetadataBytes(volumeSize: number): number {
  const bitmapBytes = alignUp(Math.ceil(volumeSize / BITMAP_BLOCK_BYTES / 8), 4096);
  return bitmapBytes + REPLICATION_METADATA_FIXED_BYTES;
}

/** Parses a snapshot reserve given as a share of the volume (`10%`) or as a size (`1GiB`). */
export function parseSnapshotReserve(text: string, volumeSize: number): number {
  const percent = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (percent) {
    const share = Number(percent[1]);
    if (share > 100)
      throw invalid('bad-snapshot-reserve', `snapshot reserve ${text} is more than 100% of the volume`);
    return alignUp(Math.ceil((volumeSize * share) / 100), 4096);
  }
  return parseSize(text);
}
