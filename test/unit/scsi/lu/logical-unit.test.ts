import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PrInServiceAction as IN, PrOutServiceAction as SA } from '../../../../src/scsi/cdb/command.js';
import { PrType, type PrState, type PrStateStore } from '../../../../src/scsi/lu/pr-state.js';
import { ScsiStatus } from '../../../../src/scsi/sense/status.js';
import type { ItNexus } from '../../../../src/scsi/lu/scsi-task.js';
import type { LogicalUnit } from '../../../../src/scsi/lu/logical-unit.js';
import {
  A,
  B,
  BLOCK,
  C,
  cdb,
  clearUnitAttentions,
  expectConflict,
  expectGood,
  expectSense,
  fill,
  makeLu,
  prParams,
  run,
  senseOf,
} from './harness.js';

async function ready(lu: LogicalUnit, ...who: ItNexus[]): Promise<void> {
  for (const n of who) await clearUnitAttentions(lu, n);
}

const prOut = (lu: LogicalUnit, who: ItNexus, sa: number, key: bigint, sark: bigint, type = 0) =>
  run(lu, who, cdb.prOut(sa, type), prParams(key, sark));

const readKeys = async (lu: LogicalUnit, who: ItNexus, allocation = 4096) =>
  expectGood(await run(lu, who, cdb.prIn(IN.READ_KEYS, allocation)));

describe('unit attentions (SPC-4 §5.14)', () => {
  it('a new nexus hears POWER ON, RESET once; INQUIRY and REPORT LUNS pass it by', async () => {
    const { lu } = makeLu();
    expectGood(await run(lu, A, cdb.inquiry()));
    expectGood(await run(lu, A, cdb.reportLuns()));
    expectSense(await run(lu, A, cdb.testUnitReady()), 'POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED');
    expectGood(await run(lu, A, cdb.testUnitReady()));
  });

  it('REQUEST SENSE returns the unit attention as its data and clears it', async () => {
    const { lu } = makeLu();
    const data = expectGood(await run(lu, A, cdb.requestSense()));
    assert.equal(data[2], 0x06);
    assert.equal(data[12], 0x29);
    expectGood(await run(lu, A, cdb.testUnitReady()));
    const none = expectGood(await run(lu, A, cdb.requestSense()));
    assert.equal(none[2], 0x00);
  });

  it('resized() tells every nexus CAPACITY DATA HAS CHANGED, and READ CAPACITY shows the new size', async () => {
    const { lu, device } = makeLu({ blocks: 100 });
    await ready(lu, A, B);
    device.size = 200 * BLOCK;
    lu.resized();
    for (const n of [A, B]) expectSense(await run(lu, n, cdb.readCapacity10()), 'CAPACITY_DATA_HAS_CHANGED');
    const data = expectGood(await run(lu, A, cdb.readCapacity10()));
    assert.equal(data.readUInt32BE(0), 199);
  });

  it('MODE SELECT turning WCE on tells the other nexuses, and writes stop flushing', async () => {
    const { lu, device } = makeLu();
    await ready(lu, A, B);
    const sense = expectGood(await run(lu, A, cdb.modeSense6(0x08)));
    const page = Buffer.from(sense.subarray(4 + 8));
    page[0] = 0x08;
    page[2] = (page[2] ?? 0) | 0x04;
    const list = Buffer.concat([Buffer.from([0, 0, 0, 0]), page]);
    expectGood(await run(lu, A, cdb.modeSelect6(list.length), list));
    expectGood(await run(lu, A, cdb.testUnitReady()));
    expectSense(await run(lu, B, cdb.testUnitReady()), 'MODE_PARAMETERS_CHANGED');
    assert.equal(lu.info.writeCacheEnabled, true);
    device.ops.length = 0;
    expectGood(await run(lu, A, cdb.write10(0, 1), fill(1, 1)));
    assert.deepEqual(
      device.ops.map((o) => o.kind),
      ['write'],
    );
  });
});

