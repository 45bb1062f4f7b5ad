import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  readCapacity10,
  readCapacity16Data,
  respondReadCapacity16,
} from '../../../../src/scsi/spc/capacity.js';
import {
  decodeLun,
  encodeLun,
  MAX_FLAT_LUN,
  respondReportLuns,
} from '../../../../src/scsi/spc/report-luns.js';
import { exampleLu, hex } from '../example-lu.js';

describe('READ CAPACITY (SBC-3 §5.15, §5.16)', () => {
  it('(10) returns the last LBA and the block length', () => {
    assert.deepEqual(readCapacity10(exampleLu()), hex('000007ff 00000200'));
  });

  it('(10) returns FFFFFFFFh when the last LBA does not fit', () => {
    assert.deepEqual(readCapacity10(exampleLu({ blockCount: 0x1_0000_0000n })), hex('ffffffff 00000200'));
    assert.deepEqual(readCapacity10(exampleLu({ blockCount: 0xffff_ffffn })), hex('fffffffe 00000200'));
  });

  it('(16) sets LBPME and LBPRZ for a thin LU and LBPPBE for 4 KiB physical blocks', () => {
    assert.deepEqual(
      readCapacity16Data(exampleLu({ blockCount: 0x2_0000_0000n, physicalBlockSize: 4096 })),
      Buffer.concat([hex('00000001ffffffff 00000200 00 03 c0 00'), Buffer.alloc(16)]),
    );
    const thick = readCapacity16Data(exampleLu({ thinProvisioned: false }));
    assert.deepEqual(thick.subarray(12, 16), hex('00 00 00 00'));
  });

  it('(16) honours every allocation length, 0 included', () => {
    const full = readCapacity16Data(exampleLu());
    for (let alloc = 0; alloc <= 40; alloc++) {
      const data = respondReadCapacity16(exampleLu(), { op: 'read-capacity-16', allocationLength: alloc });
      assert.deepEqual(data, full.subarray(0, Math.min(32, alloc)));
    }
  });
});

describe('REPORT LUNS (SPC-4 §6.33)', () => {
  it('lists LUNs with peripheral addressing below 256 and flat space addressing above', () => {
    const data = respondReportLuns([300, 0, 1, 1], {
      op: 'report-luns',
      selectReport: 0,
      allocationLength: 4096,
    });
    assert.deepEqual(data, hex('00000018 00000000  0000000000000000 0001000000000000 412c000000000000'));
  });

  it('SELECT REPORT 01h lists only well-known LUs: none', () => {
    const data = respondReportLuns([0, 1], { op: 'report-luns', selectReport: 1, allocationLength: 4096 });
    assert.deepEqual(data, hex('00000000 00000000'));
  });

  it('truncation keeps the LUN LIST LENGTH of the whole list', () => {
    const data = respondReportLuns([0, 1, 2], { op: 'report-luns', selectReport: 2, allocationLength: 16 });
    assert.deepEqual(data, hex('00000018 00000000 0000000000000000'));
  });

  it('decodeLun(encodeLun(n)) = n for every LUN we hand out', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_FLAT_LUN }), (lun) => decodeLun(encodeLun(lun)) === lun),
    );
  });

  it('decodeLun refuses encodings we never hand out', () => {
    assert.equal(decodeLun(hex('0100000000000000')), undefined); // peripheral, bus 1
    assert.equal(decodeLun(hex('0001000100000000')), undefined); // second level
    assert.equal(decodeLun(hex('8000000000000000')), undefined); // logical unit addressing
    assert.equal(decodeLun(hex('0000')), undefined);
    assert.throws(() => encodeLun(MAX_FLAT_LUN + 1), RangeError);
  });
});
