// Appends big-endian fields to a buffer that grows as needed. The first HEADER_LENGTH bytes are left
// for the frame header, so header and fixed fields end up in one small buffer.
import { WireEncodeError } from './encode-error.js';
import { HEADER_LENGTH } from './header.js';

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
const MAX_U64 = (1n << 64n) - 1n;

export class FieldWriter {
  private buffer: Buffer;
  private at = HEADER_LENGTH;

  constructor(expectedFieldBytes = 48) {
    this.buffer = Buffer.allocUnsafe(HEADER_LENGTH + expectedFieldBytes);
  }

  /** Header room plus the fields written so far. */
  finish(): Buffer {
    return this.buffer.subarray(0, this.at);
  }

  get fieldLength(): number {
    return this.at - HEADER_LENGTH;
  }

  u8(value: number): void {
    this.checkInteger('u8', value, 0xff);
    this.reserve(1);
    this.buffer[this.at++] = value;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  u16(value: number): void {
    this.checkInteger('u16', value, MAX_U16);
    this.reserve(2);
    this.at = this.buffer.writeUInt16BE(value, this.at);
  }

  u32(value: number): void {
    this.checkInteger('u32', value, MAX_U32);
    this.reserve(4);
    this.at = this.buffer.writeUInt32BE(value, this.at);
  }

  u64(value: bigint): void {
    if (value < 0n || value > MAX_U64) throw new WireEncodeError(`${value} does not fit a u64 field`);
    this.reserve(8);
    this.at = this.buffer.writeBigUInt64BE(value, this.at);
  }

  /** Exactly `length` bytes, for fixed-size fields such as challenges and digests. */
  fixedBytes(value: Buffer, length: number): void {
    if (value.length !== length) {
      throw new WireEncodeError(`field must be ${length} bytes, got ${value.length}`);
    }
    this.reserve(length);
    this.at += value.copy(this.buffer, this.at);
  }

  /** A u16 byte length, then the UTF-8 bytes. */
  string(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    if (length > MAX_U16) throw new WireEncodeError(`string of ${length} bytes exceeds ${MAX_U16} bytes`);
    this.reserve(2 + length);
    this.at = this.buffer.writeUInt16BE(length, this.at);
    this.at += this.buffer.write(value, this.at, length, 'utf8');
  }

  private checkInteger(kind: string, value: number, max: number): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new WireEncodeError(`${value} does not fit a ${kind} field`);
    }
  }

  private reserve(count: number): void {
    if (this.at + count <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + count));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }
}
