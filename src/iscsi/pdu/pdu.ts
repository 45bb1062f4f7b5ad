// A whole PDU (RFC 7143 §11.2): BHS, AHS, optional header digest, data segment padded to 4 bytes,
// optional data digest. Digests are CRC32C, sent little-endian (RFC 7143 §13.1, RFC 3720 B.4); the
// header digest covers BHS and AHS, the data digest covers the data segment and its padding, and a
// PDU with an empty data segment has no data digest. Which digests a connection uses is settled by
// login negotiation (HeaderDigest, DataDigest) and applies from the first PDU after login.
import { crc32c } from '../../lib/crc32c.js';
import { encodeBhs, MAX_TOTAL_AHS_WORDS, type Bhs, type BhsFields } from './bhs.js';

/** Which digests a connection carries. */
export interface Digests {
  readonly header: boolean;
  readonly data: boolean;
}

export const NO_DIGESTS: Digests = { header: false, data: false };

/** A received PDU. `ahs` and `data` may share memory with the chunks the framer was fed. */
export interface Pdu {
  readonly bhs: Bhs;
  /** The raw AHS bytes (TotalAHSLength × 4 of them); parse with parseAhs. */
  readonly ahs: Buffer;
  /** The data segment without its padding. */
  readonly data: Buffer;
}

/** A PDU to send: the header fields, and the segments from which the length fields are computed. */
export interface OutgoingPdu {
  readonly bhs: BhsFields;
  /** AHS bytes as encodeAhs lays them out: a multiple of 4 bytes. */
  readonly ahs?: Buffer;
  readonly data?: Uint8Array;
}

/** The number of zero bytes that pad a segment of `length` bytes to a 4-byte boundary. */
export function paddingOf(length: number): number {
  return (4 - (length & 3)) & 3;
}

const ZEROS = Buffer.alloc(4);

/**
 * Encodes a PDU as a list of buffers for a gathering write: the header block (BHS, AHS, header
 * digest), then, when there is data, the data itself (not copied) and a trailer with the padding and
 * data digest.
 */
export function encodePduParts(pdu: OutgoingPdu, digests: Digests): Buffer[] {
  const ahs = pdu.ahs ?? Buffer.alloc(0);
  const data = pdu.data ?? Buffer.alloc(0);
  if (ahs.length % 4 !== 0 || ahs.length / 4 > MAX_TOTAL_AHS_WORDS) {
    throw new RangeError(`AHS of ${ahs.length} bytes is not a whole number of words up to 255`);
  }
  const bhs = encodeBhs(pdu.bhs, { totalAHSLength: ahs.length / 4, dataSegmentLength: data.length });
  const header = Buffer.alloc(bhs.length + ahs.length + (digests.header ? 4 : 0));
  bhs.copy(header, 0);
  ahs.copy(header, bhs.length);
  if (digests.header) {
    header.writeUInt32LE(crc32c(header.subarray(0, bhs.length + ahs.length)), bhs.length + ahs.length);
  }
  if (data.length === 0) return [header];

  const padding = paddingOf(data.length);
  const trailer = Buffer.alloc(padding + (digests.data ? 4 : 0));
  if (digests.data) {
    trailer.writeUInt32LE(crc32c(ZEROS.subarray(0, padding), crc32c(data)), padding);
  }
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  return trailer.length > 0 ? [header, body, trailer] : [header, body];
}

/** Encodes a PDU into one buffer. */
export function encodePdu(pdu: OutgoingPdu, digests: Digests = NO_DIGESTS): Buffer {
  return Buffer.concat(encodePduParts(pdu, digests));
}
