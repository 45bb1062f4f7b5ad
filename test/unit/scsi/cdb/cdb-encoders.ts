// Test-side CDB encoders, written from the SPC-4 / SBC-3 CDB tables independently of the decoder:
// for each row of the command table, an arbitrary of (well-formed CDB, the command it must decode to).
import fc from 'fast-check';
import type { ScsiCommand } from '../../../../src/scsi/cdb/command.js';

export interface Case {
  readonly cdb: Buffer;
  readonly expected: ScsiCommand;
}

const cdbOf = (length: number, opcode: number, fill: (cdb: Buffer) => void): Buffer => {
  const cdb = Buffer.alloc(length);
  cdb[0] = opcode;
  fill(cdb);
  return cdb;
};

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const u8 = fc.integer({ min: 0, max: 0xff });
const group = fc.integer({ min: 0, max: 0x1f });
const vendorControl = fc.integer({ min: 0, max: 3 }).map((v) => v << 6);

const flags = (dpo: boolean, fua: boolean): number => (dpo ? 0x10 : 0) | (fua ? 0x08 : 0);

function readWrite(
  op: 'read' | 'write',
  codes: Record<6 | 10 | 12 | 16, number>,
): Record<string, fc.Arbitrary<Case>> {
  const name = op === 'read' ? 'READ' : 'WRITE';
  const hints = fc.record({ dpo: fc.boolean(), fua: fc.boolean(), fuaNv: fc.boolean() });
  return {
    [`${name} (6)`]: fc
      .record({ lba: fc.integer({ min: 0, max: 0x1f_ffff }), length: u8, control: vendorControl })
      .map(({ lba, length, control }) => ({
        cdb: cdbOf(6, codes[6], (c) => {
          c.writeUIntBE(lba, 1, 3);
          c[4] = length;
          c[5] = control;
        }),
        expected: { op, lba: BigInt(lba), blocks: length === 0 ? 256 : length, dpo: false, fua: false },
      })),
    [`${name} (10)`]: fc
      .record({ lba: u32, blocks: u16, h: hints, g: group })
      .map(({ lba, blocks, h, g }) => ({
        cdb: cdbOf(10, codes[10], (c) => {
          c[1] = flags(h.dpo, h.fua) | (h.fuaNv ? 0x02 : 0);
          c.writeUInt32BE(lba, 2);
          c[6] = g;
          c.writeUInt16BE(blocks, 7);
        }),
        expected: { op, lba: BigInt(lba), blocks, dpo: h.dpo, fua: h.fua },
      })),
    [`${name} (12)`]: fc
      .record({ lba: u32, blocks: u32, h: hints, g: group })
      .map(({ lba, blocks, h, g }) => ({
        cdb: cdbOf(12, codes[12], (c) => {
          c[1] = flags(h.dpo, h.fua) | (h.fuaNv ? 0x02 : 0);
          c.writeUInt32BE(lba, 2);
          c.writeUInt32BE(blocks, 6);
          c[10] = g;
        }),
        expected: { op, lba: BigInt(lba), blocks, dpo: h.dpo, fua: h.fua },
      })),
    [`${name} (16)`]: fc
      .record({ lba: u64, blocks: u32, h: hints, g: group })
      .map(({ lba, blocks, h, g }) => ({
        cdb: cdbOf(16, codes[16], (c) => {
          c[1] = flags(h.dpo, h.fua) | (h.fuaNv ? 0x02 : 0);
          c.writeBigUInt64BE(lba, 2);
          c.writeUInt32BE(blocks, 10);
          c[14] = g;
        }),
        expected: { op, lba, blocks, dpo: h.dpo, fua: h.fua },
      })),
  };
}

