// The hand-written codecs of the hot PDUs must agree with the layout table bit for bit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BHS_LENGTH,
  decodeBhs,
  decodeByLayout,
  encodeBhs,
  encodeByLayout,
} from '../../../../src/iscsi/pdu/bhs.js';
import { OPCODES, PDU_KINDS } from '../../../../src/iscsi/pdu/opcodes.js';
import { bhsFieldsOf } from './arbitraries.js';

const lengths = fc.record({
  totalAHSLength: fc.integer({ min: 0, max: 0xff }),
  dataSegmentLength: fc.integer({ min: 0, max: 0xffffff }),
});

describe('BHS fast paths', () => {
  for (const kind of PDU_KINDS) {
    it(`encodes ${kind} exactly as its layout says`, () => {
      fc.assert(
        fc.property(bhsFieldsOf(kind), lengths, (fields, segments) => {
          assert.deepEqual(encodeBhs(fields, segments), encodeByLayout(fields, segments));
        }),
        { numRuns: 300 },
      );
    });

    it(`decodes any 48 bytes of ${kind} exactly as its layout says`, () => {
      const code = OPCODES[kind].code;
      fc.assert(
        fc.property(fc.uint8Array({ minLength: BHS_LENGTH, maxLength: BHS_LENGTH }), (raw) => {
          const buf = Buffer.from(raw);
          buf[0] = ((buf[0] ?? 0) & 0xc0) | code;
          const result = decodeBhs(buf);
          assert.ok(result.ok);
          assert.deepEqual(result.value, decodeByLayout(buf, kind));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('refuses out-of-range values on the fast paths too', () => {
    const base = {
      kind: 'data-in' as const,
      final: true,
      acknowledge: false,
      residualOverflow: false,
      residualUnderflow: false,
      hasStatus: true,
      status: 0,
      lun: 0n,
      initiatorTaskTag: 1,
      targetTransferTag: 0xffffffff,
      statSN: 1,
      expCmdSN: 1,
      maxCmdSN: 1,
      dataSN: 0,
      bufferOffset: 0,
      residualCount: 0,
    };
    const segments = { totalAHSLength: 0, dataSegmentLength: 0 };
    assert.throws(() => encodeBhs({ ...base, statSN: 2 ** 32 }, segments), RangeError);
    assert.throws(() => encodeBhs({ ...base, dataSN: -1 }, segments), RangeError);
    assert.throws(() => encodeBhs({ ...base, status: 256 }, segments), RangeError);
    assert.throws(() => encodeBhs(base, { totalAHSLength: 0, dataSegmentLength: 2 ** 24 }), RangeError);
  });
});
