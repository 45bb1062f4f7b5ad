// The Basic Header Segment (RFC 7143 §11.2.1): the fixed 48 bytes that open every PDU. Each kind of
// PDU is one layout in LAYOUTS below, written to read like the figures of RFC 7143 §11: a field's
// byte offset and width (or byte and bit mask for flags), named as the RFC names it. One generic
// decoder and encoder walk the layouts, so a field is described once and both directions agree.
//
// Common to every layout: byte 0 carries the opcode in its low six bits (and the I bit, 0x40, on
// initiator PDUs that may be immediate), byte 4 TotalAHSLength (in 4-byte words) and bytes 5-7
// DataSegmentLength (in bytes, without padding). Reserved bits are written as zero and ignored on
// receipt. Decoding never throws: a short buffer or an opcode Tandem does not know is an error value.
import { kindOfOpcode, OPCODES, type PduKind } from './opcodes.js';

export const BHS_LENGTH = 48;

/** The largest DataSegmentLength the 24-bit field can carry. */
export const MAX_DATA_SEGMENT_LENGTH = 0xffffff;

/** The largest TotalAHSLength the 8-bit field can carry, in 4-byte words. */
export const MAX_TOTAL_AHS_WORDS = 0xff;

type Field =
  | { readonly type: 'flag'; readonly byte: number; readonly mask: number }
  | { readonly type: 'bits'; readonly byte: number; readonly mask: number }
  | { readonly type: 'u8' | 'u16' | 'u32' | 'u48'; readonly offset: number }
  | { readonly type: 'u64'; readonly offset: number }
  | { readonly type: 'bytes'; readonly offset: number; readonly length: number };

type FieldValue<F> = F extends { type: 'flag' }
  ? boolean
  : F extends { type: 'u64' }
    ? bigint
    : F extends { type: 'bytes' }
      ? Buffer
      : number;

interface Layout {
  /** Bits always set in byte 0 besides the opcode (the I bit of a Login Request). */
  readonly byte0?: number;
  /** Bits always set in byte 1 (the bit that RFC 7143 draws as "1" in most PDUs). */
  readonly byte1?: number;
  /** Byte offsets of 32-bit fields always 0xffffffff (the ITT of Async Message and Reject). */
  readonly allOnes?: readonly number[];
  readonly fields: Readonly<Record<string, Field>>;
}

const flag = (byte: number, mask: number): { type: 'flag'; byte: number; mask: number } => ({
  type: 'flag',
  byte,
  mask,
});
const bits = (byte: number, mask: number): { type: 'bits'; byte: number; mask: number } => ({
  type: 'bits',
  byte,
  mask,
});
const u8 = (offset: number): { type: 'u8'; offset: number } => ({ type: 'u8', offset });
const u16 = (offset: number): { type: 'u16'; offset: number } => ({ type: 'u16', offset });
const u32 = (offset: number): { type: 'u32'; offset: number } => ({ type: 'u32', offset });
const u48 = (offset: number): { type: 'u48'; offset: number } => ({ type: 'u48', offset });
const u64 = (offset: number): { type: 'u64'; offset: number } => ({ type: 'u64', offset });
const bytes = (offset: number, length: number): { type: 'bytes'; offset: number; length: number } => ({
  type: 'bytes',
  offset,
  length,
});

// Fields that sit at the same place in many PDUs.
const immediate = flag(0, 0x40);
const lun = u64(8);
const initiatorTaskTag = u32(16);
const targetTransferTag = u32(20);
const statSN = u32(24);
const expCmdSN = u32(28);
const maxCmdSN = u32(32);

