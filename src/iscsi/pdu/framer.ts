// Incremental PDU reader: fed the chunks a socket delivers, it hands out whole PDUs one at a time.
//
// State: the framer owns the bytes pushed to it and not yet handed out (it keeps references to the
// pushed chunks, which must not be reused), the header of a PDU whose data has not all arrived, and
// a count of bytes still to discard. The session owns the settings (digests, limits) and may change
// them between two calls of next(); a PDU whose header has been read keeps the digest setting it
// was read under. Nothing here throws on peer input: every problem is a FrameError value.
//
// A header digest mismatch is fatal (the lengths in the header cannot be trusted, so the stream is
// lost: RFC 7143 §7.8); after it the framer yields nothing more. Every other error concerns one
// PDU, whose remaining bytes are skipped without being buffered, so the session can answer with a
// Reject carrying `header` (RFC 7143 §11.17) and carry on, or drop the connection.
import { crc32c } from '../../lib/crc32c.js';
import { BHS_LENGTH, decodeBhs, segmentLengths, type Bhs } from './bhs.js';
import { NO_DIGESTS, paddingOf, type Digests, type Pdu } from './pdu.js';

export interface FramerLimits {
  /** Our MaxRecvDataSegmentLength (RFC 7143 §13.12): 8192 until login declares another. */
  readonly maxRecvDataSegmentLength: number;
  /** The most AHS bytes accepted in one PDU (at most 1020 fit the field). */
  readonly maxAHSLength: number;
}

export const DEFAULT_FRAMER_LIMITS: FramerLimits = { maxRecvDataSegmentLength: 8192, maxAHSLength: 1020 };

export type FrameError =
  | {
      readonly code: 'header-digest-mismatch';
      readonly fatal: true;
      readonly header: Buffer;
      readonly expected: number;
      readonly received: number;
    }
  | {
      readonly code: 'data-digest-mismatch';
      readonly fatal: false;
      readonly header: Buffer;
      readonly bhs: Bhs;
      readonly expected: number;
      readonly received: number;
    }
  | {
      readonly code: 'data-segment-too-long';
      readonly fatal: false;
      readonly header: Buffer;
      readonly length: number;
      readonly limit: number;
    }
  | {
      readonly code: 'ahs-too-long';
      readonly fatal: false;
      readonly header: Buffer;
      readonly length: number;
      readonly limit: number;
    }
  | {
      readonly code: 'unknown-opcode';
      readonly fatal: false;
      readonly header: Buffer;
      readonly opcode: number;
    };

export type FrameResult =
  { readonly ok: true; readonly pdu: Pdu } | { readonly ok: false; readonly error: FrameError };

