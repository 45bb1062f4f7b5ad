import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BhsFields } from '../../../../src/iscsi/pdu/bhs.js';
import type { OutgoingPdu, Pdu } from '../../../../src/iscsi/pdu/pdu.js';
import {
  DEFAULT_PARAMS,
  DEFAULT_TARGET_LIMITS,
  INITIAL_NEGOTIATION_STATE,
} from '../../../../src/iscsi/text/negotiate.js';
import {
  IscsiSession,
  MAX_PENDING_WRITE_BYTES,
  MAX_PENDING_READ_BYTES,
} from '../../../../src/iscsi/session/session.js';
import type { ScsiTargetDevice, ScsiTaskRequest } from '../../../../src/scsi/lu/scsi-task.js';
import { ScsiStatus } from '../../../../src/scsi/sense/status.js';

const nexus = {
  initiatorPort: 'iqn.x,i,0x1',
  initiatorName: 'iqn.x',
  targetPort: 'iqn.t,t,0x0001',
  relativeTargetPort: 1,
};

function harness() {
  const sent: OutgoingPdu[] = [];
  const output = { backlog: 0 };
  const executed: ScsiTaskRequest[] = [];
  const device: ScsiTargetDevice = {
    execute: (request) => {
      executed.push(request);
      return Promise.resolve({
        status: ScsiStatus.GOOD,
        dataIn: Buffer.alloc(request.expectedDataInLength, 0x61),
      });
    },
    taskManagement: () => Promise.resolve('function-complete'),
    nexusLost: () => undefined,
  };
  const session = new IscsiSession({
    params: { ...DEFAULT_PARAMS, initialR2T: false, immediateData: true },
    negotiation: INITIAL_NEGOTIATION_STATE,
    limits: DEFAULT_TARGET_LIMITS,
    nexus,
    device,
    expCmdSN: 10,
    statSN: 100,
    commandWindow: 4,
    sendTargets: () => [],
    send: (pdu) => sent.push(pdu),
    outputBacklog: () => output.backlog,
    close: () => undefined,
    log: () => undefined,
  });
  return { session, sent, executed, output };
}

function pdu(bhs: BhsFields, data: Buffer = Buffer.alloc(0)): Pdu {
  return {
    bhs: { ...bhs, totalAHSLength: 0, dataSegmentLength: data.length },
    ahs: Buffer.alloc(0),
    data,
  };
}

function read(cmdSN: number, itt: number, length = 512): Pdu {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x28;
  cdb[8] = 1;
  return pdu({
    kind: 'scsi-command',
    immediate: false,
    final: true,
    read: true,
    write: false,
    attr: 1,
    lun: 0n,
    initiatorTaskTag: itt,
    expectedDataTransferLength: length,
    cmdSN,
    expStatSN: 100,
    cdb,
  });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('iSCSI session', () => {
  it('executes commands in CmdSN order, holds early ones and drops those outside the window', async () => {
    const { session, executed, sent } = harness();
    session.handle(read(12, 3)); // ahead: held
    session.handle(read(11, 2)); // ahead: held
    session.handle(read(50, 9)); // outside the window: dropped
    assert.equal(executed.length, 0);
    session.handle(read(10, 1));
    await tick();
    assert.deepEqual(
      executed.map((r) => r.tag),
      [1, 2, 3],
    );
    session.handle(read(10, 4)); // a duplicate of an old CmdSN
    await tick();
    assert.equal(executed.length, 3);
    const statuses = sent.map((p) => p.bhs).filter((b) => b.kind === 'data-in' && b.hasStatus);
    assert.deepEqual(
      statuses.map((b) => (b.kind === 'data-in' ? b.statSN : -1)),
      [100, 101, 102],
    );
    const last = sent.at(-1)?.bhs;
    assert.ok(last?.kind === 'data-in');
    assert.equal(last.expCmdSN, 13);
    assert.equal(last.maxCmdSN, 16);
  });

  it('answers writes beyond the buffered Data-Out budget with TASK SET FULL', () => {
    const { session, sent } = harness();
    const big = MAX_PENDING_WRITE_BYTES / 4;
    const write = (cmdSN: number, itt: number) => {
      const cdb = Buffer.alloc(16);
      cdb[0] = 0x2a;
      return pdu({
        kind: 'scsi-command',
        immediate: false,
        final: true,
        read: false,
        write: true,
        attr: 1,
        lun: 0n,
        initiatorTaskTag: itt,
        expectedDataTransferLength: big,
        cmdSN,
        expStatSN: 100,
        cdb,
      });
    };
    for (let i = 0; i < 4; i += 1) session.handle(write(10 + i, i + 1));
    assert.equal(sent.filter((p) => p.bhs.kind === 'scsi-response').length, 0, 'four fit the budget');
    session.handle(write(14, 5));
    const refused = sent.filter((p) => p.bhs.kind === 'scsi-response');
    assert.equal(refused.length, 1);
    const bhs = refused[0]?.bhs;
    assert.ok(bhs?.kind === 'scsi-response');
    assert.equal(bhs.status, ScsiStatus.TASK_SET_FULL);
    assert.equal(bhs.initiatorTaskTag, 5);
  });

  it('refuses READs with TASK SET FULL while the output the initiator has not taken is over budget', async () => {
    const { session, sent, executed, output } = harness();
    output.backlog = MAX_PENDING_READ_BYTES - 1024; // an initiator that stopped reading its socket
    session.handle(read(10, 1, 512)); // fits
    session.handle(read(11, 2, 4096)); // does not
    await tick();
    assert.deepEqual(
      executed.map((r) => r.tag),
      [1],
    );
    const full = sent.filter(
      (p) => p.bhs.kind === 'scsi-response' && p.bhs.status === ScsiStatus.TASK_SET_FULL,
    );
    assert.deepEqual(
      full.map((p) => (p.bhs.kind === 'scsi-response' ? p.bhs.initiatorTaskTag : -1)),
      [2],
    );
    output.backlog = 0; // it reads again
    session.handle(read(12, 3, 4096));
    await tick();
    assert.deepEqual(
      executed.map((r) => r.tag),
      [1, 3],
    );
  });

  it('echoes NOP-Out pings and rejects SNACK at ERL 0', () => {
    const { session, sent } = harness();
    session.handle(
      pdu(
        {
          kind: 'nop-out',
          immediate: true,
          lun: 0n,
          initiatorTaskTag: 77,
          targetTransferTag: 0xffffffff,
          cmdSN: 10,
          expStatSN: 100,
        },
        Buffer.from('ping'),
      ),
    );
    const nop = sent[0];
    assert.ok(nop?.bhs.kind === 'nop-in');
    assert.equal(nop.bhs.initiatorTaskTag, 77);
    assert.equal(Buffer.from(nop.data ?? []).toString(), 'ping');
    session.handle(
      pdu({
        kind: 'snack-request',
        type: 0,
        lun: 0n,
        initiatorTaskTag: 1,
        targetTransferTag: 0,
        expStatSN: 100,
        begRun: 0,
        runLength: 0,
      }),
    );
    assert.equal(sent[1]?.bhs.kind, 'reject');
  });
});