describe('commands over the LU', () => {
  it('write-through: the flush comes before GOOD', async () => {
    const { lu, device } = makeLu();
    await ready(lu, A);
    expectGood(await run(lu, A, cdb.write10(4, 2), fill(2, 3)));
    assert.deepEqual(
      device.ops.map((o) => o.kind),
      ['write', 'flush'],
    );
    assert.deepEqual(expectGood(await run(lu, A, cdb.read10(4, 2))), fill(2, 3));
  });

  it('reports how much Data-Out the command asked for', async () => {
    const { lu } = makeLu();
    await ready(lu, A);
    assert.equal((await run(lu, A, cdb.write10(0, 3), fill(1, 0))).dataOutLength, 3 * BLOCK);
    assert.equal((await run(lu, A, cdb.compareAndWrite(0n, 1), fill(2, 0))).dataOutLength, 2 * BLOCK);
    assert.equal((await run(lu, A, cdb.unmap(24), Buffer.alloc(24))).dataOutLength, 24);
    assert.equal((await run(lu, A, cdb.read10(0, 3))).dataOutLength, undefined);
  });

  it('a medium error is CHECK CONDITION, MEDIUM ERROR', async () => {
    const { lu, device } = makeLu();
    await ready(lu, A);
    device.failNext('write', 'medium');
    const r = await run(lu, A, cdb.write10(0, 1), fill(1, 1));
    expectSense(r, 'WRITE_ERROR');
    assert.equal((r.sense?.[2] ?? 0) & 0x0f, 0x03);
  });

  it('a read-only LU refuses every write with WRITE PROTECTED, before looking at the data', async () => {
    const { lu } = makeLu({ settings: { readOnly: true } });
    await ready(lu, A);
    for (const [c, data] of [
      [cdb.write10(0, 1), fill(1, 0)],
      [cdb.write16(0n, 1), fill(1, 0)],
      [cdb.writeSame16(0n, 1, { unmap: true }), undefined],
      [cdb.unmap(24), Buffer.alloc(24)],
      [cdb.compareAndWrite(0n, 1), fill(2, 0)],
      [cdb.writeAndVerify10(0, 1), fill(1, 0)],
    ] as const) {
      expectSense(await run(lu, A, c, data), 'WRITE_PROTECTED');
    }
    expectGood(await run(lu, A, cdb.read10(0, 1)));
    const mode = expectGood(await run(lu, A, cdb.modeSense6()));
    assert.equal((mode[2] ?? 0) & 0x80, 0x80);
  });

  it('a bug in an executor is INTERNAL TARGET FAILURE, not a crash', async () => {
    const { lu, device } = makeLu();
    await ready(lu, A);
    device.read = () => Promise.reject(new TypeError('bug'));
    expectSense(await run(lu, A, cdb.read10(0, 1)), 'INTERNAL_TARGET_FAILURE');
  });
});

