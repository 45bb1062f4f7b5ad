// The commands this device server accepts, one row per operation code (and service action), read
// like the standards' CDB tables. A row says the CDB length, which bits the server evaluates (the
// CDB USAGE DATA that REPORT SUPPORTED OPERATION CODES returns, SPC-4 §6.35.3), which bits it accepts
// and ignores (obsolete bits, GROUP NUMBER, vendor-specific CONTROL bits), and how to decode the rest.
// Invariant: every bit not in `usage` or `ignored` is reserved, and decode.ts rejects a CDB that sets
// one with INVALID FIELD IN CDB before the row's `decode` runs; so `decode` only checks field values.
// The CONTROL byte (SAM-5 §5.2) is the last byte: NACA and LINK are not supported (usage 0), bits 7..6
// are vendor specific (ignored).
import type { ScsiCommand, ReportingOptions, PageControl } from './command.js';
import { bit, lba6, mask, u16, u32, u64, u8 } from './cdb-fields.js';
import { fail, invalidFieldInCdb, ok, type ScsiResult } from '../sense/sense-reason.js';

export type CdbLength = 6 | 10 | 12 | 16;

export interface CommandSpec {
  /** The command's name as the standard writes it. */
  readonly name: string;
  readonly opcode: number;
  /** Service action in byte 1 bits 4..0, for opcodes that have them. */
  readonly serviceAction?: number;
  readonly cdbLength: CdbLength;
  /** CDB USAGE DATA: byte 0 is the opcode, the service action sits in its field, other bits are 1
   * where the device server evaluates them. */
  readonly usage: readonly number[];
  /** Bits accepted whatever their value and without effect. */
  readonly ignored: readonly number[];
  /** Decodes a CDB of exactly `cdbLength` bytes whose reserved bits are already known to be zero. */
  readonly decode: (cdb: Buffer) => ScsiResult<ScsiCommand>;
}

const VENDOR_CONTROL_BITS = 0xc0;
const GROUP_NUMBER = 0x1f; // SBC-3: GROUP NUMBER, bits 4..0
const FUA_NV = 0x02; // SBC-3: byte 1 bit 1 is obsolete (was FUA_NV); libiscsi sets it and expects GOOD
const SYNC_NV = 0x04; // SBC-3: SYNCHRONIZE CACHE byte 1 bit 2 is obsolete (was SYNC_NV)

interface Row {
  name: string;
  opcode: number;
  serviceAction?: number;
  cdbLength: CdbLength;
  usage: Readonly<Record<number, number>>;
  usageBytes?: readonly (readonly [number, number])[];
  ignored?: Readonly<Record<number, number>>;
  decode: (cdb: Buffer) => ScsiResult<ScsiCommand>;
}

function row(r: Row): CommandSpec {
  const usage = [...mask(r.cdbLength, r.usage, ...(r.usageBytes ?? []))];
  usage[0] = r.opcode;
  if (r.serviceAction !== undefined) usage[1] = ((usage[1] ?? 0) & 0xe0) | r.serviceAction;
  const ignored = [...mask(r.cdbLength, r.ignored ?? {})];
  ignored[r.cdbLength - 1] = (ignored[r.cdbLength - 1] ?? 0) | VENDOR_CONTROL_BITS;
  const spec: CommandSpec = {
    name: r.name,
    opcode: r.opcode,
    cdbLength: r.cdbLength,
    usage,
    ignored,
    decode: r.decode,
  };
  return r.serviceAction === undefined ? spec : { ...spec, serviceAction: r.serviceAction };
}

const DPO = 0x10;
const FUA = 0x08;

const hints = (cdb: Buffer): { dpo: boolean; fua: boolean } => ({
  dpo: bit(cdb, 1, DPO),
  fua: bit(cdb, 1, FUA),
});

/** BYTCHK, byte 1 bits 2..1 (SBC-3 §5.28 table 95); 10b is reserved, 11b only for VERIFY. */
function byteCheck(cdb: Buffer, allowOneBlock: boolean): ScsiResult<0 | 1 | 3> {
  const value = (u8(cdb, 1) >> 1) & 0x03;
  if (value === 0 || value === 1) return ok(value);
  if (value === 3 && allowOneBlock) return ok(3);
  return fail(invalidFieldInCdb(1, 2));
}

