import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  MAC_LENGTH,
  MAX_BODY_BYTES,
  MAX_DATAGRAM,
  decodeDatagram,
  encodeBody,
  encodeDatagram,
  type Datagram,
} from '../../../../src/ha/heartbeat/datagram.js';
import { isTandemError } from '../../../../src/lib/errors.js';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');

const sample: Datagram = {
  kind: 'beat',
  link: 'aux',
  offSchedule: false,
  bootId: '0011223344556677',
  term: 7,
  seq: 42,
  requestId: 0,
  sentAt: 1_764_000_000_123.25,
  echo: { seq: 41, sentAt: 1_764_000_000_100, heldMs: 3.5 },
  sender: 'node-a',
  body: { role: 'primary', disk: 'up-to-date', generation: 12, fenced: false, note: null },
};

const flatValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const flatObject = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), flatValue, { maxKeys: 12 });
const time = fc.double({ min: 0, max: 4e12, noNaN: true }).filter((n) => !Object.is(n, -0));

const datagram: fc.Arbitrary<Datagram> = fc.record({
  kind: fc.constantFrom('beat', 'request', 'reply'),
  link: fc.constantFrom('data', 'aux'),
  offSchedule: fc.boolean(),
  bootId: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((bytes) => Buffer.from(bytes).toString('hex')),
  term: fc.maxSafeNat(),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  requestId: fc.integer({ min: 0, max: 0xffffffff }),
  sentAt: time,
  echo: fc.option(fc.record({ seq: fc.integer({ min: 0, max: 0xffffffff }), sentAt: time, heldMs: time })),
  sender: fc.string({ minLength: 1, maxLength: 30 }),
  body: flatObject,
});

/** Re-signs bytes after tampering, as only a holder of the secret could. */
function resign(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const end = out.length - MAC_LENGTH;
  createHmac('sha256', SECRET).update(out.subarray(0, end)).digest().copy(out, end);
  return out;
}

function reason(bytes: Buffer, secret = SECRET): string {
  const result = decodeDatagram(bytes, secret);
  return result.ok ? 'ok' : result.reason;
}

