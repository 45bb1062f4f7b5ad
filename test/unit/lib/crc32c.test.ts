import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '../../../src/lib/crc32c.js';

/** Bit-at-a-time CRC32C straight from the definition, to check the sliced tables against. */
function reference(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('CRC32C', () => {
  it('matches the check value and RFC 3720 Appendix B.4', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
  });

  it('goes on the wire little-endian: RFC 3720 B.4 lists 32 zero bytes as aa 36 91 8a', () => {
    const wire = Buffer.alloc(4);
    wire.writeUInt32LE(crc32c(Buffer.alloc(32)));
    assert.equal(wire.toString('hex'), 'aa36918a');
  });

  it('agrees with the bit-at-a-time definition at every length and alignment', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(7), (bytes, offset) => {
        const view = Buffer.concat([Buffer.alloc(offset), bytes]).subarray(offset);
        assert.equal(crc32c(view), reference(bytes));
      }),
    );
  });

  it('chains: crc32c(b, crc32c(a)) is the CRC of a then b', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        assert.equal(crc32c(b, crc32c(a)), crc32c(Buffer.concat([a, b])));
      }),
    );
  });
});