export const LAYOUTS = {
  // RFC 7143 §11.18
  'nop-out': {
    byte1: 0x80,
    fields: { immediate, lun, initiatorTaskTag, targetTransferTag, cmdSN: u32(24), expStatSN: u32(28) },
  },
  // RFC 7143 §11.3. `attr` is the task attribute (TASK_ATTRIBUTE). Extended CDBs travel in an AHS.
  'scsi-command': {
    fields: {
      immediate,
      final: flag(1, 0x80),
      read: flag(1, 0x40),
      write: flag(1, 0x20),
      attr: bits(1, 0x07),
      lun,
      initiatorTaskTag,
      expectedDataTransferLength: u32(20),
      cmdSN: u32(24),
      expStatSN: u32(28),
      cdb: bytes(32, 16),
    },
  },
  // RFC 7143 §11.5. `function` is a TMF_FUNCTION code.
  'task-management-request': {
    byte1: 0x80,
    fields: {
      immediate,
      function: bits(1, 0x7f),
      lun,
      initiatorTaskTag,
      referencedTaskTag: u32(20),
      cmdSN: u32(24),
      expStatSN: u32(28),
      refCmdSN: u32(32),
      expDataSN: u32(36),
    },
  },
  // RFC 7143 §11.12. The I bit is always 1. `csg`/`nsg` are LOGIN_STAGE codes; `transit` is the T bit.
  'login-request': {
    byte0: 0x40,
    fields: {
      transit: flag(1, 0x80),
      continue: flag(1, 0x40),
      csg: bits(1, 0x0c),
      nsg: bits(1, 0x03),
      versionMax: u8(2),
      versionMin: u8(3),
      isid: u48(8),
      tsih: u16(14),
      initiatorTaskTag,
      cid: u16(20),
      cmdSN: u32(24),
      expStatSN: u32(28),
    },
  },
  // RFC 7143 §11.10
  'text-request': {
    fields: {
      immediate,
      final: flag(1, 0x80),
      continue: flag(1, 0x40),
      lun,
      initiatorTaskTag,
      targetTransferTag,
      cmdSN: u32(24),
      expStatSN: u32(28),
    },
  },
  // RFC 7143 §11.7.1 (SCSI Data-Out)
  'data-out': {
    fields: {
      final: flag(1, 0x80),
      lun,
      initiatorTaskTag,
      targetTransferTag,
      expStatSN: u32(28),
      dataSN: u32(36),
      bufferOffset: u32(40),
    },
  },
  // RFC 7143 §11.14. `reasonCode` is a LOGOUT_REASON.
  'logout-request': {
    byte1: 0x80,
    fields: {
      immediate,
      reasonCode: bits(1, 0x7f),
      initiatorTaskTag,
      cid: u16(20),
      cmdSN: u32(24),
      expStatSN: u32(28),
    },
  },
  // RFC 7143 §11.16. `type` is a SNACK_TYPE; bytes 20-23 are the TTT or, for R-Data SNACK, the SNACK Tag.
  'snack-request': {
    byte1: 0x80,
    fields: {
      type: bits(1, 0x0f),
      lun,
      initiatorTaskTag,
      targetTransferTag,
      expStatSN: u32(28),
      begRun: u32(40),
      runLength: u32(44),
    },
  },
  // RFC 7143 §11.19
  'nop-in': {
    byte1: 0x80,
    fields: { lun, initiatorTaskTag, targetTransferTag, statSN, expCmdSN, maxCmdSN },
  },
  // RFC 7143 §11.4. Flags o, u, O, U of byte 1; `response` is SCSI_RESPONSE, `status` the SCSI status.
  'scsi-response': {
    byte1: 0x80,
    fields: {
      bidiReadResidualOverflow: flag(1, 0x10),
      bidiReadResidualUnderflow: flag(1, 0x08),
      residualOverflow: flag(1, 0x04),
      residualUnderflow: flag(1, 0x02),
      response: u8(2),
      status: u8(3),
      initiatorTaskTag,
      snackTag: u32(20),
      statSN,
      expCmdSN,
      maxCmdSN,
      expDataSN: u32(36),
      bidiReadResidualCount: u32(40),
      residualCount: u32(44),
    },
  },
  // RFC 7143 §11.6. `response` is a TMF_RESPONSE.
  'task-management-response': {
    byte1: 0x80,
    fields: { response: u8(2), initiatorTaskTag, statSN, expCmdSN, maxCmdSN },
  },
  // RFC 7143 §11.13. Status as Status-Class and Status-Detail bytes (see LOGIN_STATUS).
  'login-response': {
    fields: {
      transit: flag(1, 0x80),
      continue: flag(1, 0x40),
      csg: bits(1, 0x0c),
      nsg: bits(1, 0x03),
      versionMax: u8(2),
      versionActive: u8(3),
      isid: u48(8),
      tsih: u16(14),
      initiatorTaskTag,
      statSN,
      expCmdSN,
      maxCmdSN,
      statusClass: u8(36),
      statusDetail: u8(37),
    },
  },
  // RFC 7143 §11.11
  'text-response': {
    fields: {
      final: flag(1, 0x80),
      continue: flag(1, 0x40),
      lun,
      initiatorTaskTag,
      targetTransferTag,
      statSN,
      expCmdSN,
      maxCmdSN,
    },
  },
  // RFC 7143 §11.7.2 (SCSI Data-In). `hasStatus` is the S bit: `status` and `statSN` are valid only then.
  'data-in': {
    fields: {
      final: flag(1, 0x80),
      acknowledge: flag(1, 0x40),
      residualOverflow: flag(1, 0x04),
      residualUnderflow: flag(1, 0x02),
      hasStatus: flag(1, 0x01),
      status: u8(3),
      lun,
      initiatorTaskTag,
      targetTransferTag,
      statSN,
      expCmdSN,
      maxCmdSN,
      dataSN: u32(36),
      bufferOffset: u32(40),
      residualCount: u32(44),
    },
  },
  // RFC 7143 §11.15. `response` is a LOGOUT_RESPONSE.
  'logout-response': {
    byte1: 0x80,
    fields: {
      response: u8(2),
      initiatorTaskTag,
      statSN,
      expCmdSN,
      maxCmdSN,
      time2Wait: u16(40),
      time2Retain: u16(42),
    },
  },
  // RFC 7143 §11.8
  r2t: {
    byte1: 0x80,
    fields: {
      lun,
      initiatorTaskTag,
      targetTransferTag,
      statSN,
      expCmdSN,
      maxCmdSN,
      r2tSN: u32(36),
      bufferOffset: u32(40),
      desiredDataTransferLength: u32(44),
    },
  },
  // RFC 7143 §11.9. The ITT is always 0xffffffff. `asyncEvent` is an ASYNC_EVENT.
  'async-message': {
    byte1: 0x80,
    allOnes: [16],
    fields: {
      lun,
      statSN,
      expCmdSN,
      maxCmdSN,
      asyncEvent: u8(36),
      asyncVCode: u8(37),
      parameter1: u16(38),
      parameter2: u16(40),
      parameter3: u16(42),
    },
  },
  // RFC 7143 §11.17. The ITT is always 0xffffffff; the data segment holds the rejected header.
  // `dataSN` is the DataSN/R2TSN field, used only when rejecting a SNACK.
  reject: {
    byte1: 0x80,
    allOnes: [16],
    fields: { reason: u8(2), statSN, expCmdSN, maxCmdSN, dataSN: u32(36) },
  },
} as const satisfies Record<PduKind, Layout>;

