import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WriteCollector, type WriteParams } from '../../../../src/iscsi/session/write-collector.js';
import { residual, splitDataIn } from '../../../../src/iscsi/session/data-in.js';

const base: WriteParams = {
  immediateData: true,
  initialR2T: false,
  firstBurstLength: 65536,
  maxBurstLength: 262144,
  maxOutstandingR2T: 1,
};

function tags(): () => number {
  let n = 0;
  return () => (n += 1);
}

/** Plays an initiator: immediate data, unsolicited Data-Out, then answers every R2T. */
function transfer(
  total: number,
  params: WriteParams,
  immediateLength: number,
  segment: number,
): WriteCollector {
  const source = Buffer.alloc(total);
  for (let i = 0; i < total; i += 1) source[i] = (i * 31 + 7) & 0xff;
  const collector = new WriteCollector(total, params, tags());
  assert.equal(collector.immediate(source.subarray(0, immediateLength)), undefined);
  if (!params.initialR2T) {
    const unsolicitedEnd = Math.min(params.firstBurstLength, total);
    let dataSN = 0;
    for (let offset = immediateLength; offset < unsolicitedEnd; offset += segment) {
      const end = Math.min(offset + segment, unsolicitedEnd);
      assert.equal(collector.dataOut(0xffffffff, offset, source.subarray(offset, end), dataSN++), undefined);
    }
  }
  for (let r2ts = collector.r2ts(); r2ts.length > 0; r2ts = collector.r2ts()) {
    for (const r2t of r2ts) {
      assert.ok(r2t.desiredLength <= params.maxBurstLength);
      let dataSN = 0;
      for (let offset = r2t.bufferOffset; offset < r2t.bufferOffset + r2t.desiredLength; offset += segment) {
        const end = Math.min(offset + segment, r2t.bufferOffset + r2t.desiredLength);
        assert.equal(
          collector.dataOut(r2t.targetTransferTag, offset, source.subarray(offset, end), dataSN++),
          undefined,
        );
      }
    }
  }
  assert.ok(collector.complete);
  assert.deepEqual(collector.buffer, source);
  return collector;
}

describe('write collection', () => {
  it('assembles any write exactly, whatever the negotiated parameters', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300_000 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 512, max: 65536 }),
        fc.integer({ min: 512, max: 131072 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 512, max: 16384 }),
        (total, immediateData, initialR2T, firstBurst, maxBurst, outstanding, segment) => {
          const params: WriteParams = {
            immediateData,
            initialR2T,
            firstBurstLength: Math.min(firstBurst, maxBurst),
            maxBurstLength: maxBurst,
            maxOutstandingR2T: outstanding,
          };
          const immediate = immediateData ? Math.min(segment, params.firstBurstLength, total) : 0;
          transfer(total, params, immediate, segment);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('counts R2Ts and keeps MaxOutstandingR2T', () => {
    const collector = new WriteCollector(
      1_048_576,
      { ...base, initialR2T: true, immediateData: false, maxOutstandingR2T: 2 },
      tags(),
    );
    collector.immediate(Buffer.alloc(0));
    const first = collector.r2ts();
    assert.equal(first.length, 2);
    assert.deepEqual(
      first.map((r) => [r.r2tSN, r.bufferOffset, r.desiredLength]),
      [
        [0, 0, 262144],
        [1, 262144, 262144],
      ],
    );
    assert.equal(collector.r2ts().length, 0, 'no more until a burst completes');
  });

  it('refuses data it did not ask for', () => {
    const strict = new WriteCollector(8192, { ...base, initialR2T: true, immediateData: false }, tags());
    assert.equal(strict.immediate(Buffer.alloc(512)), 'immediate-data-not-allowed');
    assert.equal(strict.dataOut(0xffffffff, 0, Buffer.alloc(512), 0), 'unsolicited-data-not-allowed');
    assert.equal(strict.dataOut(77, 0, Buffer.alloc(512), 0), 'unknown-transfer-tag');
    const loose = new WriteCollector(8192, base, tags());
    assert.equal(loose.dataOut(0xffffffff, 8000, Buffer.alloc(512), 0), 'offset-out-of-range');
  });

  it('treats a DataSN out of sequence or data out of order as a sequence error', () => {
    const unsolicited = new WriteCollector(4096, base, tags());
    unsolicited.immediate(Buffer.alloc(0));
    assert.equal(unsolicited.dataOut(0xffffffff, 0, Buffer.alloc(512), 0), undefined);
    assert.equal(
      unsolicited.dataOut(0xffffffff, 512, Buffer.alloc(512), 0),
      'sequence-error',
      'DataSN repeated',
    );
    const solicited = new WriteCollector(4096, { ...base, initialR2T: true, immediateData: false }, tags());
    solicited.immediate(Buffer.alloc(0));
    const [r2t] = solicited.r2ts();
    assert.ok(r2t);
    assert.equal(
      solicited.dataOut(r2t.targetTransferTag, 512, Buffer.alloc(512), 1),
      'sequence-error',
      'out of order',
    );
    assert.equal(
      solicited.dataOut(r2t.targetTransferTag, 0, Buffer.alloc(512), 27),
      'sequence-error',
      'DataSN 27',
    );
    assert.equal(solicited.dataOut(r2t.targetTransferTag, 0, Buffer.alloc(512), 0), undefined);
    assert.equal(
      new WriteCollector(100_000, base, tags()).immediate(Buffer.alloc(70_000)),
      'too-much-immediate-data',
    );
  });
});

describe('Data-In splitting', () => {
  it('covers the transfer in order within segment and burst limits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000_000 }),
        fc.integer({ min: 512, max: 262144 }),
        fc.integer({ min: 512, max: 1_048_576 }),
        (total, segment, burst) => {
          const pieces = splitDataIn(total, segment, burst);
          let offset = 0;
          let inBurst = 0;
          pieces.forEach((piece, index) => {
            assert.equal(piece.offset, offset);
            assert.equal(piece.dataSN, index);
            assert.ok(piece.length > 0 && piece.length <= segment);
            inBurst += piece.length;
            assert.ok(inBurst <= burst);
            if (piece.final) inBurst = 0;
            offset += piece.length;
          });
          assert.equal(offset, total);
          assert.ok(pieces.at(-1)?.last && pieces.at(-1)?.final);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports residuals', () => {
    assert.deepEqual(residual(512, 512), { overflow: false, underflow: false, count: 0 });
    assert.deepEqual(residual(512, 1024), { overflow: true, underflow: false, count: 512 });
    assert.deepEqual(residual(1024, 96), { overflow: false, underflow: true, count: 928 });
  });
});
