import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReportSupportedOperationCodes } from '../../../../src/scsi/cdb/command.js';
import { COMMANDS } from '../../../../src/scsi/cdb/command-table.js';
import { decodeCdb } from '../../../../src/scsi/cdb/decode.js';
import {
  respondReportSupportedOperationCodes,
  respondReportSupportedTaskManagementFunctions,
} from '../../../../src/scsi/spc/report-supported.js';
import { hex } from '../example-lu.js';

const rsoc = (overrides: Partial<ReportSupportedOperationCodes>): Buffer => {
  const result = respondReportSupportedOperationCodes({
    op: 'report-supported-operation-codes',
    rctd: false,
    reportingOptions: 'all',
    requestedOpcode: 0,
    requestedServiceAction: 0,
    allocationLength: 65535,
    ...overrides,
  });
  assert.ok(result.ok);
  return result.value;
};

const refusal = (overrides: Partial<ReportSupportedOperationCodes>) =>
  respondReportSupportedOperationCodes({
    op: 'report-supported-operation-codes',
    rctd: false,
    reportingOptions: 'all',
    requestedOpcode: 0,
    requestedServiceAction: 0,
    allocationLength: 65535,
    ...overrides,
  });

interface Descriptor {
  opcode: number;
  sa: number;
  ctdp: boolean;
  servactv: boolean;
  cdbLength: number;
  timeoutLength?: number;
}

/** Parses "all commands" parameter data the way libiscsi's unmarshaller does. */
function parseAll(data: Buffer): Descriptor[] {
  const out: Descriptor[] = [];
  const end = 4 + data.readUInt32BE(0);
  assert.equal(end, data.length);
  for (let at = 4; at < end;) {
    const d: Descriptor = {
      opcode: data[at]!,
      sa: data.readUInt16BE(at + 2),
      ctdp: (data[at + 5]! & 0x02) !== 0,
      servactv: (data[at + 5]! & 0x01) !== 0,
      cdbLength: data.readUInt16BE(at + 6),
    };
    at += 8;
    if (d.ctdp) {
      d.timeoutLength = data.readUInt16BE(at);
      at += 2 + d.timeoutLength;
    }
    out.push(d);
  }
  return out;
}