type Simplify<T> = { -readonly [K in keyof T]: T[K] } & {};

type FieldsOf<K extends PduKind> = {
  -readonly [F in keyof (typeof LAYOUTS)[K]['fields']]: FieldValue<(typeof LAYOUTS)[K]['fields'][F]>;
};

/** The two length fields common to every BHS. */
export interface SegmentLengths {
  /** Byte 4: length of all AHS in 4-byte words (RFC 7143 §11.2.1.4). */
  totalAHSLength: number;
  /** Bytes 5-7: length of the data segment in bytes, padding excluded (RFC 7143 §11.2.1.5). */
  dataSegmentLength: number;
}

/** The header fields of one kind of PDU, without the length fields: what a sender fills in. */
export type BhsFieldsOf<K extends PduKind> = Simplify<{ kind: K } & FieldsOf<K>>;

/** A decoded Basic Header Segment of one kind. */
export type BhsOf<K extends PduKind> = Simplify<{ kind: K } & FieldsOf<K> & SegmentLengths>;

/** Any decoded Basic Header Segment: a union discriminated by `kind`. */
export type Bhs = { [K in PduKind]: BhsOf<K> }[PduKind];

/** Header fields of any kind, without lengths. */
export type BhsFields = { [K in PduKind]: BhsFieldsOf<K> }[PduKind];

