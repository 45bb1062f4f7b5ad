import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { decodeCdb } from '../../../../src/scsi/cdb/decode.js';
import { COMMANDS, findCommand } from '../../../../src/scsi/cdb/command-table.js';
import type { ScsiCommand } from '../../../../src/scsi/cdb/command.js';
import type { SenseReason } from '../../../../src/scsi/sense/sense-reason.js';
import { hex } from '../example-lu.js';
import { CASES } from './cdb-encoders.js';

function decoded(cdb: Uint8Array): ScsiCommand {
  const result = decodeCdb(cdb);
  assert.ok(result.ok, `expected ${Buffer.from(cdb).toString('hex')} to decode: ${inspect(result)}`);
  return result.value.command;
}

function refused(cdb: Uint8Array): SenseReason {
  const result = decodeCdb(cdb);
  assert.ok(!result.ok, `expected ${Buffer.from(cdb).toString('hex')} to be refused`);
  return result.sense;
}

const invalidField = (byte: number, bit?: number): SenseReason => ({
  code: 'INVALID_FIELD_IN_CDB',
  field: bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit },
});

describe('decodeCdb: examples', () => {
  it('READ (6): 21-bit LBA, TRANSFER LENGTH 0 means 256 blocks', () => {
    assert.deepEqual(decoded(hex('08 1f ffff 00 00')), {
      op: 'read',
      lba: 0x1fffffn,
      blocks: 256,
      dpo: false,
      fua: false,
    });
    assert.deepEqual(decoded(hex('0a 00 0010 08 00')), {
      op: 'write',
      lba: 16n,
      blocks: 8,
      dpo: false,
      fua: false,
    });
  });

  it('READ (6): the old LUN bits 7..5 of byte 1 are reserved', () => {
    assert.deepEqual(refused(hex('08 20 0000 01 00')), invalidField(1, 5));
  });

  it('READ (10) with DPO and FUA', () => {
    assert.deepEqual(decoded(hex('28 18 00000100 00 0008 00')), {
      op: 'read',
      lba: 256n,
      blocks: 8,
      dpo: true,
      fua: true,
    });
  });

  it('READ (10) with any RDPROTECT is an invalid field (no protection information)', () => {
    for (let rdprotect = 1; rdprotect < 8; rdprotect++) {
      const cdb = hex('28 00 00000000 00 0001 00');
      cdb[1] = rdprotect << 5;
      assert.deepEqual(refused(cdb), invalidField(1, 31 - Math.clz32(rdprotect << 5)));
    }
  });

  it('WRITE (10) accepts the obsolete FUA_NV bit and GROUP NUMBER, as libiscsi expects', () => {
    assert.deepEqual(decoded(hex('2a 0a 00000000 1f 0001 00')), {
      op: 'write',
      lba: 0n,
      blocks: 1,
      dpo: false,
      fua: true,
    });
  });

  it('READ (16) carries a 64-bit LBA', () => {
    assert.deepEqual(decoded(hex('88 00 ffffffffffffffff 00000001 00 00')), {
      op: 'read',
      lba: 0xffffffffffffffffn,
      blocks: 1,
      dpo: false,
      fua: false,
    });
  });

  it('CONTROL: NACA and LINK are invalid fields, vendor-specific bits are ignored', () => {
    assert.deepEqual(refused(hex('00 00 0000 00 04')), invalidField(5, 2));
    assert.deepEqual(refused(hex('00 00 0000 00 01')), invalidField(5, 0));
    assert.deepEqual(refused(hex('28 00 00000000 00 0001 04')), invalidField(9, 2));
    assert.deepEqual(decoded(hex('00 00 0000 00 c0')), { op: 'test-unit-ready' });
  });

  it('an unknown operation code', () => {
    assert.deepEqual(refused(hex('04 00 0000 00 00')), { code: 'INVALID_COMMAND_OPERATION_CODE' });
    assert.deepEqual(refused(new Uint8Array(0)), { code: 'INVALID_COMMAND_OPERATION_CODE' });
  });

  it('an unknown service action points at the SERVICE ACTION field', () => {
    assert.deepEqual(refused(hex('9e 11' + '00'.repeat(14))), invalidField(1, 4));
    // PERSISTENT RESERVE IN service actions 04h..1Fh (libiscsi test_prin_serviceaction_range)
    for (let sa = 4; sa < 0x20; sa++) {
      const cdb = hex('5e 00 0000000000 0010 00');
      cdb[1] = sa;
      assert.deepEqual(refused(cdb), invalidField(1, 4));
    }
  });

  it('a CDB shorter than its operation code says', () => {
    assert.deepEqual(refused(hex('28 00 0000')), invalidField(0));
  });

  it('reads only the command length of a longer buffer (iSCSI carries 16 bytes)', () => {
    assert.deepEqual(decoded(hex('00 00 0000 00 00 ffffffff ffffffff ffff')), { op: 'test-unit-ready' });
  });

  it('INQUIRY: a PAGE CODE without EVPD is an invalid field; CmdDt is reserved', () => {
    assert.deepEqual(refused(hex('12 00 01 0100 00')), invalidField(2));
    assert.deepEqual(refused(hex('12 02 00 0100 00')), invalidField(1, 1));
    assert.deepEqual(decoded(hex('12 01 83 0200 00')), {
      op: 'inquiry',
      evpd: true,
      pageCode: 0x83,
      allocationLength: 512,
    });
  });

  it('VERIFY: BYTCHK 10b is reserved; WRITE AND VERIFY also refuses 11b', () => {
    assert.deepEqual(refused(hex('2f 04 00000000 00 0001 00')), invalidField(1, 2));
    assert.equal((decoded(hex('2f 06 00000000 00 0001 00')) as { bytchk: number }).bytchk, 3);
    assert.deepEqual(refused(hex('2e 06 00000000 00 0001 00')), invalidField(1, 2));
  });

  it('WRITE SAME: ANCHOR without UNMAP is an invalid field; PBDATA/LBDATA are reserved', () => {
    assert.deepEqual(refused(hex('41 10 00000000 00 0001 00')), invalidField(1, 4));
    assert.deepEqual(refused(hex('41 02 00000000 00 0001 00')), invalidField(1, 1));
    assert.deepEqual(decoded(hex('93 09 0000000000000010 00000008 00 00')), {
      op: 'write-same',
      lba: 16n,
      blocks: 8,
      anchor: false,
      unmap: true,
      ndob: true,
    });
  });

  it('MODE SELECT: SP = 1 is an invalid field, and so is PF = 0 with a parameter list', () => {
    assert.deepEqual(refused(hex('15 11 0000 18 00')), invalidField(1, 0));
    assert.deepEqual(refused(hex('15 00 0000 18 00')), invalidField(1, 4));
    assert.deepEqual(decoded(hex('15 00 0000 00 00')), {
      op: 'mode-select',
      cdbLength: 6,
      parameterListLength: 0,
    });
  });

  it('READ CAPACITY: an LBA with PMI = 0 is an invalid field', () => {
    assert.deepEqual(refused(hex('25 00 00000001 0000 00 00')), invalidField(2));
    assert.deepEqual(refused(hex('9e 10 0000000000000001 00000020 00 00')), invalidField(2));
    assert.deepEqual(decoded(hex('9e 10 0000000000000000 00000020 00 00')), {
      op: 'read-capacity-16',
      allocationLength: 32,
    });
  });

  it('REPORT LUNS: ALLOCATION LENGTH below 16 and unknown SELECT REPORT are invalid fields', () => {
    assert.deepEqual(refused(hex('a0 00 00 000000 0000000f 00 00')), invalidField(6));
    assert.deepEqual(refused(hex('a0 00 03 000000 00000010 00 00')), invalidField(2));
  });

  it('REPORT SUPPORTED OPERATION CODES: REPORTING OPTIONS above 011b are invalid', () => {
    assert.deepEqual(refused(hex('a3 0c 04 00 0000 00001000 00 00')), invalidField(2, 2));
  });

  it('PERSISTENT RESERVE OUT: SCOPE, TYPE and a 32-bit PARAMETER LIST LENGTH', () => {
    assert.deepEqual(decoded(hex('5f 01 03 0000 00000018 00')), {
      op: 'persistent-reserve-out',
      serviceAction: 1,
      scope: 0,
      type: 3,
      parameterListLength: 24,
    });
  });
});