describe('REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35)', () => {
  it('reports every row of the command table, and only those', () => {
    const descriptors = parseAll(rsoc({}));
    assert.deepEqual(
      descriptors.map((d) => [d.opcode, d.servactv ? d.sa : undefined, d.cdbLength]),
      COMMANDS.map((c) => [c.opcode, c.serviceAction, c.cdbLength]),
    );
    for (const d of descriptors) {
      assert.equal(d.ctdp, false);
      if (!d.servactv) assert.equal(d.sa, 0);
    }
  });

  it('with RCTD every descriptor has a 0Ah-long timeouts descriptor', () => {
    for (const d of parseAll(rsoc({ rctd: true }))) {
      assert.equal(d.ctdp, true);
      assert.equal(d.timeoutLength, 0x0a);
    }
  });

  it('one command: READ (10) with its CDB usage data', () => {
    assert.deepEqual(
      rsoc({ reportingOptions: 'opcode', requestedOpcode: 0x28 }),
      hex('00 03 000a  28 18 ffffffff 00 ffff 00'),
    );
  });

  it('one command with service action: READ CAPACITY (16)', () => {
    assert.deepEqual(
      rsoc({
        reportingOptions: 'opcode-and-service-action',
        requestedOpcode: 0x9e,
        requestedServiceAction: 0x10,
      }),
      hex('00 03 0010  9e 10 ffffffffffffffff ffffffff 01 00'),
    );
  });

  it('one command with RCTD appends the timeouts descriptor', () => {
    const data = rsoc({ reportingOptions: 'opcode', requestedOpcode: 0x00, rctd: true });
    assert.deepEqual(data, hex('00 83 0006  00 00 00 00 00 00  000a 00 00 00000000 00000000'));
  });

  it('usage data says DPO/FUA are honoured, matching DPOFUA in MODE SENSE', () => {
    for (const opcode of [0x28, 0x2a, 0x88, 0x8a, 0x89]) {
      assert.equal(rsoc({ reportingOptions: 'opcode', requestedOpcode: opcode })[5]! & 0x18, 0x18);
    }
    for (const opcode of [0x2f, 0xaf, 0x8f]) {
      assert.equal(rsoc({ reportingOptions: 'opcode', requestedOpcode: opcode })[5]! & 0x10, 0x10);
    }
  });

  it('an unsupported command is reported with SUPPORT 001b', () => {
    assert.deepEqual(rsoc({ reportingOptions: 'opcode', requestedOpcode: 0x04 }), hex('00 01 0000'));
    assert.deepEqual(
      rsoc({
        reportingOptions: 'opcode-and-service-action',
        requestedOpcode: 0x9e,
        requestedServiceAction: 0x11,
      }),
      hex('00 01 0000'),
    );
  });

  it('001b for an opcode with service actions and 010b for one without are invalid fields', () => {
    const invalid = {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_CDB', field: { inCdb: true, byte: 2, bit: 2 } },
    };
    assert.deepEqual(refusal({ reportingOptions: 'opcode', requestedOpcode: 0x9e }), invalid);
    assert.deepEqual(
      refusal({ reportingOptions: 'opcode-and-service-action', requestedOpcode: 0x28 }),
      invalid,
    );
  });

  it('011b answers for both kinds', () => {
    assert.equal(rsoc({ reportingOptions: 'opcode-maybe-service-action', requestedOpcode: 0x28 })[1], 0x03);
    const rc16 = rsoc({
      reportingOptions: 'opcode-maybe-service-action',
      requestedOpcode: 0x9e,
      requestedServiceAction: 0x10,
    });
    assert.equal(rc16[1], 0x03);
  });

  it('a CDB with only usage-data bits set decodes, for every row (usage data tells the truth)', () => {
    for (const spec of COMMANDS) {
      const data = rsoc(
        spec.serviceAction === undefined
          ? { reportingOptions: 'opcode', requestedOpcode: spec.opcode }
          : {
              reportingOptions: 'opcode-and-service-action',
              requestedOpcode: spec.opcode,
              requestedServiceAction: spec.serviceAction,
            },
      );
      const usage = data.subarray(4, 4 + data.readUInt16BE(2));
      const result = decodeCdb(usage);
      // Bits in use may still hold values a row refuses (say RDPROTECT-free but BYTCHK 11b on WRITE
      // AND VERIFY); a refusal must then never blame a reserved bit, i.e. one outside the usage data.
      if (!result.ok) {
        const field = result.sense.field;
        assert.ok(field !== undefined, spec.name);
        const bit = field.bit;
        if (bit !== undefined) assert.notEqual((usage[field.byte] ?? 0) & (1 << bit), 0, spec.name);
      }
    }
  });

  it('is truncated to the allocation length', () => {
    const full = rsoc({});
    assert.deepEqual(rsoc({ allocationLength: 10 }), full.subarray(0, 10));
  });
});

describe('REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 §6.36)', () => {
  it('reports ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET, TARGET RESET', () => {
    const data = respondReportSupportedTaskManagementFunctions({
      op: 'report-supported-task-management-functions',
      repd: false,
      allocationLength: 4,
    });
    assert.deepEqual(data, hex('da 00 00 00'));
  });

  it('REPD = 1 gives the 16-byte extended format', () => {
    const data = respondReportSupportedTaskManagementFunctions({
      op: 'report-supported-task-management-functions',
      repd: true,
      allocationLength: 64,
    });
    assert.deepEqual(data, Buffer.concat([hex('da 00 00 0c'), Buffer.alloc(12)]));
  });
});
