import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { respondRequestSense } from '../../../../src/scsi/spc/request-sense.js';
import { senseReason } from '../../../../src/scsi/sense/sense-reason.js';
import { hex } from '../example-lu.js';

describe('REQUEST SENSE (SPC-4 §6.39)', () => {
  it('reports NO SENSE when nothing is pending', () => {
    assert.deepEqual(
      respondRequestSense(undefined, { op: 'request-sense', desc: false, allocationLength: 252 }),
      hex('70 00 00 00000000 0a 00000000 00 00 00 000000'),
    );
  });

  it('reports the pending reason in the format DESC asks for, truncated', () => {
    const pending = senseReason('POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED');
    assert.deepEqual(
      respondRequestSense(pending, { op: 'request-sense', desc: true, allocationLength: 252 }),
      hex('72 06 29 00 000000 00'),
    );
    assert.deepEqual(
      respondRequestSense(pending, { op: 'request-sense', desc: false, allocationLength: 4 }),
      hex('70 00 06 00'),
    );
  });
});
