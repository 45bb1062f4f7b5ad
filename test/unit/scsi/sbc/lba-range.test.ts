import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkLbaRange } from '../../../../src/scsi/sbc/lba-range.js';

const OOB = { code: 'LBA_OUT_OF_RANGE' };

describe('checkLbaRange (SBC-3 §4.5)', () => {
  it('accepts ranges inside the medium, up to the last block', () => {
    assert.equal(checkLbaRange(0n, 2048, 2048n), undefined);
    assert.equal(checkLbaRange(2047n, 1, 2048n), undefined);
    assert.equal(checkLbaRange(2048n, 0, 2048n), undefined);
  });

  it('refuses ranges that end past it, as libiscsi beyond-EOL tests expect', () => {
    assert.deepEqual(checkLbaRange(2048n, 1, 2048n), OOB);
    assert.deepEqual(checkLbaRange(2049n, 0, 2048n), OOB);
    assert.deepEqual(checkLbaRange(2047n, 2, 2048n), OOB);
    assert.deepEqual(checkLbaRange(0x8000_0000_0000_0000n, 1, 2048n), OOB);
    assert.deepEqual(checkLbaRange(0xffff_ffff_ffff_ffffn, 256, 2048n), OOB);
  });
});
