// PERSISTENT RESERVE OUT parameter lists (SPC-4 §6.16.3–6.16.4) parsed into PrOutParameters, and
// PERSISTENT RESERVE IN parameter data (SPC-4 §6.15) built from a PrState. Pure functions: bytes in,
// values out, never throwing on malformed input.
import {
  PrInServiceAction,
  PrOutServiceAction,
  type PersistentReserveIn,
  type PersistentReserveOut,
} from '../cdb/command.js';
import { truncateToAllocation } from '../spc/logical-unit.js';
import {
  fail,
  invalidFieldInCdb,
  invalidFieldInParameterList,
  ok,
  senseReason,
  type ScsiResult,
} from '../sense/sense-reason.js';
import type { PrOutParameters } from './persistent-reservations.js';
import { isAllRegistrants, sameRegistrant, type PrState, type Registrant } from './pr-state.js';

const BASIC_LENGTH = 24;
const MOVE_HEADER = 24;
/** PROTOCOL IDENTIFIER for iSCSI (SPC-4 §7.6.1). */
const PROTOCOL_ISCSI = 0x5;

export function parsePrOutParameters(
  command: PersistentReserveOut,
  dataOut: Buffer | undefined,
): ScsiResult<PrOutParameters> {
  const length = command.parameterListLength;
  const data = (dataOut ?? Buffer.alloc(0)).subarray(0, length);
  if (data.length < length) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  if (command.serviceAction === PrOutServiceAction.REGISTER_AND_MOVE) return parseMove(data);
  // SPC-4 §6.16.3: with SPEC_I_PT = 0 the list is exactly 24 bytes.
  if (length !== BASIC_LENGTH) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  const flags = data[20] ?? 0;
  return ok({
    reservationKey: data.readBigUInt64BE(0),
    serviceActionKey: data.readBigUInt64BE(8),
    specIPt: (flags & 0x08) !== 0,
    allTgPt: (flags & 0x04) !== 0,
    aptpl: (flags & 0x01) !== 0,
  });
}

/** SPC-4 §6.16.4, table 190: keys, UNREG and APTPL in byte 17, RELATIVE TARGET PORT IDENTIFIER,
 * TRANSPORTID PARAMETER DATA LENGTH, then the TransportID of the I_T nexus to move to. */
function parseMove(data: Buffer): ScsiResult<PrOutParameters> {
  if (data.length < MOVE_HEADER) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  const transportIdLength = data.readUInt32BE(20);
  if (MOVE_HEADER + transportIdLength > data.length) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  const initiator = parseIscsiTransportId(data.subarray(MOVE_HEADER, MOVE_HEADER + transportIdLength));
  if (initiator === undefined) return fail(invalidFieldInParameterList(MOVE_HEADER));
  const flags = data[17] ?? 0;
  return ok({
    reservationKey: data.readBigUInt64BE(0),
    serviceActionKey: data.readBigUInt64BE(8),
    specIPt: false,
    allTgPt: false,
    aptpl: (flags & 0x01) !== 0,
    move: { unreg: (flags & 0x02) !== 0, relativeTargetPort: data.readUInt16BE(18), initiator },
  });
}

/** iSCSI TransportID (SPC-4 §7.6.4.6): format 00b carries an iSCSI name, 01b an initiator port
 * ("name,i,0x<ISID>"); both null-terminated UTF-8 after a 4-byte header. */
export function parseIscsiTransportId(id: Buffer): string | undefined {
  if (id.length < 4) return undefined;
  const first = id[0] ?? 0;
  const format = first >> 6;
  if ((first & 0x0f) !== PROTOCOL_ISCSI || format > 1) return undefined;
  const length = id.readUInt16BE(2);
  if (4 + length > id.length) return undefined;
  const body = id.subarray(4, 4 + length);
  const end = body.indexOf(0);
  const text = body.subarray(0, end < 0 ? body.length : end).toString('utf8');
  if (text.length === 0) return undefined;
  // Format 01b: "<name>,i,0x<ISID>", which is how ItNexus spells an initiator port.
  if (format === 1) {
    const match = /^(.*),i,0x([0-9a-fA-F]{12})$/.exec(text);
    return match === null ? undefined : `${match[1] ?? ''},i,0x${(match[2] ?? '').toLowerCase()}`;
  }
  return text;
}

/** A registrant's TransportID: format 01b for an initiator port, 00b for a name alone; null-padded
 * to a multiple of four bytes (SPC-4 §7.6.4.6, at least 20 bytes). */