// Reads and writes (SBC-3 §5.7–5.11, §5.30–5.34): RDPROTECT/WRPROTECT (bits 7..5) are reserved for
// us, since PROTECT = 0 in the standard INQUIRY data; SBC-3 wants INVALID FIELD IN CDB when set.
function readWriteRows(op: 'read' | 'write', name: string, codes: Record<CdbLength, number>): CommandSpec[] {
  const decode =
    (at: (cdb: Buffer) => { lba: bigint; blocks: number }) =>
    (cdb: Buffer): ScsiResult<ScsiCommand> =>
      ok({ op, ...at(cdb), ...hints(cdb) });
  return [
    row({
      name: `${name} (6)`,
      opcode: codes[6],
      cdbLength: 6,
      usage: { 1: 0x1f, 2: 0xff, 3: 0xff, 4: 0xff },
      // SBC-3 §5.8: TRANSFER LENGTH 0 means 256 blocks.
      decode: (cdb) => ok({ op, lba: lba6(cdb), blocks: u8(cdb, 4) || 256, dpo: false, fua: false }),
    }),
    row({
      name: `${name} (10)`,
      opcode: codes[10],
      cdbLength: 10,
      usage: { 1: DPO | FUA },
      usageBytes: [
        [2, 5],
        [7, 8],
      ],
      ignored: { 1: FUA_NV, 6: GROUP_NUMBER },
      decode: decode((cdb) => ({ lba: BigInt(u32(cdb, 2)), blocks: u16(cdb, 7) })),
    }),
    row({
      name: `${name} (12)`,
      opcode: codes[12],
      cdbLength: 12,
      usage: { 1: DPO | FUA },
      usageBytes: [[2, 9]],
      ignored: { 1: FUA_NV, 10: GROUP_NUMBER },
      decode: decode((cdb) => ({ lba: BigInt(u32(cdb, 2)), blocks: u32(cdb, 6) })),
    }),
    row({
      name: `${name} (16)`,
      opcode: codes[16],
      cdbLength: 16,
      usage: { 1: DPO | FUA },
      usageBytes: [[2, 13]],
      ignored: { 1: FUA_NV, 14: GROUP_NUMBER },
      decode: decode((cdb) => ({ lba: u64(cdb, 2), blocks: u32(cdb, 10) })),
    }),
  ];
}

/** VERIFY and WRITE AND VERIFY (10/12/16): DPO, BYTCHK; VRPROTECT/WRPROTECT reserved as above. */
function verifyRows(
  op: 'verify' | 'write-and-verify',
  name: string,
  codes: Record<10 | 12 | 16, number>,
): CommandSpec[] {
  const decode =
    (at: (cdb: Buffer) => { lba: bigint; blocks: number }) =>
    (cdb: Buffer): ScsiResult<ScsiCommand> => {
      const check = byteCheck(cdb, op === 'verify');
      if (!check.ok) return check;
      const common = { ...at(cdb), dpo: bit(cdb, 1, DPO) };
      if (op === 'verify') return ok({ op, ...common, bytchk: check.value });
      return ok({ op, ...common, bytchk: check.value === 1 ? 1 : 0 });
    };
  const usage = { 1: DPO | 0x06 };
  return [
    row({
      name: `${name} (10)`,
      opcode: codes[10],
      cdbLength: 10,
      usage,
      usageBytes: [
        [2, 5],
        [7, 8],
      ],
      ignored: { 6: GROUP_NUMBER },
      decode: decode((cdb) => ({ lba: BigInt(u32(cdb, 2)), blocks: u16(cdb, 7) })),
    }),
    row({
      name: `${name} (12)`,
      opcode: codes[12],
      cdbLength: 12,
      usage,
      usageBytes: [[2, 9]],
      ignored: { 10: GROUP_NUMBER },
      decode: decode((cdb) => ({ lba: BigInt(u32(cdb, 2)), blocks: u32(cdb, 6) })),
    }),
    row({
      name: `${name} (16)`,
      opcode: codes[16],
      cdbLength: 16,
      usage,
      usageBytes: [[2, 13]],
      ignored: { 14: GROUP_NUMBER },
      decode: decode((cdb) => ({ lba: u64(cdb, 2), blocks: u32(cdb, 10) })),
    }),
  ];
}