export type ScsiCommand = BhsOf<'scsi-command'>;
export type ScsiResponse = BhsOf<'scsi-response'>;
export type TaskManagementRequest = BhsOf<'task-management-request'>;
export type TaskManagementResponse = BhsOf<'task-management-response'>;
export type DataOut = BhsOf<'data-out'>;
export type DataIn = BhsOf<'data-in'>;
export type R2T = BhsOf<'r2t'>;
export type AsyncMessage = BhsOf<'async-message'>;
export type TextRequest = BhsOf<'text-request'>;
export type TextResponse = BhsOf<'text-response'>;
export type LoginRequest = BhsOf<'login-request'>;
export type LoginResponse = BhsOf<'login-response'>;
export type LogoutRequest = BhsOf<'logout-request'>;
export type LogoutResponse = BhsOf<'logout-response'>;
export type SnackRequest = BhsOf<'snack-request'>;
export type Reject = BhsOf<'reject'>;
export type NopOut = BhsOf<'nop-out'>;
export type NopIn = BhsOf<'nop-in'>;

export type BhsError =
  | { readonly code: 'short-bhs'; readonly message: string }
  | { readonly code: 'unknown-opcode'; readonly message: string; readonly opcode: number };

export type BhsResult =
  { readonly ok: true; readonly value: Bhs } | { readonly ok: false; readonly error: BhsError };

/** The lowest set bit of a mask, as a shift count. */
function shiftOf(mask: number): number {
  let shift = 0;
  while (((mask >> shift) & 1) === 0 && shift < 8) shift++;
  return shift;
}

/** TotalAHSLength and DataSegmentLength of a raw header, read without decoding the rest. */
export function segmentLengths(header: Uint8Array): SegmentLengths {
  return {
    totalAHSLength: header[4] ?? 0,
    dataSegmentLength: ((header[5] ?? 0) << 16) | ((header[6] ?? 0) << 8) | (header[7] ?? 0),
  };
}

// The layouts compiled once into flat arrays, so the per-PDU loops touch no Object.entries, closures
// or Buffer method bounds checks: this codec runs for every PDU, twice per I/O at least.
const FLAG = 0;
const BITS = 1;
const U8 = 2;
const U16 = 3;
const U32 = 4;
const U48 = 5;
const U64 = 6;
const BYTES = 7;
const TYPE_CODES = { flag: FLAG, bits: BITS, u8: U8, u16: U16, u32: U32, u48: U48, u64: U64, bytes: BYTES };

interface CompiledField {
  readonly name: string;
  readonly type: number;
  /** Byte offset (flag and bits: the byte holding them). */
  readonly at: number;
  readonly mask: number;
  readonly shift: number;
  readonly length: number;
}

interface CompiledLayout {
  readonly byte0: number;
  readonly byte1: number;
  readonly allOnes: readonly number[];
  readonly fields: readonly CompiledField[];
}

