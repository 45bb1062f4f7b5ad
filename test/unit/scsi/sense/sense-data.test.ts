import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSenseData } from '../../../../src/scsi/sense/sense-data.js';
import {
  SENSE_CODES,
  invalidFieldInCdb,
  invalidFieldInParameterList,
  miscompareAt,
  senseReason,
} from '../../../../src/scsi/sense/sense-reason.js';
import { ScsiStatus } from '../../../../src/scsi/sense/status.js';
import { hex } from '../example-lu.js';

describe('fixed format sense data (SPC-4 §4.5.3)', () => {
  it('INVALID FIELD IN CDB with a field pointer to byte 2 bit 5', () => {
    assert.deepEqual(
      buildSenseData(invalidFieldInCdb(2, 5)),
      // 70h current, key 5, ADDITIONAL SENSE LENGTH 0Ah, ASC 24h, SKSV|C/D|BPV|bit 5, field 0002h
      hex('70 00 05 00000000 0a 00000000 24 00 00 cd 0002'),
    );
  });

  it('a field pointer without a bit leaves BPV clear', () => {
    assert.deepEqual(buildSenseData(invalidFieldInCdb(6)).subarray(15), hex('c0 0006'));
  });

  it('INVALID FIELD IN PARAMETER LIST has C/D = 0', () => {
    const sense = buildSenseData(invalidFieldInParameterList(258, 2));
    assert.deepEqual(sense.subarray(12), hex('26 00 00 8a 0102'));
  });

  it('LOGICAL BLOCK ADDRESS OUT OF RANGE', () => {
    assert.deepEqual(
      buildSenseData(senseReason('LBA_OUT_OF_RANGE')),
      hex('70 00 05 00000000 0a 00000000 21 00 00 000000'),
    );
  });

  it('MISCOMPARE DURING VERIFY OPERATION carries the offset in INFORMATION with VALID set', () => {
    assert.deepEqual(buildSenseData(miscompareAt(513)), hex('f0 00 0e 00000201 0a 00000000 1d 00 00 000000'));
  });

  it('an INFORMATION value beyond 32 bits clears VALID in fixed format', () => {
    const sense = buildSenseData(miscompareAt(0x1_0000_0000n));
    assert.equal(sense[0], 0x70);
    assert.deepEqual(sense.subarray(3, 7), hex('00000000'));
  });

  it('unit attentions', () => {
    const cases = [
      ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED', 0x29, 0x00],
      ['CAPACITY_DATA_HAS_CHANGED', 0x2a, 0x09],
      ['RESERVATIONS_PREEMPTED', 0x2a, 0x03],
      ['RESERVATIONS_RELEASED', 0x2a, 0x04],
      ['REGISTRATIONS_PREEMPTED', 0x2a, 0x05],
      ['MODE_PARAMETERS_CHANGED', 0x2a, 0x01],
      ['REPORTED_LUNS_DATA_HAS_CHANGED', 0x3f, 0x0e],
      ['INQUIRY_DATA_HAS_CHANGED', 0x3f, 0x03],
    ] as const;
    for (const [code, asc, ascq] of cases) {
      const sense = buildSenseData(senseReason(code));
      assert.deepEqual([sense[2], sense[12], sense[13]], [0x06, asc, ascq], code);
    }
  });

  it('data protect and medium errors', () => {
    const cases = [
      ['WRITE_PROTECTED', 0x07, 0x27, 0x00],
      ['SPACE_ALLOCATION_FAILED_WRITE_PROTECT', 0x07, 0x27, 0x07],
      ['UNRECOVERED_READ_ERROR', 0x03, 0x11, 0x00],
      ['WRITE_ERROR', 0x03, 0x0c, 0x00],
      ['LOGICAL_UNIT_NOT_READY', 0x02, 0x04, 0x00],
      ['SAVING_PARAMETERS_NOT_SUPPORTED', 0x05, 0x39, 0x00],
      ['PARAMETER_LIST_LENGTH_ERROR', 0x05, 0x1a, 0x00],
      ['INVALID_COMMAND_OPERATION_CODE', 0x05, 0x20, 0x00],
    ] as const;
    for (const [code, key, asc, ascq] of cases) {
      const sense = buildSenseData(senseReason(code));
      assert.deepEqual([sense[2], sense[12], sense[13]], [key, asc, ascq], code);
    }
  });

  it('deferred errors use response code 71h', () => {
    assert.equal(buildSenseData(senseReason('WRITE_ERROR'), { deferred: true })[0], 0x71);
  });
});

describe('descriptor format sense data (SPC-4 §4.5.2)', () => {
  it('header only when there is nothing more to say', () => {
    assert.deepEqual(
      buildSenseData(senseReason('LBA_OUT_OF_RANGE'), { format: 'descriptor' }),
      hex('72 05 21 00 000000 00'),
    );
  });

  it('sense key specific descriptor for a field pointer', () => {
    assert.deepEqual(
      buildSenseData(invalidFieldInCdb(2, 5), { format: 'descriptor' }),
      hex('72 05 24 00 000000 08  02 06 0000 cd 0002 00'),
    );
  });

  it('information descriptor holds 64 bits', () => {
    assert.deepEqual(
      buildSenseData(miscompareAt(0x1_0000_0000n), { format: 'descriptor' }),
      hex('72 0e 1d 00 000000 0c  00 0a 80 00 0000000100000000'),
    );
  });
});

describe('the sense code table', () => {
  it('has one row per ASC/ASCQ pair, each with a valid sense key', () => {
    const seen = new Set<number>();
    for (const [name, spec] of Object.entries(SENSE_CODES)) {
      const pair = (spec.asc << 8) | spec.ascq;
      assert.ok(!seen.has(pair), `${name} repeats ASC/ASCQ`);
      seen.add(pair);
      assert.ok(spec.key >= 0 && spec.key <= 0x0f, name);
    }
  });
});

describe('status codes (SAM-5 §5.3.1)', () => {
  it('have their standard values', () => {
    assert.deepEqual(ScsiStatus, {
      GOOD: 0x00,
      CHECK_CONDITION: 0x02,
      CONDITION_MET: 0x04,
      BUSY: 0x08,
      RESERVATION_CONFLICT: 0x18,
      TASK_SET_FULL: 0x28,
      ACA_ACTIVE: 0x30,
      TASK_ABORTED: 0x40,
    });
  });
});