const ANCHOR = 0x10;
const UNMAP = 0x08;
const NDOB = 0x01;

/** WRITE SAME: SBC-3 §5.40 — ANCHOR = 1 with UNMAP = 0 is an invalid field. */
function writeSame(cdb: Buffer, lba: bigint, blocks: number): ScsiResult<ScsiCommand> {
  const anchor = bit(cdb, 1, ANCHOR);
  const unmap = bit(cdb, 1, UNMAP);
  if (anchor && !unmap) return fail(invalidFieldInCdb(1, 4));
  return ok({ op: 'write-same', lba, blocks, anchor, unmap, ndob: cdb.length === 16 && bit(cdb, 1, NDOB) });
}

const PAGE_CONTROL: readonly PageControl[] = ['current', 'changeable', 'default', 'saved'];

function modeSense(cdb: Buffer, cdbLength: 6 | 10): ScsiResult<ScsiCommand> {
  return ok({
    op: 'mode-sense',
    cdbLength,
    dbd: bit(cdb, 1, 0x08),
    llbaa: cdbLength === 10 && bit(cdb, 1, 0x10),
    pageControl: PAGE_CONTROL[u8(cdb, 2) >> 6] ?? 'current',
    pageCode: u8(cdb, 2) & 0x3f,
    subpageCode: u8(cdb, 3),
    allocationLength: cdbLength === 6 ? u8(cdb, 4) : u16(cdb, 7),
  });
}

/** SPC-4 §6.11: we implement only the page format (PF = 1) and no saved pages (SP = 1 is an invalid
 * field in the CDB). PF = 0 with no parameter list transfers nothing and is harmless. */
function modeSelect(cdb: Buffer, cdbLength: 6 | 10): ScsiResult<ScsiCommand> {
  const parameterListLength = cdbLength === 6 ? u8(cdb, 4) : u16(cdb, 7);
  if (bit(cdb, 1, 0x01)) return fail(invalidFieldInCdb(1, 0));
  if (!bit(cdb, 1, 0x10) && parameterListLength > 0) return fail(invalidFieldInCdb(1, 4));
  return ok({ op: 'mode-select', cdbLength, parameterListLength });
}

const REPORTING_OPTIONS: readonly ReportingOptions[] = [
  'all',
  'opcode',
  'opcode-and-service-action',
  'opcode-maybe-service-action',
];

const simple = (command: ScsiCommand) => (): ScsiResult<ScsiCommand> => ok(command);

