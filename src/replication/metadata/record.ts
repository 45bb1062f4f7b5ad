// Encoding of one superblock slot: the superblock fields and the activity log, checksummed, in one
// 4 KiB block (SLOT_BYTES). The file holds two slots; every update rewrites the older one, so a torn
// write leaves the other, previous state intact. Pure; decoding never throws.
// Byte layout (all little-endian), documented in docs/replication-metadata.md:
//   0x00  8  magic "TANDEMRM"          0x30  8  generations.current
//   0x08  4  format version (1)        0x38  8  generations.bitmap
//   0x0C  4  CRC32C of every other     0x40  8  generations.history[0]
//            byte of the slot          0x48  8  generations.history[1]
//   0x10  8  sequence number           0x50  4  disk state code
//   0x18  8  device size in bytes      0x54  4  active extent count n
//   0x20  4  block bytes               0x58  8  reserved, zero
//   0x24  4  extent bytes              0x60 4n  active extent numbers (u32)
//   0x28  4  max active extents        rest     zero
//   0x2C  4  flags (flags.ts)
import type { DiskState, Generations } from '../state/types.js';
import { crc32c } from '../../lib/crc32c.js';
import type { MetadataErrorCode } from './errors.js';
import { geometryProblem, layoutOf, RECORD_HEADER_BYTES, SLOT_BYTES, type Geometry } from './geometry.js';

export const MAGIC = Buffer.from('TANDEMRM', 'latin1');
export const FORMAT_VERSION = 1;

const CRC_OFFSET = 0x0c;

/** Disk states by their stored code; codes are part of the format, never renumbered. */
const DISK_STATE_CODES: Readonly<Record<DiskState, number>> = {
  'up-to-date': 1,
  consistent: 2,
  inconsistent: 3,
  outdated: 4,
  unknown: 5,
};
const DISK_STATE_BY_CODE = new Map<number, DiskState>(
  Object.entries(DISK_STATE_CODES).map(([state, code]) => [code, state as DiskState]),
);

export interface MetadataRecord {
  /** Higher is newer; the two slots hold consecutive numbers once both were written. */
  readonly sequence: number;
  readonly geometry: Geometry;
  readonly generations: Generations;
  readonly diskState: DiskState;
  /** The flag word, bits as in flags.ts. */
  readonly flags: number;
  /** Extent numbers recorded active: writes may be in flight to any block inside them. */
  readonly activeExtents: readonly number[];
}

export type SlotContent =
  | { readonly kind: 'valid'; readonly record: MetadataRecord }
  /** no magic: never written, or not a metadata file */
  | { readonly kind: 'foreign' }
  | { readonly kind: 'unsupported-version'; readonly version: number }
  | { readonly kind: 'corrupt'; readonly reason: string };

export type ChosenRecord =
  | { readonly ok: true; readonly record: MetadataRecord; readonly slot: 0 | 1 }
  | { readonly ok: false; readonly code: MetadataErrorCode; readonly message: string };

/** One slot's bytes (SLOT_BYTES). Throws RangeError for values the format cannot hold (a bug). */
export function encodeRecord(record: MetadataRecord): Buffer {
  const { geometry: g, generations, activeExtents } = record;
  if (activeExtents.length > g.maxActiveExtents) {
    throw new RangeError(`${activeExtents.length} active extents exceed the maximum ${g.maxActiveExtents}`);
  }
  const slot = Buffer.alloc(SLOT_BYTES);
  MAGIC.copy(slot, 0);
  slot.writeUInt32LE(FORMAT_VERSION, 0x08);
  slot.writeBigUInt64LE(BigInt(record.sequence), 0x10);
  slot.writeBigUInt64LE(BigInt(g.deviceSize), 0x18);
  slot.writeUInt32LE(g.blockBytes, 0x20);
  slot.writeUInt32LE(g.extentBytes, 0x24);
  slot.writeUInt32LE(g.maxActiveExtents, 0x28);
  slot.writeUInt32LE(record.flags >>> 0, 0x2c);
  slot.writeBigUInt64LE(generations.current, 0x30);
  slot.writeBigUInt64LE(generations.bitmap, 0x38);
  slot.writeBigUInt64LE(generations.history[0], 0x40);
  slot.writeBigUInt64LE(generations.history[1], 0x48);
  slot.writeUInt32LE(DISK_STATE_CODES[record.diskState], 0x50);
  slot.writeUInt32LE(activeExtents.length, 0x54);
  let offset = RECORD_HEADER_BYTES;
  for (const extent of activeExtents) {
    slot.writeUInt32LE(extent, offset);
    offset += 4;
  }
  slot.writeUInt32LE(slotChecksum(slot), CRC_OFFSET);
  return slot;
}

