import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeFrame,
  FrameDecoder,
  frameLength,
  isDecodeError,
  MAX_PAYLOAD_LENGTH,
  MESSAGE_CODES,
  WireEncodeError,
  type DecodeResult,
  type ReplMessage,
} from '../../../../src/replication/wire/index.js';
import { anyFrame } from './arbitraries.js';

function decodeAll(bytes: Buffer): DecodeResult[] {
  const decoder = new FrameDecoder();
  decoder.push(bytes);
  return [...decoder.frames()];
}

function decodeOne(bytes: Buffer): DecodeResult {
  const results = decodeAll(bytes);
  assert.equal(results.length, 1);
  return results[0]!;
}

function expectError(bytes: Buffer, pattern: RegExp): void {
  const result = decodeOne(bytes);
  assert.ok(
    isDecodeError(result),
    `expected a decode error, got ${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
  );
  assert.match(result.error, pattern);
}

/** A frame header followed by `payload`, built by hand. */
function rawFrame(
  typeCode: number,
  payload: Buffer,
  overrides: Partial<Record<number, number>> = {},
): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0x5444, 0);
  header[2] = 1;
  header[3] = typeCode;
  header.writeUInt32BE(7, 8);
  header.writeUInt32BE(payload.length, 12);
  for (const [index, value] of Object.entries(overrides)) header[Number(index)] = value ?? 0;
  return Buffer.concat([header, payload]);
}

const TYPE_COUNT = 23;

describe('wire codec', () => {
  it('has a distinct code for each message type', () => {
    const codes = Object.values(MESSAGE_CODES);
    assert.equal(codes.length, TYPE_COUNT);
    assert.equal(new Set(codes).size, TYPE_COUNT);
  });

  it('round-trips every message type with its id and reply flag', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(anyFrame, ({ message, id, isReply }) => {
        seen.add(message.type);
        const parts = encodeFrame(message, id, isReply);
        const bytes = Buffer.concat(parts);
        assert.equal(bytes.readUInt32BE(12), bytes.length - 16);
        assert.equal(frameLength(parts), bytes.length);
        const decoded = decodeOne(bytes);
        assert.deepEqual(decoded, { id, isReply, message });
      }),
      { numRuns: 3000 },
    );
    assert.equal(seen.size, TYPE_COUNT);
  });

  it('encodes a header byte for byte', () => {
    const [head, ...rest] = encodeFrame({ type: 'ping' }, 0x01020304, true);
    assert.deepEqual(rest, []);
    assert.equal(head!.toString('hex'), '5444' + '01' + '40' + '01' + '000000' + '01020304' + '00000000');
  });

  it('encodes a write frame byte for byte and passes the data block through uncopied', () => {
    const data = Buffer.from('abcd');
    const parts = encodeFrame({ type: 'write', offset: 0x1122334455667788n, fua: true, data }, 9, false);
    assert.equal(parts.length, 2);
    assert.equal(parts[1], data, 'the data block is the caller’s own buffer');
    assert.equal(
      parts[0]!.toString('hex'),
      '5444' + '01' + '20' + '00' + '000000' + '00000009' + '0000000d' + '1122334455667788' + '01',
    );
  });

  it('encodes strings as a u16 length and UTF-8', () => {
    const [head] = encodeFrame({ type: 'disconnect', reason: 'é!' }, 0, false);
    assert.equal(head!.subarray(16).toString('hex'), '0003' + 'c3a9' + '21');
  });

  it('refuses to encode values that do not fit the wire', () => {
    const tooLong = 'x'.repeat(0x10000);
    const cases: [ReplMessage, number][] = [
      [{ type: 'disconnect', reason: tooLong }, 0],
      [{ type: 'auth', proof: Buffer.alloc(31) }, 0],
      [{ type: 'discard', offset: -1n, length: 0 }, 0],
      [{ type: 'discard', offset: 1n << 64n, length: 0 }, 0],
      [{ type: 'discard', offset: 0n, length: 2 ** 32 }, 0],
      [{ type: 'discard', offset: 0n, length: 1.5 }, 0],
      [{ type: 'ping' }, -1],
      [{ type: 'ping' }, 2 ** 32],
      [{ type: 'state', role: 'leader' as 'primary', diskState: 'unknown' }, 0],
      [{ type: 'write', offset: 0n, fua: false, data: Buffer.alloc(MAX_PAYLOAD_LENGTH) }, 0],
    ];
    for (const [message, id] of cases) {
      assert.throws(() => encodeFrame(message, id, false), WireEncodeError, message.type);
    }
  });

  it('accepts a data block of 16 MiB, the largest the payload allows', () => {
    const data = Buffer.alloc(16 * 1024 * 1024, 7);
    const bytes = Buffer.concat(encodeFrame({ type: 'resync-data', offset: 4096n, data }, 1, false));
    const decoded = decodeOne(bytes);
    assert.ok(!isDecodeError(decoded) && decoded.message.type === 'resync-data');
    assert.equal(decoded.message.offset, 4096n);
    assert.ok(decoded.message.data.equals(data));
  });
});

describe('wire decoder errors', () => {
  const pingFrame = (): Buffer => Buffer.concat(encodeFrame({ type: 'ping' }, 1, false));

  it('rejects a bad magic, version, flags or reserved byte', () => {
    expectError(rawFrame(0x40, Buffer.alloc(0), { 0: 0x55 }), /magic/);
    expectError(rawFrame(0x40, Buffer.alloc(0), { 2: 2 }), /version 2/);
    expectError(rawFrame(0x40, Buffer.alloc(0), { 4: 0x02 }), /flags/);
    expectError(rawFrame(0x40, Buffer.alloc(0), { 6: 1 }), /reserved/);
  });

  it('rejects an unknown message type as soon as the header is in', () => {
    const decoder = new FrameDecoder();
    decoder.push(rawFrame(0x7f, Buffer.alloc(0)).subarray(0, 16));
    const result = decoder.next();
    assert.ok(result !== undefined && isDecodeError(result));
    assert.match(result.error, /unknown message type 0x7f/);
  });

  it('rejects a payload length over the maximum without waiting for or allocating it', () => {
    const header = rawFrame(0x20, Buffer.alloc(0));
    header.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1, 12);
    expectError(header, /exceeds the maximum/);
  });

  it('holds only the bytes received for a frame announced at the maximum length', () => {
    const header = rawFrame(0x20, Buffer.alloc(0));
    header.writeUInt32BE(MAX_PAYLOAD_LENGTH, 12);
    const decoder = new FrameDecoder();
    decoder.push(header);
    decoder.push(Buffer.alloc(100));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.buffered, 100);
  });

  it('rejects truncated and oversized fields', () => {
    expectError(rawFrame(0x02, Buffer.alloc(31)), /ends inside/); // auth proof is 32 bytes
    expectError(rawFrame(0x02, Buffer.alloc(33)), /left over/);
    expectError(rawFrame(0x40, Buffer.alloc(1)), /left over/); // ping has no fields
    expectError(rawFrame(0x42, Buffer.from('0005616263', 'hex')), /ends inside a string/);
    expectError(rawFrame(0x20, Buffer.alloc(8)), /ends inside a u8/); // write without its fua byte
  });

  it('rejects a browse reply that promises more volumes than it carries', () => {
    const oneVolume = Buffer.from('0001' + '0001' + '61' + '0000000000001000' + '0000', 'hex');
    const decoded = decodeOne(rawFrame(0x16, oneVolume));
    assert.deepEqual(!isDecodeError(decoded) && decoded.message, {
      type: 'browse-reply',
      volumes: [{ name: 'a', sizeBytes: 4096n, unavailable: '' }],
    });
    const lying = Buffer.from(oneVolume);
    lying.writeUInt16BE(0xffff, 0);
    expectError(rawFrame(0x16, lying), /ends inside/);
  });

  it('rejects invalid enumeration and boolean bytes', () => {
    expectError(rawFrame(0x12, Buffer.from([3, 1])), /not a valid role/);
    expectError(rawFrame(0x12, Buffer.from([1, 0])), /not a valid disk state/);
    expectError(rawFrame(0x23, Buffer.from([9, 0, 0])), /not a valid ack status/);
    expectError(rawFrame(0x20, Buffer.concat([Buffer.alloc(8), Buffer.from([2])])), /boolean/);
  });

  it('rejects strings that are not UTF-8', () => {
    expectError(rawFrame(0x42, Buffer.from('0002c328', 'hex')), /UTF-8/);
  });

  it('keeps answering the same error and ignores later input', () => {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.from('garbage bytes that are no frame'));
    const first = decoder.next();
    assert.ok(first !== undefined && isDecodeError(first));
    decoder.push(pingFrame());
    assert.deepEqual(decoder.next(), first);
    assert.deepEqual(decoder.error, first);
    assert.equal(decoder.buffered, 0);
  });

  it('hands out the frames before an error, then the error', () => {
    const results = decodeAll(Buffer.concat([pingFrame(), pingFrame(), Buffer.alloc(16)]));
    assert.equal(results.length, 3);
    assert.ok(!isDecodeError(results[0]!) && !isDecodeError(results[1]!));
    assert.ok(isDecodeError(results[2]!));
  });
});