describe('persistent reservations over the LU', () => {
  // libiscsi prout_reserve_access: [registered B reads, writes, unregistered B reads, writes].
  const access: readonly [string, number, readonly [boolean, boolean, boolean, boolean]][] = [
    ['EA', PrType.EXCLUSIVE_ACCESS, [false, false, false, false]],
    ['WE', PrType.WRITE_EXCLUSIVE, [true, false, true, false]],
    ['EA-RO', PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, [true, true, false, false]],
    ['WE-RO', PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, [true, true, true, false]],
    ['EA-AR', PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, [true, true, false, false]],
    ['WE-AR', PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, [true, true, true, false]],
  ];
  for (const [name, type, [regRead, regWrite, unregRead, unregWrite]] of access) {
    it(`${name}: access for the holder, a registrant and a stranger`, async () => {
      const { lu } = makeLu();
      await ready(lu, A, B, C);
      expectGood(await prOut(lu, A, SA.REGISTER_AND_IGNORE_EXISTING_KEY, 0n, 0xa1n));
      expectGood(await prOut(lu, B, SA.REGISTER_AND_IGNORE_EXISTING_KEY, 0n, 0xb2n));
      expectGood(await prOut(lu, A, SA.RESERVE, 0xa1n, 0n, type));
      const rr = expectGood(await run(lu, A, cdb.prIn(IN.READ_RESERVATION)));
      assert.equal(rr.readUInt32BE(4), 16);
      assert.equal(rr.readBigUInt64BE(8), type >= 7 ? 0n : 0xa1n);
      assert.equal(rr[21], type);
      expectGood(await run(lu, A, cdb.read10(0, 1)));
      expectGood(await run(lu, A, cdb.write10(0, 1), fill(1, 1)));
      const check = async (canRead: boolean, canWrite: boolean) => {
        const r = await run(lu, B, cdb.read10(0, 1));
        if (canRead) expectGood(r);
        else expectConflict(r);
        const w = await run(lu, B, cdb.write10(0, 1), fill(1, 2));
        if (canWrite) expectGood(w);
        else expectConflict(w);
      };
      await check(regRead, regWrite);
      expectGood(await prOut(lu, B, SA.REGISTER, 0xb2n, 0n));
      await check(unregRead, unregWrite);
      // INQUIRY, TEST UNIT READY, READ CAPACITY and PERSISTENT RESERVE IN never conflict.
      for (const c of [cdb.inquiry(), cdb.testUnitReady(), cdb.readCapacity10(), cdb.prIn(IN.READ_KEYS)]) {
        expectGood(await run(lu, C, c));
      }
      expectGood(await prOut(lu, A, SA.RELEASE, 0xa1n, 0n, type));
      expectGood(await prOut(lu, A, SA.REGISTER, 0xa1n, 0n));
    });
  }

  it('PREEMPT removes a registration, bumps the generation once and tells the preempted nexus', async () => {
    const { lu } = makeLu();
    await ready(lu, A, B);
    expectGood(await prOut(lu, A, SA.REGISTER_AND_IGNORE_EXISTING_KEY, 0n, 1n));
    expectGood(await prOut(lu, B, SA.REGISTER_AND_IGNORE_EXISTING_KEY, 0n, 2n));
    const before = (await readKeys(lu, A)).readUInt32BE(0);
    expectGood(await prOut(lu, B, SA.PREEMPT, 2n, 1n, PrType.EXCLUSIVE_ACCESS));
    expectSense(await run(lu, A, cdb.testUnitReady()), 'REGISTRATIONS_PREEMPTED');
    expectGood(await run(lu, B, cdb.testUnitReady()));
    const keys = await readKeys(lu, A);
    assert.equal(keys.readUInt32BE(0), before + 1);
    assert.equal(keys.readUInt32BE(4), 8);
    assert.equal(keys.readBigUInt64BE(8), 2n);
  });

  it('READ KEYS cut to 8 bytes keeps ADDITIONAL LENGTH', async () => {
    const { lu } = makeLu();
    await ready(lu, A);
    expectGood(await prOut(lu, A, SA.REGISTER, 0n, 7n));
    const data = await readKeys(lu, A, 8);
    assert.equal(data.length, 8);
    assert.equal(data.readUInt32BE(4), 8);
  });

  it('REPORT CAPABILITIES and the service action range', async () => {
    const { lu } = makeLu();
    await ready(lu, A);
    const caps = expectGood(await run(lu, A, cdb.prIn(IN.REPORT_CAPABILITIES)));
    assert.equal(caps.readUInt16BE(0), 8);
    assert.ok((((caps[3] ?? 0) >> 4) & 0x07) <= 5);
    assert.equal(caps.readUInt16BE(4), 0xea01);
    for (let sa = 0; sa < 0x20; sa++) {
      const r = await run(lu, A, cdb.prIn(sa));
      assert.equal(r.status === ScsiStatus.GOOD, sa < 4, `service action ${sa}`);
    }
  });

  it('READ FULL STATUS describes each registration with its TransportID', async () => {
    const { lu } = makeLu();
    await ready(lu, A);
    expectGood(await prOut(lu, A, SA.REGISTER, 0n, 7n));
    expectGood(await prOut(lu, A, SA.RESERVE, 7n, 0n, PrType.WRITE_EXCLUSIVE));
    const data = expectGood(await run(lu, A, cdb.prIn(IN.READ_FULL_STATUS)));
    assert.equal(data.readBigUInt64BE(8), 7n);
    assert.equal(data[8 + 12], 0x01); // R_HOLDER
    assert.equal(data[8 + 13], PrType.WRITE_EXCLUSIVE);
    const idLength = data.readUInt32BE(8 + 20);
    const id = data.subarray(8 + 24, 8 + 24 + idLength);
    assert.equal(id[0], 0x45);
    assert.equal(id.subarray(4).toString('utf8').replace(/\0+$/, ''), A.initiatorPort);
    assert.equal(data.readUInt32BE(4), 24 + idLength);
  });

  it('a PR OUT parameter list of the wrong length is a PARAMETER LIST LENGTH ERROR', async () => {
    const { lu } = makeLu();
    await ready(lu, A);
    expectSense(
      await run(lu, A, cdb.prOut(SA.REGISTER, 0, 20), Buffer.alloc(20)),
      'PARAMETER_LIST_LENGTH_ERROR',
    );
  });

  it('APTPL: the state is saved after each change and restored only when APTPL was set', async () => {
    const saved: PrState[] = [];
    const store: PrStateStore = { load: () => saved[saved.length - 1], save: (s) => void saved.push(s) };
    const { lu } = makeLu({ store });
    await ready(lu, A);
    expectGood(await run(lu, A, cdb.prOut(SA.REGISTER, 0), prParams(0n, 5n, { aptpl: true })));
    expectGood(await prOut(lu, A, SA.RESERVE, 5n, 0n, PrType.EXCLUSIVE_ACCESS));
    assert.equal(saved.length, 2);
    const restarted = makeLu({ store }).lu;
    assert.equal(restarted.prState.reservation?.type, PrType.EXCLUSIVE_ACCESS);
    expectGood(await run(lu, A, cdb.prOut(SA.REGISTER, 0), prParams(5n, 6n)));
    assert.equal(makeLu({ store }).lu.prState.registrations.length, 0);
  });
});