function compileLayout(layout: Layout): CompiledLayout {
  return {
    byte0: layout.byte0 ?? 0,
    byte1: layout.byte1 ?? 0,
    allOnes: layout.allOnes ?? [],
    fields: Object.entries(layout.fields).map(([name, field]) => ({
      name,
      type: TYPE_CODES[field.type],
      at: 'byte' in field ? field.byte : field.offset,
      mask: 'mask' in field ? field.mask : 0,
      shift: 'mask' in field ? shiftOf(field.mask) : 0,
      length: 'length' in field ? field.length : 0,
    })),
  };
}

const COMPILED = Object.fromEntries(
  Object.entries(LAYOUTS).map(([kind, layout]) => [kind, compileLayout(layout)]),
) as unknown as Readonly<Record<PduKind, CompiledLayout>>;

/** Decodes the first 48 bytes of `buf` into a typed header, or says why it cannot. */
export function decodeBhs(buf: Buffer): BhsResult {
  if (buf.length < BHS_LENGTH) {
    return {
      ok: false,
      error: { code: 'short-bhs', message: `a BHS is ${BHS_LENGTH} bytes, got ${buf.length}` },
    };
  }
  const opcode = (buf[0] ?? 0) & 0x3f;
  const kind = kindOfOpcode(opcode);
  if (kind === undefined) {
    return {
      ok: false,
      error: {
        code: 'unknown-opcode',
        opcode,
        message: `opcode 0x${opcode.toString(16).padStart(2, '0')} is reserved or vendor-specific`,
      },
    };
  }
  const fast = FAST_DECODERS[kind];
  if (fast) return { ok: true, value: fast(buf) };
  return { ok: true, value: decodeByLayout(buf, kind) };
}

/** The table-driven decoder: every kind, and the reference the fast paths are tested against. */
export function decodeByLayout(buf: Buffer, kind: PduKind): Bhs {
  const out: Record<string, unknown> = {
    kind,
    totalAHSLength: buf[4] ?? 0,
    dataSegmentLength: ((buf[5] ?? 0) << 16) | ((buf[6] ?? 0) << 8) | (buf[7] ?? 0),
  };
  const fields = COMPILED[kind].fields;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as CompiledField;
    out[field.name] = readField(buf, field);
  }
  return out as Bhs;
}

