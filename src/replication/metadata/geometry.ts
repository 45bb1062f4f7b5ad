// Sizes and file offsets of the metadata file, derived from the volume's size and the chosen
// granularities. Pure. See docs/replication-metadata.md for the layout these numbers describe.
import { MetadataError } from './errors.js';

/** Each superblock slot (superblock + activity log, see record.ts) is one 4 KiB block. */
export const SLOT_BYTES = 4096;
/** Slot A at 0, slot B right after it. */
export const SLOT_OFFSETS: readonly [number, number] = [0, SLOT_BYTES];
/** The bitmap starts after the two slots and is written back in pages of this size. */
export const BITMAP_OFFSET = 2 * SLOT_BYTES;
export const BITMAP_PAGE_BYTES = 4096;
export const BITS_PER_PAGE = BITMAP_PAGE_BYTES * 8;

export const DEFAULT_BLOCK_BYTES = 4096;
export const DEFAULT_EXTENT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_ACTIVE_EXTENTS = 257;

/** Fixed part of a slot before the activity log's extent numbers (record.ts). */
export const RECORD_HEADER_BYTES = 96;
/** As many u32 extent numbers as fit in one slot after the header. */
export const MAX_ACTIVE_EXTENTS_LIMIT = (SLOT_BYTES - RECORD_HEADER_BYTES) / 4;

const MIN_BLOCK_BYTES = 512;
const MAX_BLOCK_BYTES = 1024 * 1024;
const MAX_EXTENT_BYTES = 1024 * 1024 * 1024;
/** Extent numbers are stored as u32. */
const MAX_EXTENT_COUNT = 0xffff_ffff;
/** The in-memory bitmap is one typed array; Node 20 caps those at 4 GiB (128 TiB of 4 KiB blocks). */
const MAX_BITMAP_BYTES = 2 ** 32;

export interface Geometry {
  readonly deviceSize: number;
  readonly blockBytes: number;
  readonly extentBytes: number;
  readonly maxActiveExtents: number;
}

export interface GeometryOptions {
  readonly blockBytes?: number;
  readonly extentBytes?: number;
  readonly maxActiveExtents?: number;
}

/** Where things are in a file of this geometry. */
export interface Layout {
  readonly blockCount: number;
  readonly extentCount: number;
  readonly blocksPerExtent: number;
  /** Bytes of bitmap in the file: whole pages, enough for `blockCount` bits. */
  readonly bitmapBytes: number;
  readonly pageCount: number;
  /** The whole file: two slots and the bitmap. */
  readonly fileBytes: number;
}

/** The geometry for `deviceSize` with defaults filled in; throws MetadataError('invalid-geometry'). */
export function resolveGeometry(deviceSize: number, options: GeometryOptions = {}): Geometry {
  const geometry: Geometry = {
    deviceSize,
    blockBytes: options.blockBytes ?? DEFAULT_BLOCK_BYTES,
    extentBytes: options.extentBytes ?? DEFAULT_EXTENT_BYTES,
    maxActiveExtents: options.maxActiveExtents ?? DEFAULT_MAX_ACTIVE_EXTENTS,
  };
  const problem = geometryProblem(geometry);
  if (problem !== null) throw new MetadataError('invalid-geometry', problem, { ...geometry });
  return geometry;
}

/** Why this geometry cannot be stored, or null when it can. */
export function geometryProblem(g: Geometry): string | null {
  if (!Number.isSafeInteger(g.deviceSize) || g.deviceSize < 1) {
    return `device size ${g.deviceSize} is not a positive whole number of bytes`;
  }
  if (!isPowerOfTwoIn(g.blockBytes, MIN_BLOCK_BYTES, MAX_BLOCK_BYTES)) {
    return `block size ${g.blockBytes} is not a power of two from ${MIN_BLOCK_BYTES} to ${MAX_BLOCK_BYTES}`;
  }
  if (!isPowerOfTwoIn(g.extentBytes, g.blockBytes, MAX_EXTENT_BYTES)) {
    return `extent size ${g.extentBytes} is not a power of two from the block size to ${MAX_EXTENT_BYTES}`;
  }
  if (
    !Number.isSafeInteger(g.maxActiveExtents) ||
    g.maxActiveExtents < 1 ||
    g.maxActiveExtents > MAX_ACTIVE_EXTENTS_LIMIT
  ) {
    return `maxActiveExtents ${g.maxActiveExtents} is not from 1 to ${MAX_ACTIVE_EXTENTS_LIMIT}`;
  }
  if (Math.ceil(g.deviceSize / g.extentBytes) > MAX_EXTENT_COUNT) {
    return `device size ${g.deviceSize} needs more than 2^32-1 extents of ${g.extentBytes} bytes`;
  }
  if (Math.ceil(g.deviceSize / g.blockBytes / 8) > MAX_BITMAP_BYTES) {
    return `device size ${g.deviceSize} needs a bitmap larger than 4 GiB at ${g.blockBytes} bytes a block`;
  }
  return null;
}

/** Offsets and sizes of a valid geometry (see resolveGeometry). */
export function layoutOf(g: Geometry): Layout {
  const blockCount = Math.ceil(g.deviceSize / g.blockBytes);
  const bitmapBytes = roundUp(Math.ceil(blockCount / 8), BITMAP_PAGE_BYTES);
  return {
    blockCount,
    extentCount: Math.ceil(g.deviceSize / g.extentBytes),
    blocksPerExtent: g.extentBytes / g.blockBytes,
    bitmapBytes,
    pageCount: bitmapBytes / BITMAP_PAGE_BYTES,
    fileBytes: BITMAP_OFFSET + bitmapBytes,
  };
}

function isPowerOfTwoIn(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max && (value & (value - 1)) === 0;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