describe('SPC-2 RESERVE and RELEASE', () => {
  it('libiscsi reserve6_2initiators', async () => {
    const { lu } = makeLu();
    await ready(lu, A, B);
    expectGood(await run(lu, A, cdb.reserve6()));
    expectGood(await run(lu, A, cdb.reserve6()));
    expectConflict(await run(lu, B, cdb.reserve6()));
    expectGood(await run(lu, B, cdb.release6()));
    expectGood(await run(lu, A, cdb.modeSense6()));
    expectConflict(await run(lu, B, cdb.modeSense6()));
    expectGood(await run(lu, B, cdb.inquiry()));
    expectGood(await run(lu, A, cdb.release6()));
    expectGood(await run(lu, B, cdb.reserve6()));
    expectGood(await run(lu, B, cdb.release6()));
  });

  it('is released by a LOGICAL UNIT RESET and by the holder’s nexus loss', async () => {
    const { lu } = makeLu();
    await ready(lu, A, B);
    expectGood(await run(lu, A, cdb.reserve6()));
    assert.equal(await lu.taskManagement(A, { kind: 'logical-unit-reset' }), 'function-complete');
    expectSense(await run(lu, B, cdb.reserve6()), 'BUS_DEVICE_RESET_FUNCTION_OCCURRED');
    expectGood(await run(lu, B, cdb.reserve6()));
    lu.nexusLost(B);
    await ready(lu, A);
    expectGood(await run(lu, A, cdb.reserve6()));
  });

  it('conflicts while persistent reservation registrations exist', async () => {
    const { lu } = makeLu();
    await ready(lu, A);
    expectGood(await prOut(lu, A, SA.REGISTER, 0n, 1n));
    expectConflict(await run(lu, A, cdb.reserve6()));
    expectConflict(await run(lu, A, cdb.release6()));
  });
});

describe('task management', () => {
  it('ABORT TASK waits for the task, which then reports TASK ABORTED', async () => {
    const { lu, device } = makeLu();
    await ready(lu, A);
    device.holdWrites();
    const request = {
      nexus: A,
      tag: 4242,
      lun: 0,
      cdb: cdb.write10(0, 1),
      attribute: 'simple' as const,
      expectedDataInLength: 0,
      dataOut: fill(1, 1),
    };
    const writing = lu.execute(request);
    await new Promise((r) => setImmediate(r));
    const aborting = lu.taskManagement(A, { kind: 'abort-task', tag: 4242 });
    device.releaseWrites();
    assert.equal(await aborting, 'function-complete');
    assert.equal((await writing).status, ScsiStatus.TASK_ABORTED);
    assert.equal(await lu.taskManagement(A, { kind: 'abort-task', tag: 4242 }), 'task-does-not-exist');
  });

  it('CLEAR TASK SET tells the other nexuses their commands were cleared', async () => {
    const { lu, device } = makeLu();
    await ready(lu, A, B);
    device.holdWrites();
    const writing = run(lu, B, cdb.write10(0, 1), fill(1, 1));
    await new Promise((r) => setImmediate(r));
    const clearing = lu.taskManagement(A, { kind: 'clear-task-set' });
    device.releaseWrites();
    assert.equal(await clearing, 'function-complete');
    assert.equal((await writing).status, ScsiStatus.TASK_ABORTED);
    expectSense(await run(lu, B, cdb.testUnitReady()), 'COMMANDS_CLEARED_BY_ANOTHER_INITIATOR');
    expectGood(await run(lu, A, cdb.testUnitReady()));
    assert.equal(senseOf(await run(lu, B, cdb.read10(0, 9999))).code, 'LBA_OUT_OF_RANGE');
  });
});

describe('block limits', () => {
  it('reports and enforces a MAXIMUM TRANSFER LENGTH of 64 MiB unless configured', async () => {
    const { lu } = makeLu({ blocks: 200_000 });
    await ready(lu, A);
    const vpd = expectGood(await run(lu, A, Buffer.from([0x12, 0x01, 0xb0, 0x01, 0x00, 0])));
    assert.equal(vpd.readUInt32BE(8), 131072);
    expectGood(await run(lu, A, cdb.write16(0n, 65536), Buffer.alloc(65536 * BLOCK, 1)));
    expectSense(await run(lu, A, cdb.write16(0n, 131073)), 'INVALID_FIELD_IN_CDB');
  });
});