/** A queue of received chunks that hands out byte ranges, copying only when a range spans chunks. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // offset of the first unread byte in chunks[0]
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The byte at `index` from the front; the caller checks `index < length`. */
  peek(index: number): number {
    let i = this.head + index;
    for (const chunk of this.chunks) {
      if (i < chunk.length) return chunk[i] ?? 0;
      i -= chunk.length;
    }
    return 0;
  }

  /** Removes and returns the first `n` bytes; the caller checks `n <= length`. */
  take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) break;
      const count = Math.min(n - filled, chunk.length - this.head);
      chunk.copy(out, filled, this.head, this.head + count);
      filled += count;
      this.advance(count);
    }
    return out;
  }

  /** Discards up to `n` bytes and returns how many it discarded. */
  skip(n: number): number {
    const count = Math.min(n, this.length);
    let left = count;
    while (left > 0) {
      const chunk = this.chunks[0];
      if (chunk === undefined) break;
      const step = Math.min(left, chunk.length - this.head);
      this.advance(step);
      left -= step;
    }
    return count;
  }

  private advance(n: number): void {
    this.head += n;
    this.length -= n;
    const first = this.chunks[0];
    if (first !== undefined && this.head >= first.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

interface PendingData {
  readonly bhs: Bhs;
  readonly header: Buffer;
  readonly ahs: Buffer;
  readonly dataLength: number;
  readonly withDigest: boolean;
}

export class PduFramer {
  private readonly queue = new ByteQueue();
  private pending: PendingData | undefined;
  private toSkip = 0;
  private dead = false;
  digests: Digests;
  limits: FramerLimits;

  constructor(options: { digests?: Digests; limits?: Partial<FramerLimits> } = {}) {
    this.digests = options.digests ?? NO_DIGESTS;
    this.limits = { ...DEFAULT_FRAMER_LIMITS, ...options.limits };
  }

  /** True once a fatal error has been reported: the connection cannot go on. */
  get failed(): boolean {
    return this.dead;
  }

  /** Bytes received and not yet handed out or skipped. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Adds bytes as the socket delivered them. */
  push(chunk: Buffer): void {
    if (!this.dead) this.queue.push(chunk);
  }

  /** The next complete PDU or error, or undefined until more bytes arrive. */
  next(): FrameResult | undefined {
    if (this.dead) return undefined;
    if (this.toSkip > 0) {
      this.toSkip -= this.queue.skip(this.toSkip);
      if (this.toSkip > 0) return undefined;
    }
    if (this.pending === undefined) {
      const step = this.readHeader();
      if (step === undefined || 'ok' in step) return step;
      this.pending = step;
    }
    return this.readData(this.pending);
  }

  /** Every PDU and error that the bytes pushed so far complete. */
  *frames(): Generator<FrameResult, void, undefined> {
    for (let r = this.next(); r !== undefined; r = this.next()) yield r;
  }

  /** Reads BHS, AHS and header digest: a PDU awaiting its data, an error, or undefined to wait. */
  private readHeader(): PendingData | FrameResult | undefined {
    if (this.queue.length < BHS_LENGTH) return undefined;
    const ahsLength = this.queue.peek(4) * 4;
    const headerDigest = this.digests.header;
    const blockLength = BHS_LENGTH + ahsLength + (headerDigest ? 4 : 0);
    if (this.queue.length < blockLength) return undefined;
    const block = this.queue.take(blockLength);
    const header = Buffer.from(block.subarray(0, BHS_LENGTH));
    const ahs = block.subarray(BHS_LENGTH, BHS_LENGTH + ahsLength);

    if (headerDigest) {
      const expected = crc32c(block.subarray(0, BHS_LENGTH + ahsLength));
      const received = block.readUInt32LE(BHS_LENGTH + ahsLength);
      if (expected !== received) {
        this.dead = true;
        return {
          ok: false,
          error: { code: 'header-digest-mismatch', fatal: true, header, expected, received },
        };
      }
    }

    const { dataSegmentLength } = segmentLengths(header);
    const withDigest = this.digests.data && dataSegmentLength > 0;
    const rest = dataSegmentLength + paddingOf(dataSegmentLength) + (withDigest ? 4 : 0);
    const skipRest = (error: FrameError): FrameResult => {
      this.toSkip = rest;
      this.toSkip -= this.queue.skip(this.toSkip);
      return { ok: false, error };
    };

    if (ahsLength > this.limits.maxAHSLength) {
      return skipRest({
        code: 'ahs-too-long',
        fatal: false,
        header,
        length: ahsLength,
        limit: this.limits.maxAHSLength,
      });
    }
    if (dataSegmentLength > this.limits.maxRecvDataSegmentLength) {
      return skipRest({
        code: 'data-segment-too-long',
        fatal: false,
        header,
        length: dataSegmentLength,
        limit: this.limits.maxRecvDataSegmentLength,
      });
    }
    const decoded = decodeBhs(header);
    if (!decoded.ok) {
      // The header is whole, so the only possible complaint is the opcode.
      const opcode = (header[0] ?? 0) & 0x3f;
      return skipRest({ code: 'unknown-opcode', fatal: false, header, opcode });
    }
    return { bhs: decoded.value, header, ahs: Buffer.from(ahs), dataLength: dataSegmentLength, withDigest };
  }

  private readData(p: PendingData): FrameResult | undefined {
    const padded = p.dataLength + paddingOf(p.dataLength);
    const need = padded + (p.withDigest ? 4 : 0);
    if (this.queue.length < need) return undefined;
    const segment = this.queue.take(need);
    this.pending = undefined;
    const data = segment.subarray(0, p.dataLength);
    if (p.withDigest) {
      const expected = crc32c(segment.subarray(0, padded));
      const received = segment.readUInt32LE(padded);
      if (expected !== received) {
        return {
          ok: false,
          error: {
            code: 'data-digest-mismatch',
            fatal: false,
            header: p.header,
            bhs: p.bhs,
            expected,
            received,
          },
        };
      }
    }
    return { ok: true, pdu: { bhs: p.bhs, ahs: p.ahs, data } };
  }
}