function readField(buf: Buffer, field: CompiledField): boolean | number | bigint | Buffer {
  const at = field.at;
  switch (field.type) {
    case FLAG:
      return ((buf[at] ?? 0) & field.mask) !== 0;
    case BITS:
      return ((buf[at] ?? 0) & field.mask) >> field.shift;
    case U8:
      return buf[at] ?? 0;
    case U16:
      return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
    case U32:
      return readU32(buf, at);
    case U48:
      return (((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0)) * 0x100000000 + readU32(buf, at + 2);
    case U64:
      return buf.readBigUInt64BE(at);
    default:
      return Buffer.from(buf.subarray(at, at + field.length));
  }
}

function readU32(buf: Buffer, at: number): number {
  return (
    (buf[at] ?? 0) * 0x1000000 + (((buf[at + 1] ?? 0) << 16) | ((buf[at + 2] ?? 0) << 8) | (buf[at + 3] ?? 0))
  );
}

/**
 * Encodes a header into 48 new bytes. The length fields come from `lengths` (encodePdu computes them
 * from the segments it is given). Values that do not fit their field are bugs in the caller and
 * throw a RangeError.
 */
export function encodeBhs(header: BhsFields, lengths: SegmentLengths): Buffer {
  const buf = encodeHeaderStart(header.kind, lengths);
  switch (header.kind) {
    case 'data-in':
      encodeDataIn(buf, header);
      return buf;
    case 'scsi-response':
      encodeScsiResponse(buf, header);
      return buf;
    default:
      return encodeFieldsByLayout(buf, header);
  }
}

/** The table-driven encoder: every kind, and the reference the fast paths are tested against. */
export function encodeByLayout(header: BhsFields, lengths: SegmentLengths): Buffer {
  return encodeFieldsByLayout(encodeHeaderStart(header.kind, lengths), header);
}

/** 48 zeroed bytes with the opcode, the fixed bits and the segment lengths in place. */
function encodeHeaderStart(kind: PduKind, lengths: SegmentLengths): Buffer {
  const layout = COMPILED[kind];
  const totalAHSLength = lengths.totalAHSLength;
  const dataSegmentLength = lengths.dataSegmentLength;
  if (
    !(totalAHSLength >= 0 && totalAHSLength <= MAX_TOTAL_AHS_WORDS) ||
    !(dataSegmentLength >= 0 && dataSegmentLength <= MAX_DATA_SEGMENT_LENGTH) ||
    !Number.isInteger(totalAHSLength) ||
    !Number.isInteger(dataSegmentLength)
  ) {
    throw new RangeError(
      `segment lengths ${totalAHSLength} words / ${dataSegmentLength} bytes do not fit the BHS`,
    );
  }
  // From the pool of small buffers (Buffer.alloc would map fresh memory for each header).
  const buf = Buffer.allocUnsafe(BHS_LENGTH).fill(0);
  buf[0] = OPCODES[kind].code | layout.byte0;
  buf[1] = layout.byte1;
  buf[4] = totalAHSLength;
  buf[5] = dataSegmentLength >>> 16;
  buf[6] = (dataSegmentLength >>> 8) & 0xff;
  buf[7] = dataSegmentLength & 0xff;
  for (const offset of layout.allOnes) buf.writeUInt32BE(0xffffffff, offset);
  return buf;
}

function encodeFieldsByLayout(buf: Buffer, header: BhsFields): Buffer {
  const layout = COMPILED[header.kind];
  const values = header as unknown as Readonly<Record<string, unknown>>;
  const fields = layout.fields;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as CompiledField;
    writeField(buf, field, values[field.name]);
  }
  return buf;
}

function writeField(buf: Buffer, field: CompiledField, value: unknown): void {
  const at = field.at;
  switch (field.type) {
    case FLAG:
      if (value === true) buf[at] = (buf[at] ?? 0) | field.mask;
      return;
    case BITS: {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n << field.shift !== ((n << field.shift) & field.mask)) {
        throw new RangeError(`${field.name}=${String(value)} does not fit its bit field`);
      }
      buf[at] = (buf[at] ?? 0) | (n << field.shift);
      return;
    }
    case U8:
      buf.writeUInt8(Number(value), at);
      return;
    case U16:
      buf.writeUInt16BE(Number(value), at);
      return;
    case U32:
      writeU32(buf, value, at, field.name);
      return;
    case U48:
      buf.writeUIntBE(Number(value), at, 6);
      return;
    case U64:
      buf.writeBigUInt64BE(value as bigint, at);
      return;
    default: {
      const src = value as Uint8Array;
      if (src.length > field.length)
        throw new RangeError(`${field.name} is longer than ${field.length} bytes`);
      buf.set(src, at);
      return;
    }
  }
}

/** The hot u32 write, checked like writeUInt32BE but without its generic path. */
function writeU32(buf: Buffer, value: unknown, at: number, name: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 0xffffffff) || value % 1 !== 0) {
    throw new RangeError(`${name}=${String(value)} does not fit 32 bits`);
  }
  buf[at] = value >>> 24;
  buf[at + 1] = (value >>> 16) & 0xff;
  buf[at + 2] = (value >>> 8) & 0xff;
  buf[at + 3] = value & 0xff;
}

// Hand-written codecs for the PDUs of every I/O (SCSI Command and Data-Out in, Data-In and SCSI
// Response out): the generic loops above cost about half a microsecond per header in keyed property
// access, which showed in the 4 KiB profiles. Each must agree with its layout above, field for field:
// test/unit/iscsi/pdu/bhs-fast-paths.test.ts checks them against decodeByLayout/encodeByLayout.