describe('decodeCdb: properties', () => {
  it('never throws on random bytes, and only refuses with an opcode or CDB field reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 32 }), (cdb) => {
        const result = decodeCdb(cdb);
        if (result.ok) return;
        const { code, field } = result.sense;
        assert.ok(code === 'INVALID_COMMAND_OPERATION_CODE' || code === 'INVALID_FIELD_IN_CDB');
        if (field !== undefined) {
          assert.equal(field.inCdb, true);
          assert.ok(field.byte < Math.max(cdb.length, 1));
        }
      }),
      { numRuns: 20000 },
    );
  });

  it('every supported opcode decodes random 16-byte CDBs without throwing', () => {
    const opcodes = [...new Set(COMMANDS.map((c) => c.opcode))];
    fc.assert(
      fc.property(
        fc.constantFrom(...opcodes),
        fc.uint8Array({ minLength: 15, maxLength: 15 }),
        (opcode, rest) => {
          decodeCdb(Buffer.concat([Buffer.from([opcode]), rest]));
        },
      ),
      { numRuns: 20000 },
    );
  });

  it('there is an encoder case for every row of the table, and no other', () => {
    assert.deepEqual(Object.keys(CASES).sort(), COMMANDS.map((c) => c.name).sort());
  });

  for (const spec of COMMANDS) {
    const arbitrary = CASES[spec.name];
    if (arbitrary === undefined) continue;
    it(`${spec.name}: a well-formed CDB decodes to its fields`, () => {
      fc.assert(
        fc.property(arbitrary, fc.integer({ min: 0, max: 3 }), (example, vendor) => {
          const { cdb, expected } = { ...example, cdb: Buffer.from(example.cdb) };
          cdb[cdb.length - 1] = (cdb[cdb.length - 1] ?? 0) | (vendor << 6);
          const result = decodeCdb(cdb);
          assert.ok(result.ok, inspect(result));
          assert.equal(result.value.spec, spec);
          assert.deepEqual(result.value.command, expected);
        }),
        { numRuns: 300 },
      );
    });

    it(`${spec.name}: setting any one reserved bit is refused with a pointer to it`, () => {
      const reserved: [number, number][] = [];
      for (let byte = 1; byte < spec.cdbLength; byte++) {
        let allowed = (spec.usage[byte] ?? 0) | (spec.ignored[byte] ?? 0);
        if (byte === 1 && spec.serviceAction !== undefined) allowed |= 0x1f;
        for (let b = 0; b < 8; b++) if ((allowed & (1 << b)) === 0) reserved.push([byte, b]);
      }
      if (reserved.length === 0) return;
      fc.assert(
        fc.property(arbitrary, fc.constantFrom(...reserved), (example, [byte, b]) => {
          const cdb = Buffer.from(example.cdb);
          cdb[byte] = (cdb[byte] ?? 0) | (1 << b);
          assert.deepEqual(refused(cdb), invalidField(byte, b));
        }),
        { numRuns: 200 },
      );
    });
  }
});