function verifyFamily(
  op: 'verify' | 'write-and-verify',
  codes: Record<10 | 12 | 16, number>,
): Record<string, fc.Arbitrary<Case>> {
  const name = op === 'verify' ? 'VERIFY' : 'WRITE AND VERIFY';
  const bytchk = op === 'verify' ? fc.constantFrom(0, 1, 3) : fc.constantFrom(0, 1);
  const common = { dpo: fc.boolean(), bytchk, g: group };
  const expected = (lba: bigint, blocks: number, dpo: boolean, bytchk: number): ScsiCommand =>
    op === 'verify'
      ? { op, lba, blocks, dpo, bytchk: bytchk as 0 | 1 | 3 }
      : { op, lba, blocks, dpo, bytchk: bytchk as 0 | 1 };
  return {
    [`${name} (10)`]: fc.record({ lba: u32, blocks: u16, ...common }).map((f) => ({
      cdb: cdbOf(10, codes[10], (c) => {
        c[1] = (f.dpo ? 0x10 : 0) | (f.bytchk << 1);
        c.writeUInt32BE(f.lba, 2);
        c[6] = f.g;
        c.writeUInt16BE(f.blocks, 7);
      }),
      expected: expected(BigInt(f.lba), f.blocks, f.dpo, f.bytchk),
    })),
    [`${name} (12)`]: fc.record({ lba: u32, blocks: u32, ...common }).map((f) => ({
      cdb: cdbOf(12, codes[12], (c) => {
        c[1] = (f.dpo ? 0x10 : 0) | (f.bytchk << 1);
        c.writeUInt32BE(f.lba, 2);
        c.writeUInt32BE(f.blocks, 6);
        c[10] = f.g;
      }),
      expected: expected(BigInt(f.lba), f.blocks, f.dpo, f.bytchk),
    })),
    [`${name} (16)`]: fc.record({ lba: u64, blocks: u32, ...common }).map((f) => ({
      cdb: cdbOf(16, codes[16], (c) => {
        c[1] = (f.dpo ? 0x10 : 0) | (f.bytchk << 1);
        c.writeBigUInt64BE(f.lba, 2);
        c.writeUInt32BE(f.blocks, 10);
        c[14] = f.g;
      }),
      expected: expected(f.lba, f.blocks, f.dpo, f.bytchk),
    })),
  };
}

// WRITE SAME: ANCHOR only together with UNMAP.
const anchorUnmap = fc.constantFrom([false, false], [false, true], [true, true]);

const pageControls = ['current', 'changeable', 'default', 'saved'] as const;

const PR_IN = ['READ KEYS', 'READ RESERVATION', 'REPORT CAPABILITIES', 'READ FULL STATUS'];
const PR_OUT = [
  'REGISTER',
  'RESERVE',
  'RELEASE',
  'CLEAR',
  'PREEMPT',
  'PREEMPT AND ABORT',
  'REGISTER AND IGNORE EXISTING KEY',
  'REGISTER AND MOVE',
];

