import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ScsiTarget } from '../../../../src/scsi/lu/target-device.js';
import { A, B, cdb, clearUnitAttentions, expectGood, expectSense, makeLu, run } from './harness.js';

const identity = { vendor: 'TANDEM', product: 'VIRTUAL-DISK', revision: '0.1' };

describe('ScsiTarget (SAM-5 §4.6)', () => {
  it('REPORT LUNS lists the LUs, or LUN 0 when there are none', async () => {
    const target = new ScsiTarget(identity);
    let data = expectGood(await run(target, A, cdb.reportLuns()));
    assert.equal(data.readUInt32BE(0), 8);
    target.addLogicalUnit(0, makeLu().lu);
    target.addLogicalUnit(3, makeLu().lu);
    data = expectGood(await run(target, A, cdb.reportLuns(), undefined, 7));
    assert.equal(data.readUInt32BE(0), 16);
    assert.equal(data[8 + 1], 0);
    assert.equal(data[16 + 1], 3);
  });

  it('a LUN with no LU: INQUIRY says qualifier 011b, REQUEST SENSE and others say LOGICAL UNIT NOT SUPPORTED', async () => {
    const target = new ScsiTarget(identity);
    const inquiry = expectGood(await run(target, A, cdb.inquiry(), undefined, 5));
    assert.equal(inquiry[0], 0x7f);
    const sense = expectGood(await run(target, A, cdb.requestSense(), undefined, 5));
    assert.equal(sense[12], 0x25);
    expectSense(await run(target, A, cdb.testUnitReady(), undefined, 5), 'LOGICAL_UNIT_NOT_SUPPORTED');
    expectSense(await run(target, A, cdb.read10(0, 1), undefined, 5), 'LOGICAL_UNIT_NOT_SUPPORTED');
  });

  it('changing the map tells the other LUs’ nexuses and leaves them running', async () => {
    const target = new ScsiTarget(identity);
    const zero = makeLu().lu;
    target.addLogicalUnit(0, zero);
    await clearUnitAttentions(zero, A);
    target.addLogicalUnit(1, makeLu().lu);
    expectSense(await run(target, A, cdb.testUnitReady(), undefined, 0), 'REPORTED_LUNS_DATA_HAS_CHANGED');
    expectGood(await run(target, A, cdb.testUnitReady(), undefined, 0));
    assert.ok(target.removeLogicalUnit(1) !== undefined);
    expectSense(await run(target, A, cdb.testUnitReady(), undefined, 0), 'REPORTED_LUNS_DATA_HAS_CHANGED');
    expectSense(await run(target, A, cdb.testUnitReady(), undefined, 1), 'LOGICAL_UNIT_NOT_SUPPORTED');
    assert.deepEqual(target.luns(), [0]);
  });

  it('REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED', async () => {
    const target = new ScsiTarget(identity);
    const zero = makeLu().lu;
    target.addLogicalUnit(0, zero);
    await clearUnitAttentions(zero, A);
    target.addLogicalUnit(1, makeLu().lu);
    expectGood(await run(target, A, cdb.reportLuns()));
    expectGood(await run(target, A, cdb.testUnitReady(), undefined, 0));
  });

  it('TARGET RESET resets every LU; task management to a missing LUN is rejected', async () => {
    const target = new ScsiTarget(identity);
    const zero = makeLu().lu;
    const one = makeLu().lu;
    target.addLogicalUnit(0, zero);
    target.addLogicalUnit(1, one);
    await clearUnitAttentions(zero, A);
    await clearUnitAttentions(one, A);
    await clearUnitAttentions(one, B);
    expectGood(await run(target, A, cdb.reserve6(), undefined, 1));
    assert.equal(await target.taskManagement(A, 0, { kind: 'target-reset' }), 'function-complete');
    expectSense(
      await run(target, A, cdb.testUnitReady(), undefined, 0),
      'POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED',
    );
    await clearUnitAttentions(one, B);
    expectGood(await run(target, B, cdb.reserve6(), undefined, 1)); // A's SPC-2 reservation is gone
    assert.equal(await target.taskManagement(A, 9, { kind: 'logical-unit-reset' }), 'function-rejected');
    assert.equal(await target.taskManagement(A, 9, { kind: 'abort-task', tag: 1 }), 'task-does-not-exist');
  });

  it('nexusLost reaches every LU', async () => {
    const target = new ScsiTarget(identity);
    const zero = makeLu().lu;
    target.addLogicalUnit(0, zero);
    await clearUnitAttentions(zero, A);
    expectGood(await run(target, A, cdb.reserve6()));
    target.nexusLost(A);
    await clearUnitAttentions(zero, B);
    expectGood(await run(target, B, cdb.reserve6()));
  });
});