describe('the command table', () => {
  it('has one row per opcode and service action, sorted', () => {
    const keys = COMMANDS.map((c) => c.opcode * 256 + (c.serviceAction ?? 0));
    assert.deepEqual(
      keys,
      [...keys].sort((a, b) => a - b),
    );
    assert.equal(new Set(keys).size, keys.length);
  });

  it('CDB lengths follow the opcode group (SAM-5 §5.2)', () => {
    const byGroup: Record<number, number> = { 0: 6, 1: 10, 2: 10, 4: 16, 5: 12 };
    for (const c of COMMANDS) assert.equal(c.cdbLength, byGroup[c.opcode >> 5], c.name);
  });

  it('usage data starts with the opcode and carries the service action; usage and ignored bits never overlap', () => {
    for (const c of COMMANDS) {
      assert.equal(c.usage.length, c.cdbLength, c.name);
      assert.equal(c.usage[0], c.opcode, c.name);
      if (c.serviceAction !== undefined) assert.equal((c.usage[1] ?? 0) & 0x1f, c.serviceAction, c.name);
      c.usage.forEach((u, i) =>
        assert.equal(i === 0 ? 0 : u & (c.ignored[i] ?? 0), 0, `${c.name} byte ${i}`),
      );
    }
  });

  it('the commands the brief lists are all there', () => {
    const required: [number, number?][] = [
      [0x00],
      [0x12],
      [0x03],
      [0x25],
      [0x9e, 0x10],
      [0x08],
      [0x28],
      [0xa8],
      [0x88],
      [0x0a],
      [0x2a],
      [0xaa],
      [0x8a],
      [0x2e],
      [0xae],
      [0x8e],
      [0x2f],
      [0xaf],
      [0x8f],
      [0x35],
      [0x91],
      [0x41],
      [0x93],
      [0x42],
      [0x89],
      [0x9e, 0x12],
      [0x1a],
      [0x5a],
      [0x15],
      [0x55],
      [0xa0],
      [0xa3, 0x0c],
      [0xa3, 0x0d],
      [0x5e, 0],
      [0x5f, 0],
      [0x16],
      [0x56],
      [0x17],
      [0x57],
      [0x1b],
      [0x1e],
    ];
    for (const [opcode, sa] of required) assert.ok(findCommand(opcode, sa), opcode.toString(16));
  });
});