const FAST_DECODERS: Partial<Record<PduKind, (buf: Buffer) => Bhs>> = {
  'scsi-command': (buf): ScsiCommand => {
    const b1 = buf[1] ?? 0;
    return {
      kind: 'scsi-command',
      totalAHSLength: buf[4] ?? 0,
      dataSegmentLength: ((buf[5] ?? 0) << 16) | ((buf[6] ?? 0) << 8) | (buf[7] ?? 0),
      immediate: ((buf[0] ?? 0) & 0x40) !== 0,
      final: (b1 & 0x80) !== 0,
      read: (b1 & 0x40) !== 0,
      write: (b1 & 0x20) !== 0,
      attr: b1 & 0x07,
      lun: buf.readBigUInt64BE(8),
      initiatorTaskTag: readU32(buf, 16),
      expectedDataTransferLength: readU32(buf, 20),
      cmdSN: readU32(buf, 24),
      expStatSN: readU32(buf, 28),
      cdb: Buffer.from(buf.subarray(32, 48)),
    };
  },
  'data-out': (buf): DataOut => ({
    kind: 'data-out',
    totalAHSLength: buf[4] ?? 0,
    dataSegmentLength: ((buf[5] ?? 0) << 16) | ((buf[6] ?? 0) << 8) | (buf[7] ?? 0),
    final: ((buf[1] ?? 0) & 0x80) !== 0,
    lun: buf.readBigUInt64BE(8),
    initiatorTaskTag: readU32(buf, 16),
    targetTransferTag: readU32(buf, 20),
    expStatSN: readU32(buf, 28),
    dataSN: readU32(buf, 36),
    bufferOffset: readU32(buf, 40),
  }),
};

function encodeDataIn(buf: Buffer, header: BhsFieldsOf<'data-in'>): void {
  buf[1] =
    (header.final ? 0x80 : 0) |
    (header.acknowledge ? 0x40 : 0) |
    (header.residualOverflow ? 0x04 : 0) |
    (header.residualUnderflow ? 0x02 : 0) |
    (header.hasStatus ? 0x01 : 0);
  buf.writeUInt8(header.status, 3);
  buf.writeBigUInt64BE(header.lun, 8);
  writeU32(buf, header.initiatorTaskTag, 16, 'initiatorTaskTag');
  writeU32(buf, header.targetTransferTag, 20, 'targetTransferTag');
  writeU32(buf, header.statSN, 24, 'statSN');
  writeU32(buf, header.expCmdSN, 28, 'expCmdSN');
  writeU32(buf, header.maxCmdSN, 32, 'maxCmdSN');
  writeU32(buf, header.dataSN, 36, 'dataSN');
  writeU32(buf, header.bufferOffset, 40, 'bufferOffset');
  writeU32(buf, header.residualCount, 44, 'residualCount');
}

function encodeScsiResponse(buf: Buffer, header: BhsFieldsOf<'scsi-response'>): void {
  buf[1] =
    0x80 |
    (header.bidiReadResidualOverflow ? 0x10 : 0) |
    (header.bidiReadResidualUnderflow ? 0x08 : 0) |
    (header.residualOverflow ? 0x04 : 0) |
    (header.residualUnderflow ? 0x02 : 0);
  buf.writeUInt8(header.response, 2);
  buf.writeUInt8(header.status, 3);
  writeU32(buf, header.initiatorTaskTag, 16, 'initiatorTaskTag');
  writeU32(buf, header.snackTag, 20, 'snackTag');
  writeU32(buf, header.statSN, 24, 'statSN');
  writeU32(buf, header.expCmdSN, 28, 'expCmdSN');
  writeU32(buf, header.maxCmdSN, 32, 'maxCmdSN');
  writeU32(buf, header.expDataSN, 36, 'expDataSN');
  writeU32(buf, header.bidiReadResidualCount, 40, 'bidiReadResidualCount');
  writeU32(buf, header.residualCount, 44, 'residualCount');
}