/** What one slot's bytes hold; `bytes` may be short (a truncated file). */
export function decodeRecord(bytes: Uint8Array): SlotContent {
  const slot = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (slot.length < MAGIC.length || !MAGIC.equals(slot.subarray(0, MAGIC.length))) {
    return { kind: 'foreign' };
  }
  if (slot.length < SLOT_BYTES) return { kind: 'corrupt', reason: 'the slot is cut short' };
  const version = slot.readUInt32LE(0x08);
  if (version !== FORMAT_VERSION) return { kind: 'unsupported-version', version };
  if (slot.readUInt32LE(CRC_OFFSET) !== slotChecksum(slot)) {
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  }
  return decodeFields(slot);
}

/**
 * The slot to trust: the valid one with the higher sequence number. A slot of a newer format version
 * wins over everything (refused rather than silently rolled back to the older slot).
 */
export function chooseRecord(a: SlotContent, b: SlotContent): ChosenRecord {
  const slots = [a, b] as const;
  const newer = slots.find((s) => s.kind === 'unsupported-version');
  if (newer?.kind === 'unsupported-version') {
    return {
      ok: false,
      code: 'unsupported-version',
      message: `metadata format version ${newer.version} is not supported (this code reads version ${FORMAT_VERSION})`,
    };
  }
  let best: { record: MetadataRecord; slot: 0 | 1 } | null = null;
  for (const slot of [0, 1] as const) {
    const content = slots[slot];
    if (content.kind === 'valid' && (best === null || content.record.sequence > best.record.sequence)) {
      best = { record: content.record, slot };
    }
  }
  if (best !== null) return { ok: true, ...best };
  const reasons = slots.flatMap((s) => (s.kind === 'corrupt' ? [s.reason] : []));
  if (reasons.length > 0) {
    return {
      ok: false,
      code: 'corrupt',
      message: `no valid superblock slot (${reasons.join('; ')})`,
    };
  }
  return { ok: false, code: 'not-metadata', message: 'not a replication metadata file (no magic)' };
}

function decodeFields(slot: Buffer): SlotContent {
  const sequence = readSafeInteger(slot, 0x10);
  const deviceSize = readSafeInteger(slot, 0x18);
  if (sequence === null || deviceSize === null) {
    return { kind: 'corrupt', reason: 'sequence or device size out of range' };
  }
  const geometry: Geometry = {
    deviceSize,
    blockBytes: slot.readUInt32LE(0x20),
    extentBytes: slot.readUInt32LE(0x24),
    maxActiveExtents: slot.readUInt32LE(0x28),
  };
  const problem = geometryProblem(geometry);
  if (problem !== null) return { kind: 'corrupt', reason: problem };
  const diskState = DISK_STATE_BY_CODE.get(slot.readUInt32LE(0x50));
  if (diskState === undefined) return { kind: 'corrupt', reason: 'unknown disk state code' };
  const count = slot.readUInt32LE(0x54);
  if (count > geometry.maxActiveExtents) {
    return { kind: 'corrupt', reason: `${count} active extents exceed the maximum` };
  }
  const { extentCount } = layoutOf(geometry);
  const activeExtents: number[] = [];
  for (let i = 0; i < count; i++) {
    const extent = slot.readUInt32LE(RECORD_HEADER_BYTES + 4 * i);
    if (extent >= extentCount) return { kind: 'corrupt', reason: `active extent ${extent} is past the end` };
    activeExtents.push(extent);
  }
  return {
    kind: 'valid',
    record: {
      sequence,
      geometry,
      generations: {
        current: slot.readBigUInt64LE(0x30),
        bitmap: slot.readBigUInt64LE(0x38),
        history: [slot.readBigUInt64LE(0x40), slot.readBigUInt64LE(0x48)],
      },
      diskState,
      flags: slot.readUInt32LE(0x2c),
      activeExtents,
    },
  };
}

function slotChecksum(slot: Buffer): number {
  return crc32c(slot.subarray(CRC_OFFSET + 4), crc32c(slot.subarray(0, CRC_OFFSET)));
}

function readSafeInteger(slot: Buffer, offset: number): number | null {
  const value = slot.readBigUInt64LE(offset);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
}
