// Reads big-endian fields from one frame's payload. Running out of bytes, an invalid enumeration
// byte or bad UTF-8 raises PayloadError, which the payload decoder turns into a decode error value;
// it never leaves this module's callers.
import { isUtf8 } from 'node:buffer';
import type { ByteEnum } from './enums.js';

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

export class FieldReader {
  private at = 0;

  constructor(private readonly payload: Buffer) {}

  u8(): number {
    this.need(1, 'u8');
    return this.payload[this.at++] ?? 0;
  }

  bool(): boolean {
    const byte = this.u8();
    if (byte > 1) throw new PayloadError(`boolean byte ${byte} is neither 0 nor 1`);
    return byte === 1;
  }

  u16(): number {
    this.need(2, 'u16');
    const value = this.payload.readUInt16BE(this.at);
    this.at += 2;
    return value;
  }

  u32(): number {
    this.need(4, 'u32');
    const value = this.payload.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  u64(): bigint {
    this.need(8, 'u64');
    const value = this.payload.readBigUInt64BE(this.at);
    this.at += 8;
    return value;
  }

  enumeration<T extends string>(table: ByteEnum<T>): T {
    const code = this.u8();
    const value = table.value(code);
    if (value === undefined) throw new PayloadError(`byte ${code} is not a valid ${table.name}`);
    return value;
  }

  /** A copy of the next `length` bytes, so a small field never pins a large received chunk. */
  copiedBytes(length: number): Buffer {
    this.need(length, `${length}-byte field`);
    const value = Buffer.from(this.payload.subarray(this.at, this.at + length));
    this.at += length;
    return value;
  }

  string(): string {
    const length = this.u16();
    this.need(length, 'string');
    if (length === 0) return ''; // every ok ack: skip the view and the UTF-8 check
    const bytes = this.payload.subarray(this.at, this.at + length);
    if (!isUtf8(bytes)) throw new PayloadError('string is not valid UTF-8');
    this.at += length;
    return bytes.toString('utf8');
  }

  /** The rest of the payload (a view, not a copy): the data block of write-like messages. */
  rest(): Buffer {
    const value = this.payload.subarray(this.at);
    this.at = this.payload.length;
    return value;
  }

  /** Fails when fields are left over: a payload longer than its message is malformed. */
  end(): void {
    const left = this.payload.length - this.at;
    if (left !== 0) throw new PayloadError(`${left} bytes left over after the last field`);
  }

  private need(count: number, what: string): void {
    if (this.payload.length - this.at < count) throw new PayloadError(`payload ends inside a ${what}`);
  }
}