describe('heartbeat datagram codec', () => {
  it('round-trips a typical beat', () => {
    const bytes = encodeDatagram(sample, SECRET);
    const result = decodeDatagram(bytes, SECRET);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.datagram, sample);
  });

  it('round-trips any datagram (property)', () => {
    fc.assert(
      fc.property(datagram, (original) => {
        const result = decodeDatagram(encodeDatagram(original, SECRET), SECRET);
        assert.ok(result.ok, JSON.stringify(result));
        // fast-check builds null-prototype objects; compare plain data.
        assert.deepEqual(result.datagram, JSON.parse(JSON.stringify(original)));
      }),
      { numRuns: 500 },
    );
  });

  it('rejects any single flipped bit (property)', () => {
    fc.assert(
      fc.property(datagram, fc.nat(), fc.integer({ min: 0, max: 7 }), (original, at, bit) => {
        const bytes = encodeDatagram(original, SECRET);
        const index = at % bytes.length;
        bytes[index] = (bytes[index] ?? 0) ^ (1 << bit);
        assert.notEqual(reason(bytes), 'ok', `flip of bit ${bit} at byte ${index} was accepted`);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), (bytes) => {
        assert.notEqual(reason(Buffer.from(bytes)), 'ok');
      }),
      { numRuns: 1000 },
    );
  });

  it('names the reason for truncated, oversized, foreign and badly signed datagrams', () => {
    const bytes = encodeDatagram(sample, SECRET);
    assert.equal(reason(bytes.subarray(0, 20)), 'truncated');
    assert.equal(reason(bytes.subarray(0, bytes.length - 1)), 'bad-mac');
    assert.equal(reason(Buffer.concat([bytes, Buffer.alloc(MAX_DATAGRAM)])), 'oversized');
    const foreign = Buffer.from(bytes);
    foreign.write('XXXX', 0, 'latin1');
    assert.equal(reason(foreign), 'bad-magic');
    const future = Buffer.from(bytes);
    future[4] = 2;
    assert.equal(reason(resign(future)), 'bad-version');
    assert.equal(reason(bytes, Buffer.from('another secret of the same length')), 'bad-mac');
  });

  it('refuses signed datagrams whose fields are malformed', () => {
    const bytes = encodeDatagram(sample, SECRET);
    const tamper = (offset: number, write: (buffer: Buffer) => void): string => {
      const copy = Buffer.from(bytes);
      write(copy);
      return `${offset}:${reason(resign(copy))}`;
    };
    assert.equal(
      tamper(5, (b) => b.writeUInt8(9, 5)),
      '5:bad-field',
    ); // kind
    assert.equal(
      tamper(6, (b) => b.writeUInt8(2, 6)),
      '6:bad-field',
    ); // link
    assert.equal(
      tamper(7, (b) => b.writeUInt8(0x80, 7)),
      '7:bad-field',
    ); // flags
    assert.equal(
      tamper(16, (b) => b.writeBigUInt64BE(2n ** 60n, 16)),
      '16:bad-field',
    ); // term
    assert.equal(
      tamper(32, (b) => b.writeDoubleBE(Number.NaN, 32)),
      '32:bad-field',
    ); // sentAt
    assert.equal(
      tamper(52, (b) => b.writeDoubleBE(-1, 52)),
      '52:bad-field',
    ); // heldMs
    assert.equal(
      tamper(60, (b) => b.writeUInt8(0, 60)),
      '60:bad-field',
    ); // sender length
    assert.equal(
      tamper(60, (b) => b.writeUInt8(200, 60)),
      '60:bad-field',
    );
    const bodyAt = 61 + Buffer.byteLength(sample.sender);
    assert.equal(
      tamper(bodyAt, (b) => b.writeUInt16BE(3, bodyAt)),
      `${bodyAt}:bad-field`,
    );
    // A body that is JSON but not a flat object.
    const nested = (body: string): string => {
      const bodyBytes = Buffer.from(body);
      const head = bytes.subarray(0, bodyAt);
      const length = Buffer.alloc(2);
      length.writeUInt16BE(bodyBytes.length);
      return reason(resign(Buffer.concat([head, length, bodyBytes, Buffer.alloc(MAC_LENGTH)])));
    };
    assert.equal(nested('{"a":{"b":1}}'), 'bad-field');
    assert.equal(nested('[1,2]'), 'bad-field');
    assert.equal(nested('null'), 'bad-field');
    assert.equal(nested('{"a":1'), 'bad-field');
    assert.equal(nested('{"a":1}'), 'ok');
  });

  it('refuses to encode bodies that are not flat or too big, and out-of-range fields', () => {
    const refused = (fn: () => unknown, code: string): void =>
      assert.throws(
        fn,
        (error: unknown) => isTandemError(error) && error.code === code && error.kind === 'invalid',
      );
    refused(() => encodeBody('advert', { a: { b: 1 } }), 'bad-heartbeat-body');
    refused(() => encodeBody('advert', { a: Number.POSITIVE_INFINITY }), 'bad-heartbeat-body');
    refused(() => encodeBody('advert', [1]), 'bad-heartbeat-body');
    refused(() => encodeBody('advert', new Map()), 'bad-heartbeat-body');
    refused(() => encodeBody('advert', { big: 'x'.repeat(MAX_BODY_BYTES) }), 'bad-heartbeat-body');
    assert.equal(encodeBody('advert', { fits: 'x'.repeat(MAX_BODY_BYTES - 11) }).length, MAX_BODY_BYTES);
    refused(() => encodeDatagram({ ...sample, seq: 2 ** 32 }, SECRET), 'bad-heartbeat-field');
    refused(() => encodeDatagram({ ...sample, term: -1 }, SECRET), 'bad-heartbeat-field');
    refused(() => encodeDatagram({ ...sample, sender: '' }, SECRET), 'bad-heartbeat-field');
    refused(() => encodeDatagram({ ...sample, bootId: 'xyz' }, SECRET), 'bad-heartbeat-field');
    refused(() => encodeDatagram({ ...sample, sentAt: Number.NaN }, SECRET), 'bad-heartbeat-field');
  });

  it('keeps the largest datagram within one Ethernet frame', () => {
    const largest = encodeDatagram(
      { ...sample, sender: 'n'.repeat(64), body: { fits: 'x'.repeat(MAX_BODY_BYTES - 11) } },
      SECRET,
    );
    assert.equal(largest.length, MAX_DATAGRAM);
    assert.ok(MAX_DATAGRAM <= 1472, `${MAX_DATAGRAM} bytes exceeds a 1500-byte MTU`);
    assert.equal(reason(largest), 'ok');
  });
});