export function iscsiTransportId(initiator: string): Buffer {
  const port = initiator.includes(',i,0x');
  const text = Buffer.from(initiator, 'utf8');
  const length = Math.max(16, (text.length + 1 + 3) & ~3);
  const out = Buffer.alloc(4 + length);
  out[0] = (port ? 0x40 : 0x00) | PROTOCOL_ISCSI;
  out.writeUInt16BE(length, 2);
  text.copy(out, 4);
  return out;
}

function header(state: PrState, additional: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32BE(state.generation >>> 0, 0);
  out.writeUInt32BE(additional, 4);
  return out;
}

/** READ KEYS (SPC-4 §6.15.2): PRGENERATION, ADDITIONAL LENGTH, one key per registration. */
function readKeys(state: PrState): Buffer {
  const keys = state.registrations.map((r) => {
    const key = Buffer.alloc(8);
    key.writeBigUInt64BE(r.key);
    return key;
  });
  return Buffer.concat([header(state, 8 * keys.length), ...keys]);
}

/** READ RESERVATION (SPC-4 §6.15.3): the reservation key is 0 for all-registrants types. */
function readReservation(state: PrState): Buffer {
  const reservation = state.reservation;
  if (reservation === undefined) return header(state, 0);
  const body = Buffer.alloc(16);
  if (!isAllRegistrants(reservation.type)) {
    const holder = state.registrations.find((r) => sameRegistrant(r, reservation.holder));
    body.writeBigUInt64BE(holder?.key ?? 0n, 0);
  }
  body[13] = reservation.type; // SCOPE 0h (LU_SCOPE) | TYPE
  return Buffer.concat([header(state, 16), body]);
}

/** PR TYPE MASK (SPC-4 §6.15.4, table 180): WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX; EX_AC_AR. */
const TYPE_MASK = [0x80 | 0x40 | 0x20 | 0x08 | 0x02, 0x01] as const;

/** REPORT CAPABILITIES (SPC-4 §6.15.4): CRH 1 (SPC-2 RESERVE/RELEASE conflict while registered),
 * SIP_C 0, ATP_C 1, PTPL_C 1; TMV 1 with ALLOW COMMANDS 000b; PTPL_A the current APTPL. */
function reportCapabilities(state: PrState): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16BE(8, 0);
  out[2] = 0x10 | 0x04 | 0x01;
  out[3] = 0x80 | (state.aptpl ? 0x01 : 0x00);
  out[4] = TYPE_MASK[0];
  out[5] = TYPE_MASK[1];
  return out;
}

/** READ FULL STATUS (SPC-4 §6.15.5): one full status descriptor per registration. */
function readFullStatus(state: PrState): Buffer {
  const descriptors = state.registrations.map((r) => {
    const transportId = iscsiTransportId(r.initiatorPort);
    const d = Buffer.alloc(24);
    d.writeBigUInt64BE(r.key, 0);
    const holder = holds(state, r);
    d[12] = (r.targetPort === undefined ? 0x02 : 0) | (holder ? 0x01 : 0); // ALL_TG_PT, R_HOLDER
    if (holder && state.reservation !== undefined) d[13] = state.reservation.type;
    d.writeUInt16BE(r.relativeTargetPort & 0xffff, 18);
    d.writeUInt32BE(transportId.length, 20);
    return Buffer.concat([d, transportId]);
  });
  const body = Buffer.concat(descriptors);
  return Buffer.concat([header(state, body.length), body]);
}

function holds(state: PrState, r: Registrant): boolean {
  const reservation = state.reservation;
  if (reservation === undefined) return false;
  return isAllRegistrants(reservation.type) || sameRegistrant(reservation.holder, r);
}

export function respondPersistentReserveIn(state: PrState, command: PersistentReserveIn): ScsiResult<Buffer> {
  let data: Buffer;
  switch (command.serviceAction) {
    case PrInServiceAction.READ_KEYS:
      data = readKeys(state);
      break;
    case PrInServiceAction.READ_RESERVATION:
      data = readReservation(state);
      break;
    case PrInServiceAction.REPORT_CAPABILITIES:
      data = reportCapabilities(state);
      break;
    case PrInServiceAction.READ_FULL_STATUS:
      data = readFullStatus(state);
      break;
    default:
      return fail(invalidFieldInCdb(1, 4));
  }
  return ok(truncateToAllocation(data, command.allocationLength));
}