export const CASES: Record<string, fc.Arbitrary<Case>> = {
  'TEST UNIT READY': fc.constant({
    cdb: cdbOf(6, 0x00, () => undefined),
    expected: { op: 'test-unit-ready' },
  }),
  'REQUEST SENSE': fc.record({ desc: fc.boolean(), alloc: u8 }).map(({ desc, alloc }) => ({
    cdb: cdbOf(6, 0x03, (c) => {
      c[1] = desc ? 1 : 0;
      c[4] = alloc;
    }),
    expected: { op: 'request-sense', desc, allocationLength: alloc },
  })),
  ...readWrite('read', { 6: 0x08, 10: 0x28, 12: 0xa8, 16: 0x88 }),
  ...readWrite('write', { 6: 0x0a, 10: 0x2a, 12: 0xaa, 16: 0x8a }),
  ...verifyFamily('write-and-verify', { 10: 0x2e, 12: 0xae, 16: 0x8e }),
  ...verifyFamily('verify', { 10: 0x2f, 12: 0xaf, 16: 0x8f }),
  INQUIRY: fc
    .oneof(
      fc.record({ evpd: fc.constant(false), page: fc.constant(0), alloc: u16 }),
      fc.record({ evpd: fc.constant(true), page: u8, alloc: u16 }),
    )
    .map(({ evpd, page, alloc }) => ({
      cdb: cdbOf(6, 0x12, (c) => {
        c[1] = evpd ? 1 : 0;
        c[2] = page;
        c.writeUInt16BE(alloc, 3);
      }),
      expected: { op: 'inquiry', evpd, pageCode: page, allocationLength: alloc },
    })),
  'MODE SELECT (6)': u8.map((length) => ({
    cdb: cdbOf(6, 0x15, (c) => {
      c[1] = 0x10;
      c[4] = length;
    }),
    expected: { op: 'mode-select', cdbLength: 6, parameterListLength: length },
  })),
  'MODE SELECT (10)': u16.map((length) => ({
    cdb: cdbOf(10, 0x55, (c) => {
      c[1] = 0x10;
      c.writeUInt16BE(length, 7);
    }),
    expected: { op: 'mode-select', cdbLength: 10, parameterListLength: length },
  })),
  'RESERVE (6)': fc.constant({ cdb: cdbOf(6, 0x16, () => undefined), expected: { op: 'reserve' } }),
  'RELEASE (6)': fc.constant({ cdb: cdbOf(6, 0x17, () => undefined), expected: { op: 'release' } }),
  'RESERVE (10)': fc.constant({ cdb: cdbOf(10, 0x56, () => undefined), expected: { op: 'reserve' } }),
  'RELEASE (10)': fc.constant({ cdb: cdbOf(10, 0x57, () => undefined), expected: { op: 'release' } }),
  'MODE SENSE (6)': fc
    .record({
      dbd: fc.boolean(),
      pc: fc.integer({ min: 0, max: 3 }),
      page: fc.integer({ min: 0, max: 0x3f }),
      sub: u8,
      alloc: u8,
    })
    .map((f) => ({
      cdb: cdbOf(6, 0x1a, (c) => {
        c[1] = f.dbd ? 0x08 : 0;
        c[2] = (f.pc << 6) | f.page;
        c[3] = f.sub;
        c[4] = f.alloc;
      }),
      expected: {
        op: 'mode-sense',
        cdbLength: 6,
        dbd: f.dbd,
        llbaa: false,
        pageControl: pageControls[f.pc]!,
        pageCode: f.page,
        subpageCode: f.sub,
        allocationLength: f.alloc,
      },
    })),
  'MODE SENSE (10)': fc
    .record({
      llbaa: fc.boolean(),
      dbd: fc.boolean(),
      pc: fc.integer({ min: 0, max: 3 }),
      page: fc.integer({ min: 0, max: 0x3f }),
      sub: u8,
      alloc: u16,
    })
    .map((f) => ({
      cdb: cdbOf(10, 0x5a, (c) => {
        c[1] = (f.llbaa ? 0x10 : 0) | (f.dbd ? 0x08 : 0);
        c[2] = (f.pc << 6) | f.page;
        c[3] = f.sub;
        c.writeUInt16BE(f.alloc, 7);
      }),
      expected: {
        op: 'mode-sense',
        cdbLength: 10,
        dbd: f.dbd,
        llbaa: f.llbaa,
        pageControl: pageControls[f.pc]!,
        pageCode: f.page,
        subpageCode: f.sub,
        allocationLength: f.alloc,
      },
    })),
  'START STOP UNIT': fc
    .record({
      immed: fc.boolean(),
      pcm: fc.integer({ min: 0, max: 15 }),
      pc: fc.integer({ min: 0, max: 15 }),
      noFlush: fc.boolean(),
      loej: fc.boolean(),
      start: fc.boolean(),
    })
    .map((f) => ({
      cdb: cdbOf(6, 0x1b, (c) => {
        c[1] = f.immed ? 1 : 0;
        c[3] = f.pcm;
        c[4] = (f.pc << 4) | (f.noFlush ? 4 : 0) | (f.loej ? 2 : 0) | (f.start ? 1 : 0);
      }),
      expected: {
        op: 'start-stop-unit',
        immed: f.immed,
        powerConditionModifier: f.pcm,
        powerCondition: f.pc,
        noFlush: f.noFlush,
        loej: f.loej,
        start: f.start,
      },
    })),
  'PREVENT ALLOW MEDIUM REMOVAL': fc.integer({ min: 0, max: 3 }).map((prevent) => ({
    cdb: cdbOf(6, 0x1e, (c) => (c[4] = prevent)),
    expected: { op: 'prevent-allow-medium-removal', prevent },
  })),
  'READ CAPACITY (10)': fc
    .oneof(
      fc.record({ pmi: fc.constant(false), lba: fc.constant(0) }),
      fc.record({ pmi: fc.constant(true), lba: u32 }),
    )
    .map(({ pmi, lba }) => ({
      cdb: cdbOf(10, 0x25, (c) => {
        c.writeUInt32BE(lba, 2);
        c[8] = pmi ? 1 : 0;
      }),
      expected: { op: 'read-capacity-10', pmi },
    })),
  'SYNCHRONIZE CACHE (10)': fc.record({ lba: u32, blocks: u16, immed: fc.boolean(), g: group }).map((f) => ({
    cdb: cdbOf(10, 0x35, (c) => {
      c[1] = f.immed ? 0x02 : 0;
      c.writeUInt32BE(f.lba, 2);
      c[6] = f.g;
      c.writeUInt16BE(f.blocks, 7);
    }),
    expected: { op: 'synchronize-cache', lba: BigInt(f.lba), blocks: f.blocks, immed: f.immed },
  })),
  'SYNCHRONIZE CACHE (16)': fc.record({ lba: u64, blocks: u32, immed: fc.boolean(), g: group }).map((f) => ({
    cdb: cdbOf(16, 0x91, (c) => {
      c[1] = f.immed ? 0x02 : 0;
      c.writeBigUInt64BE(f.lba, 2);
      c.writeUInt32BE(f.blocks, 10);
      c[14] = f.g;
    }),
    expected: { op: 'synchronize-cache', lba: f.lba, blocks: f.blocks, immed: f.immed },
  })),
  'WRITE SAME (10)': fc.record({ lba: u32, blocks: u16, au: anchorUnmap, g: group }).map((f) => ({
    cdb: cdbOf(10, 0x41, (c) => {
      c[1] = (f.au[0] ? 0x10 : 0) | (f.au[1] ? 0x08 : 0);
      c.writeUInt32BE(f.lba, 2);
      c[6] = f.g;
      c.writeUInt16BE(f.blocks, 7);
    }),
    expected: {
      op: 'write-same',
      lba: BigInt(f.lba),
      blocks: f.blocks,
      anchor: f.au[0],
      unmap: f.au[1],
      ndob: false,
    },
  })),
  'WRITE SAME (16)': fc
    .record({ lba: u64, blocks: u32, au: anchorUnmap, ndob: fc.boolean(), g: group })
    .map((f) => ({
      cdb: cdbOf(16, 0x93, (c) => {
        c[1] = (f.au[0] ? 0x10 : 0) | (f.au[1] ? 0x08 : 0) | (f.ndob ? 0x01 : 0);
        c.writeBigUInt64BE(f.lba, 2);
        c.writeUInt32BE(f.blocks, 10);
        c[14] = f.g;
      }),
      expected: {
        op: 'write-same',
        lba: f.lba,
        blocks: f.blocks,
        anchor: f.au[0],
        unmap: f.au[1],
        ndob: f.ndob,
      },
    })),
  UNMAP: fc.record({ anchor: fc.boolean(), length: u16, g: group }).map((f) => ({
    cdb: cdbOf(10, 0x42, (c) => {
      c[1] = f.anchor ? 1 : 0;
      c[6] = f.g;
      c.writeUInt16BE(f.length, 7);
    }),
    expected: { op: 'unmap', anchor: f.anchor, parameterListLength: f.length },
  })),
  ...Object.fromEntries(
    PR_IN.map((name, serviceAction) => [
      `PERSISTENT RESERVE IN (${name})`,
      u16.map((alloc) => ({
        cdb: cdbOf(10, 0x5e, (c) => {
          c[1] = serviceAction;
          c.writeUInt16BE(alloc, 7);
        }),
        expected: { op: 'persistent-reserve-in', serviceAction, allocationLength: alloc },
      })),
    ]),
  ),
  ...Object.fromEntries(
    PR_OUT.map((name, serviceAction) => [
      `PERSISTENT RESERVE OUT (${name})`,
      fc
        .record({
          scope: fc.integer({ min: 0, max: 15 }),
          type: fc.integer({ min: 0, max: 15 }),
          length: u32,
        })
        .map((f) => ({
          cdb: cdbOf(10, 0x5f, (c) => {
            c[1] = serviceAction;
            c[2] = (f.scope << 4) | f.type;
            c.writeUInt32BE(f.length, 5);
          }),
          expected: {
            op: 'persistent-reserve-out',
            serviceAction,
            scope: f.scope,
            type: f.type,
            parameterListLength: f.length,
          },
        })),
    ]),
  ),
  'COMPARE AND WRITE': fc
    .record({ lba: u64, blocks: u8, dpo: fc.boolean(), fua: fc.boolean(), g: group })
    .map((f) => ({
      cdb: cdbOf(16, 0x89, (c) => {
        c[1] = flags(f.dpo, f.fua);
        c.writeBigUInt64BE(f.lba, 2);
        c[13] = f.blocks;
        c[14] = f.g;
      }),
      expected: { op: 'compare-and-write', lba: f.lba, blocks: f.blocks, dpo: f.dpo, fua: f.fua },
    })),
  'READ CAPACITY (16)': fc
    .oneof(
      fc.record({ pmi: fc.constant(false), lba: fc.constant(0n) }),
      fc.record({ pmi: fc.constant(true), lba: u64 }),
    )
    .chain(({ pmi, lba }) =>
      u32.map((alloc) => ({
        cdb: cdbOf(16, 0x9e, (c) => {
          c[1] = 0x10;
          c.writeBigUInt64BE(lba, 2);
          c.writeUInt32BE(alloc, 10);
          c[14] = pmi ? 1 : 0;
        }),
        expected: { op: 'read-capacity-16', allocationLength: alloc },
      })),
    ),
  'GET LBA STATUS': fc.record({ lba: u64, alloc: u32 }).map((f) => ({
    cdb: cdbOf(16, 0x9e, (c) => {
      c[1] = 0x12;
      c.writeBigUInt64BE(f.lba, 2);
      c.writeUInt32BE(f.alloc, 10);
    }),
    expected: { op: 'get-lba-status', lba: f.lba, allocationLength: f.alloc },
  })),
  'REPORT LUNS': fc
    .record({
      select: fc.constantFrom(0 as const, 1 as const, 2 as const),
      alloc: fc.integer({ min: 16, max: 0xffff_ffff }),
    })
    .map((f) => ({
      cdb: cdbOf(12, 0xa0, (c) => {
        c[2] = f.select;
        c.writeUInt32BE(f.alloc, 6);
      }),
      expected: { op: 'report-luns', selectReport: f.select, allocationLength: f.alloc },
    })),
  'REPORT SUPPORTED OPERATION CODES': fc
    .record({ rctd: fc.boolean(), options: fc.integer({ min: 0, max: 3 }), opcode: u8, sa: u16, alloc: u32 })
    .map((f) => ({
      cdb: cdbOf(12, 0xa3, (c) => {
        c[1] = 0x0c;
        c[2] = (f.rctd ? 0x80 : 0) | f.options;
        c[3] = f.opcode;
        c.writeUInt16BE(f.sa, 4);
        c.writeUInt32BE(f.alloc, 6);
      }),
      expected: {
        op: 'report-supported-operation-codes',
        rctd: f.rctd,
        reportingOptions: (
          ['all', 'opcode', 'opcode-and-service-action', 'opcode-maybe-service-action'] as const
        )[f.options]!,
        requestedOpcode: f.opcode,
        requestedServiceAction: f.sa,
        allocationLength: f.alloc,
      },
    })),
  'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS': fc
    .record({ repd: fc.boolean(), alloc: fc.integer({ min: 4, max: 0xffff_ffff }) })
    .map((f) => ({
      cdb: cdbOf(12, 0xa3, (c) => {
        c[1] = 0x0d;
        c[2] = f.repd ? 0x80 : 0;
        c.writeUInt32BE(f.alloc, 6);
      }),
      expected: { op: 'report-supported-task-management-functions', repd: f.repd, allocationLength: f.alloc },
    })),
};