export const COMMANDS: readonly CommandSpec[] = [
  row({
    name: 'TEST UNIT READY',
    opcode: 0x00,
    cdbLength: 6,
    usage: {},
    decode: simple({ op: 'test-unit-ready' }),
  }),
  row({
    name: 'REQUEST SENSE',
    opcode: 0x03,
    cdbLength: 6,
    usage: { 1: 0x01, 4: 0xff },
    decode: (cdb) => ok({ op: 'request-sense', desc: bit(cdb, 1, 0x01), allocationLength: u8(cdb, 4) }),
  }),
  ...readWriteRows('read', 'READ', { 6: 0x08, 10: 0x28, 12: 0xa8, 16: 0x88 }),
  ...readWriteRows('write', 'WRITE', { 6: 0x0a, 10: 0x2a, 12: 0xaa, 16: 0x8a }),
  // SPC-4 §6.6: EVPD = 0 with a non-zero PAGE CODE is an invalid field; CmdDt (bit 1) is obsolete and
  // treated as reserved, as SPC-3 required when it is not supported.
  row({
    name: 'INQUIRY',
    opcode: 0x12,
    cdbLength: 6,
    usage: { 1: 0x01, 2: 0xff },
    usageBytes: [[3, 4]],
    decode: (cdb) => {
      const evpd = bit(cdb, 1, 0x01);
      const pageCode = u8(cdb, 2);
      if (!evpd && pageCode !== 0) return fail(invalidFieldInCdb(2));
      return ok({ op: 'inquiry', evpd, pageCode, allocationLength: u16(cdb, 3) });
    },
  }),
  row({
    name: 'MODE SELECT (6)',
    opcode: 0x15,
    cdbLength: 6,
    usage: { 1: 0x11, 4: 0xff },
    decode: (cdb) => modeSelect(cdb, 6),
  }),
  row({ name: 'RESERVE (6)', opcode: 0x16, cdbLength: 6, usage: {}, decode: simple({ op: 'reserve' }) }),
  row({ name: 'RELEASE (6)', opcode: 0x17, cdbLength: 6, usage: {}, decode: simple({ op: 'release' }) }),
  row({
    name: 'MODE SENSE (6)',
    opcode: 0x1a,
    cdbLength: 6,
    usage: { 1: 0x08, 2: 0xff, 3: 0xff, 4: 0xff },
    decode: (cdb) => modeSense(cdb, 6),
  }),
  row({
    name: 'START STOP UNIT',
    opcode: 0x1b,
    cdbLength: 6,
    usage: { 1: 0x01, 3: 0x0f, 4: 0xf7 },
    decode: (cdb) =>
      ok({
        op: 'start-stop-unit',
        immed: bit(cdb, 1, 0x01),
        powerConditionModifier: u8(cdb, 3) & 0x0f,
        powerCondition: u8(cdb, 4) >> 4,
        noFlush: bit(cdb, 4, 0x04),
        loej: bit(cdb, 4, 0x02),
        start: bit(cdb, 4, 0x01),
      }),
  }),
  row({
    name: 'PREVENT ALLOW MEDIUM REMOVAL',
    opcode: 0x1e,
    cdbLength: 6,
    usage: { 4: 0x03 },
    decode: (cdb) => ok({ op: 'prevent-allow-medium-removal', prevent: u8(cdb, 4) & 0x03 }),
  }),
  // SBC-3 §5.15: LBA and PMI are obsolete; SBC-2 made LBA ≠ 0 with PMI = 0 an invalid field.
  row({
    name: 'READ CAPACITY (10)',
    opcode: 0x25,
    cdbLength: 10,
    usage: { 8: 0x01 },
    usageBytes: [[2, 5]],
    decode: (cdb) => {
      const pmi = bit(cdb, 8, 0x01);
      if (!pmi && u32(cdb, 2) !== 0) return fail(invalidFieldInCdb(2));
      return ok({ op: 'read-capacity-10', pmi });
    },
  }),
  ...verifyRows('write-and-verify', 'WRITE AND VERIFY', { 10: 0x2e, 12: 0xae, 16: 0x8e }),
  ...verifyRows('verify', 'VERIFY', { 10: 0x2f, 12: 0xaf, 16: 0x8f }),
  row({
    name: 'SYNCHRONIZE CACHE (10)',
    opcode: 0x35,
    cdbLength: 10,
    usage: { 1: 0x02 },
    usageBytes: [
      [2, 5],
      [7, 8],
    ],
    ignored: { 1: SYNC_NV, 6: GROUP_NUMBER },
    decode: (cdb) =>
      ok({
        op: 'synchronize-cache',
        lba: BigInt(u32(cdb, 2)),
        blocks: u16(cdb, 7),
        immed: bit(cdb, 1, 0x02),
      }),
  }),
  row({
    name: 'SYNCHRONIZE CACHE (16)',
    opcode: 0x91,
    cdbLength: 16,
    usage: { 1: 0x02 },
    usageBytes: [[2, 13]],
    ignored: { 1: SYNC_NV, 14: GROUP_NUMBER },
    decode: (cdb) =>
      ok({ op: 'synchronize-cache', lba: u64(cdb, 2), blocks: u32(cdb, 10), immed: bit(cdb, 1, 0x02) }),
  }),
  // WRITE SAME (10): byte 1 bits 2..1 (PBDATA, LBDATA) are obsolete and unsupported, so reserved.
  row({
    name: 'WRITE SAME (10)',
    opcode: 0x41,
    cdbLength: 10,
    usage: { 1: ANCHOR | UNMAP },
    usageBytes: [
      [2, 5],
      [7, 8],
    ],
    ignored: { 6: GROUP_NUMBER },
    decode: (cdb) => writeSame(cdb, BigInt(u32(cdb, 2)), u16(cdb, 7)),
  }),
  row({
    name: 'WRITE SAME (16)',
    opcode: 0x93,
    cdbLength: 16,
    usage: { 1: ANCHOR | UNMAP | NDOB },
    usageBytes: [[2, 13]],
    ignored: { 14: GROUP_NUMBER },
    decode: (cdb) => writeSame(cdb, u64(cdb, 2), u32(cdb, 10)),
  }),
  row({
    name: 'UNMAP',
    opcode: 0x42,
    cdbLength: 10,
    usage: { 1: 0x01 },
    usageBytes: [[7, 8]],
    ignored: { 6: GROUP_NUMBER },
    decode: (cdb) => ok({ op: 'unmap', anchor: bit(cdb, 1, 0x01), parameterListLength: u16(cdb, 7) }),
  }),
  row({
    name: 'MODE SELECT (10)',
    opcode: 0x55,
    cdbLength: 10,
    usage: { 1: 0x11 },
    usageBytes: [[7, 8]],
    decode: (cdb) => modeSelect(cdb, 10),
  }),
  // RESERVE / RELEASE (10), SPC-2 §7.22, §7.24: 3RDPTY and LONGID unsupported (reserved); the
  // PARAMETER LIST LENGTH only matters with them, so it is ignored.
  row({
    name: 'RESERVE (10)',
    opcode: 0x56,
    cdbLength: 10,
    usage: {},
    ignored: { 7: 0xff, 8: 0xff },
    decode: simple({ op: 'reserve' }),
  }),
  row({
    name: 'RELEASE (10)',
    opcode: 0x57,
    cdbLength: 10,
    usage: {},
    ignored: { 7: 0xff, 8: 0xff },
    decode: simple({ op: 'release' }),
  }),
  row({
    name: 'MODE SENSE (10)',
    opcode: 0x5a,
    cdbLength: 10,
    usage: { 1: 0x18, 2: 0xff, 3: 0xff },
    usageBytes: [[7, 8]],
    decode: (cdb) => modeSense(cdb, 10),
  }),
  ...(
    [
      ['READ KEYS', 0x00],
      ['READ RESERVATION', 0x01],
      ['REPORT CAPABILITIES', 0x02],
      ['READ FULL STATUS', 0x03],
    ] as const
  ).map(([name, serviceAction]) =>
    row({
      name: `PERSISTENT RESERVE IN (${name})`,
      opcode: 0x5e,
      serviceAction,
      cdbLength: 10,
      usage: {},
      usageBytes: [[7, 8]],
      decode: (cdb) => ok({ op: 'persistent-reserve-in', serviceAction, allocationLength: u16(cdb, 7) }),
    }),
  ),
  ...(
    [
      ['REGISTER', 0x00],
      ['RESERVE', 0x01],
      ['RELEASE', 0x02],
      ['CLEAR', 0x03],
      ['PREEMPT', 0x04],
      ['PREEMPT AND ABORT', 0x05],
      ['REGISTER AND IGNORE EXISTING KEY', 0x06],
      ['REGISTER AND MOVE', 0x07],
    ] as const
  ).map(([name, serviceAction]) =>
    row({
      name: `PERSISTENT RESERVE OUT (${name})`,
      opcode: 0x5f,
      serviceAction,
      cdbLength: 10,
      usage: { 2: 0xff },
      usageBytes: [[5, 8]],
      decode: (cdb) =>
        ok({
          op: 'persistent-reserve-out',
          serviceAction,
          scope: u8(cdb, 2) >> 4,
          type: u8(cdb, 2) & 0x0f,
          parameterListLength: u32(cdb, 5),
        }),
    }),
  ),
  row({
    name: 'COMPARE AND WRITE',
    opcode: 0x89,
    cdbLength: 16,
    usage: { 1: DPO | FUA, 13: 0xff },
    usageBytes: [[2, 9]],
    ignored: { 1: FUA_NV, 14: GROUP_NUMBER },
    decode: (cdb) => ok({ op: 'compare-and-write', lba: u64(cdb, 2), blocks: u8(cdb, 13), ...hints(cdb) }),
  }),
  row({
    name: 'READ CAPACITY (16)',
    opcode: 0x9e,
    serviceAction: 0x10,
    cdbLength: 16,
    usage: { 14: 0x01 },
    usageBytes: [[2, 13]],
    decode: (cdb) => {
      if (!bit(cdb, 14, 0x01) && u64(cdb, 2) !== 0n) return fail(invalidFieldInCdb(2));
      return ok({ op: 'read-capacity-16', allocationLength: u32(cdb, 10) });
    },
  }),
  row({
    name: 'GET LBA STATUS',
    opcode: 0x9e,
    serviceAction: 0x12,
    cdbLength: 16,
    usage: {},
    usageBytes: [[2, 13]],
    decode: (cdb) => ok({ op: 'get-lba-status', lba: u64(cdb, 2), allocationLength: u32(cdb, 10) }),
  }),
  // SPC-4 §6.33: ALLOCATION LENGTH below 16 is an invalid field; SELECT REPORT above 02h is one we
  // do not support (the administrative-LU codes 10h..12h included).
  row({
    name: 'REPORT LUNS',
    opcode: 0xa0,
    cdbLength: 12,
    usage: { 2: 0xff },
    usageBytes: [[6, 9]],
    decode: (cdb) => {
      const selectReport = u8(cdb, 2);
      const allocationLength = u32(cdb, 6);
      if (selectReport !== 0 && selectReport !== 1 && selectReport !== 2) return fail(invalidFieldInCdb(2));
      if (allocationLength < 16) return fail(invalidFieldInCdb(6));
      return ok({ op: 'report-luns', selectReport, allocationLength });
    },
  }),
  row({
    name: 'REPORT SUPPORTED OPERATION CODES',
    opcode: 0xa3,
    serviceAction: 0x0c,
    cdbLength: 12,
    usage: { 2: 0x87 },
    usageBytes: [[3, 9]],
    decode: (cdb) => {
      const reportingOptions = REPORTING_OPTIONS[u8(cdb, 2) & 0x07];
      if (reportingOptions === undefined) return fail(invalidFieldInCdb(2, 2));
      return ok({
        op: 'report-supported-operation-codes',
        rctd: bit(cdb, 2, 0x80),
        reportingOptions,
        requestedOpcode: u8(cdb, 3),
        requestedServiceAction: u16(cdb, 4),
        allocationLength: u32(cdb, 6),
      });
    },
  }),
  row({
    name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS',
    opcode: 0xa3,
    serviceAction: 0x0d,
    cdbLength: 12,
    usage: { 2: 0x80 },
    usageBytes: [[6, 9]],
    // SPC-4 §6.36: an ALLOCATION LENGTH below 4 is an invalid field.
    decode: (cdb) => {
      const allocationLength = u32(cdb, 6);
      if (allocationLength < 4) return fail(invalidFieldInCdb(6));
      return ok({
        op: 'report-supported-task-management-functions',
        repd: bit(cdb, 2, 0x80),
        allocationLength,
      });
    },
  }),
].sort((a, b) => a.opcode - b.opcode || (a.serviceAction ?? 0) - (b.serviceAction ?? 0));

/** Opcodes whose byte 1 bits 4..0 hold a service action. */
export const SERVICE_ACTION_OPCODES: ReadonlySet<number> = new Set(
  COMMANDS.filter((c) => c.serviceAction !== undefined).map((c) => c.opcode),
);

const BY_KEY = new Map<number, CommandSpec>(
  COMMANDS.map((c) => [(c.opcode << 8) | (c.serviceAction ?? 0), c]),
);

/** The row for an opcode (and service action, for opcodes that have them), if we support it. */
export function findCommand(opcode: number, serviceAction = 0): CommandSpec | undefined {
  const sa = SERVICE_ACTION_OPCODES.has(opcode) ? serviceAction : 0;
  return sa > 0xff ? undefined : BY_KEY.get((opcode << 8) | sa);
}
