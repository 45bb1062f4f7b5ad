// The one place sense bytes are made. Fixed format (SPC-4 §4.5.3) is the default, as the control mode
// page's D_SENSE = 0 promises; descriptor format (§4.5.2) is for REQUEST SENSE with DESC = 1 or an
// initiator that set D_SENSE. Both carry the same reason: key, ASC, ASCQ, INFORMATION, field pointer.
import { SENSE_CODES, type FieldPointer, type SenseReason } from './sense-reason.js';

export type SenseFormat = 'fixed' | 'descriptor';

/** Response codes (SPC-4 §4.5.1, table 27). */
const RESPONSE_CODE = {
  fixed: { current: 0x70, deferred: 0x71 },
  descriptor: { current: 0x72, deferred: 0x73 },
} as const;

const FIXED_LENGTH = 18;
const MAX_U32 = 0xffff_ffffn;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

export interface SenseOptions {
  readonly format?: SenseFormat;
  /** A deferred error reports a failure of an earlier, already completed command. */
  readonly deferred?: boolean;
}

export function buildSenseData(reason: SenseReason, options: SenseOptions = {}): Buffer {
  const format = options.format ?? 'fixed';
  const when = options.deferred === true ? 'deferred' : 'current';
  return format === 'fixed'
    ? fixedSense(reason, RESPONSE_CODE.fixed[when])
    : descriptorSense(reason, RESPONSE_CODE.descriptor[when]);
}

/** Sense-key specific bytes for a field pointer (SPC-4 §4.5.2.4.2): SKSV, C/D, BPV, bit pointer, byte. */
function fieldPointerBytes(field: FieldPointer): Buffer {
  const out = Buffer.alloc(3);
  let flags = 0x80; // SKSV
  if (field.inCdb) flags |= 0x40;
  if (field.bit !== undefined) flags |= 0x08 | (field.bit & 0x07);
  out[0] = flags;
  out.writeUInt16BE(field.byte & 0xffff, 1);
  return out;
}

// SPC-4 §4.5.3, table 45: fixed format sense data, 18 bytes.
function fixedSense(reason: SenseReason, responseCode: number): Buffer {
  const spec = SENSE_CODES[reason.code];
  const out = Buffer.alloc(FIXED_LENGTH);
  const info = reason.information;
  // VALID = 1 only when INFORMATION fits its four bytes (§4.5.3: otherwise VALID = 0).
  const infoValid = info !== undefined && info >= 0n && info <= MAX_U32;
  out[0] = (infoValid ? 0x80 : 0x00) | responseCode;
  out[2] = spec.key;
  if (infoValid) out.writeUInt32BE(Number(info), 3);
  out[7] = FIXED_LENGTH - 8; // ADDITIONAL SENSE LENGTH
  out[12] = spec.asc;
  out[13] = spec.ascq;
  if (reason.field !== undefined) fieldPointerBytes(reason.field).copy(out, 15);
  return out;
}

// SPC-4 §4.5.2: descriptor format header (8 bytes) + information descriptor (§4.5.2.2, 12 bytes)
// + sense key specific descriptor (§4.5.2.3, 8 bytes), each only when there is something to say.
function descriptorSense(reason: SenseReason, responseCode: number): Buffer {
  const spec = SENSE_CODES[reason.code];
  const descriptors: Buffer[] = [];
  const info = reason.information;
  if (info !== undefined && info >= 0n && info <= MAX_U64) {
    const d = Buffer.alloc(12);
    d[0] = 0x00; // DESCRIPTOR TYPE: information
    d[1] = 0x0a; // ADDITIONAL LENGTH
    d[2] = 0x80; // VALID
    d.writeBigUInt64BE(info, 4);
    descriptors.push(d);
  }
  if (reason.field !== undefined) {
    const d = Buffer.alloc(8);
    d[0] = 0x02; // DESCRIPTOR TYPE: sense key specific
    d[1] = 0x06;
    fieldPointerBytes(reason.field).copy(d, 4);
    descriptors.push(d);
  }
  const header = Buffer.alloc(8);
  header[0] = responseCode;
  header[1] = spec.key;
  header[2] = spec.asc;
  header[3] = spec.ascq;
  header[7] = descriptors.reduce((n, d) => n + d.length, 0); // ADDITIONAL SENSE LENGTH
  return Buffer.concat([header, ...descriptors]);
}
