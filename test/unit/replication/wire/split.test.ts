import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_DATA_LENGTH, splitForWire } from '../../../../src/replication/wire/index.js';

describe('replication wire: writes larger than one message', () => {
  it('keeps a write that fits in one piece', () => {
    const data = Buffer.alloc(MAX_DATA_LENGTH, 1);
    const pieces = splitForWire(4096, data);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0]?.data, data);
  });

  it('cuts a 32 MiB write into two 16 MiB pieces at the right offsets', () => {
    const data = Buffer.alloc(2 * MAX_DATA_LENGTH);
    const pieces = splitForWire(1 << 20, data);
    assert.deepEqual(
      pieces.map((p) => [p.offset, p.data.length]),
      [
        [1 << 20, MAX_DATA_LENGTH],
        [(1 << 20) + MAX_DATA_LENGTH, MAX_DATA_LENGTH],
      ],
    );
  });

  it('covers every byte once, in order, with no piece over the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        (offset, length, limit) => {
          const data = Buffer.from(Array.from({ length }, (_, i) => i % 251));
          const pieces = splitForWire(offset, data, limit);
          assert.ok(pieces.every((p) => p.data.length <= limit && p.data.length > 0));
          assert.deepEqual(Buffer.concat(pieces.map((p) => p.data)), data);
          let next = offset;
          for (const piece of pieces) {
            assert.equal(piece.offset, next);
            next += piece.data.length;
          }
        },
      ),
    );
  });
});
