import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bidiReadLength,
  bidiReadLengthAhs,
  encodeAhs,
  extendedCdbAhs,
  fullCdb,
  parseAhs,
} from '../../../../src/iscsi/pdu/ahs.js';

describe('AHS', () => {
  it('lays out an Extended CDB and a bidirectional read length (RFC 7143 §11.2.2)', () => {
    const cdb = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const bytes = encodeAhs([extendedCdbAhs(cdb.subarray(16)), bidiReadLengthAhs(0x1234)]);
    // Extended CDB: AHSLength = 16 + 1 reserved byte = 17, type 1, padded to 20 bytes.
    assert.equal(bytes.subarray(0, 4).toString('hex'), '00110100');
    assert.equal(bytes.length, 20 + 8);
    assert.equal(bytes.subarray(20).toString('hex'), '0005020000001234');
    const parsed = parseAhs(bytes);
    assert.ok(parsed.ok);
    assert.deepEqual(fullCdb(cdb.subarray(0, 16), parsed.value), cdb);
    assert.equal(bidiReadLength(parsed.value), 0x1234);
  });

  it('round-trips and never throws on random bytes', () => {
    const segment = fc
      .record({
        type: fc.integer({ min: 0, max: 255 }),
        specific: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)),
      })
      .map((s) => ({ ...s }));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), (segments) => {
        const r = parseAhs(encodeAhs(segments));
        assert.ok(r.ok);
        assert.deepEqual(r.value, segments);
      }),
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => void parseAhs(Buffer.from(raw))));
  });

  it('reports segments that overrun the AHS space', () => {
    const r = parseAhs(Buffer.from('00400100', 'hex'));
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'bad-ahs');
    const stray = parseAhs(Buffer.from('0001010000', 'hex'));
    assert.ok(!stray.ok);
  });
});
