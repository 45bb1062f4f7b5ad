// The heartbeat wire format: one signed UDP datagram per beat, request or reply. Pure: no sockets,
// no clocks. Decoding never throws; it returns why a datagram was refused. The HMAC is checked
// before any field is parsed, so nothing unauthenticated reaches the parser.
//
// Layout (big endian), see docs/heartbeat.md for the table:
//   0 magic "TDHB" | 4 version | 5 kind | 6 link | 7 flags | 8 bootId(8) | 16 term u64 | 24 seq u32
//   28 requestId u32 | 32 sentAt f64 | 40 echoSeq u32 | 44 echoSentAt f64 | 52 echoHeldMs f64
//   60 senderLen u8 | 61 sender | bodyLen u16 | body (JSON) | HMAC-SHA256(32) over all before it
import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalid } from '../../lib/errors.js';
import type { FlatObject, FlatValue, LinkName } from './types.js';

export const MAGIC = Buffer.from('TDHB', 'latin1');
export const VERSION = 1;
export const MAC_LENGTH = 32;
export const BOOT_ID_LENGTH = 8;
export const MAX_SENDER_BYTES = 64;
export const MAX_BODY_BYTES = 1024;
const FIXED_HEADER = 61;
export const MIN_DATAGRAM = FIXED_HEADER + 1 + 2 + MAC_LENGTH;
/** 1183 bytes: fits one Ethernet frame, so a beat is never fragmented. */
export const MAX_DATAGRAM = FIXED_HEADER + MAX_SENDER_BYTES + 2 + MAX_BODY_BYTES + MAC_LENGTH;
const MAX_U32 = 0xffffffff;

const FLAG_HAS_ECHO = 0x01;
/** Sent outside the beat schedule (beatNow, requests, replies): not a jitter sample. */
const FLAG_OFF_SCHEDULE = 0x02;
const KNOWN_FLAGS = FLAG_HAS_ECHO | FLAG_OFF_SCHEDULE;

export type DatagramKind = 'beat' | 'request' | 'reply';
const KINDS: readonly DatagramKind[] = ['beat', 'request', 'reply'];
const LINKS: readonly LinkName[] = ['data', 'aux'];

/** The last datagram received from the peer on this link, reflected back for RTT and clock offset. */
export interface Echo {
  readonly seq: number;
  /** The peer's sentAt of that datagram (its wall clock). */
  readonly sentAt: number;
  /** How long we held it: from its arrival to this datagram's sending. */
  readonly heldMs: number;
}

export interface Datagram {
  readonly kind: DatagramKind;
  readonly link: LinkName;
  readonly offSchedule: boolean;
  /** 16 hex digits, random per process start of the sender. */
  readonly bootId: string;
  readonly term: number;
  readonly seq: number;
  /** 0 for beats; matches a reply to its request. */
  readonly requestId: number;
  /** Sender's wall clock, ms since the epoch. */
  readonly sentAt: number;
  readonly echo: Echo | null;
  readonly sender: string;
  /** The advert (beat) or request/reply body. */
  readonly body: FlatObject;
}

export type DecodeErrorReason =
  'truncated' | 'oversized' | 'bad-magic' | 'bad-version' | 'bad-mac' | 'bad-field';

export type DecodeResult =
  | { readonly ok: true; readonly datagram: Datagram }
  | { readonly ok: false; readonly reason: DecodeErrorReason; readonly detail: string };

function isFlatValue(value: unknown): value is FlatValue {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/** The reason `value` is not a flat object, or null when it is one. */
export function flatObjectProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not an object';
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return 'is not a plain object';
  for (const [key, item] of Object.entries(value)) {
    if (!isFlatValue(item)) return `field "${key}" is not a string, finite number, boolean or null`;
  }
  return null;
}

/** The body as it goes on the wire; throws a TandemError for a body that is not flat or too big. */
export function encodeBody(what: string, body: unknown): Buffer {
  const problem = flatObjectProblem(body);
  if (problem !== null) throw invalid('bad-heartbeat-body', `${what} ${problem}`);
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    throw invalid(
      'bad-heartbeat-body',
      `${what} is ${bytes.length} bytes encoded, more than the ${MAX_BODY_BYTES} a heartbeat can carry`,
    );
  }
  return bytes;
}

function checkUint(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw invalid('bad-heartbeat-field', `${what} must be an integer from 0 to ${max}, not ${value}`);
  }
}

function checkTime(what: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw invalid('bad-heartbeat-field', `${what} must be a finite number ≥ 0, not ${value}`);
  }
}

/** Builds the signed datagram. Throws a TandemError for out-of-range fields (a caller bug). */
export function encodeDatagram(datagram: Datagram, secret: Buffer): Buffer {
  const sender = Buffer.from(datagram.sender, 'utf8');
  if (sender.length === 0 || sender.length > MAX_SENDER_BYTES) {
    throw invalid('bad-heartbeat-field', `sender name must be 1-${MAX_SENDER_BYTES} bytes`);
  }
  if (!/^[0-9a-f]{16}$/.test(datagram.bootId)) {
    throw invalid('bad-heartbeat-field', 'bootId must be 16 lower-case hex digits');
  }
  checkUint('term', datagram.term, Number.MAX_SAFE_INTEGER);
  checkUint('seq', datagram.seq, MAX_U32);
  checkUint('requestId', datagram.requestId, MAX_U32);
  checkTime('sentAt', datagram.sentAt);
  if (datagram.echo) {
    checkUint('echo seq', datagram.echo.seq, MAX_U32);
    checkTime('echo sentAt', datagram.echo.sentAt);
    checkTime('echo heldMs', datagram.echo.heldMs);
  }
  const body = encodeBody('heartbeat body', datagram.body);
  const total = FIXED_HEADER + sender.length + 2 + body.length + MAC_LENGTH;
  const out = Buffer.alloc(total);
  MAGIC.copy(out, 0);
  out.writeUInt8(VERSION, 4);
  out.writeUInt8(KINDS.indexOf(datagram.kind), 5);
  out.writeUInt8(LINKS.indexOf(datagram.link), 6);
  out.writeUInt8((datagram.echo ? FLAG_HAS_ECHO : 0) | (datagram.offSchedule ? FLAG_OFF_SCHEDULE : 0), 7);
  out.write(datagram.bootId, 8, 'hex');
  out.writeBigUInt64BE(BigInt(datagram.term), 16);
  out.writeUInt32BE(datagram.seq, 24);
  out.writeUInt32BE(datagram.requestId, 28);
  out.writeDoubleBE(datagram.sentAt, 32);
  out.writeUInt32BE(datagram.echo?.seq ?? 0, 40);
  out.writeDoubleBE(datagram.echo?.sentAt ?? 0, 44);
  out.writeDoubleBE(datagram.echo?.heldMs ?? 0, 52);
  out.writeUInt8(sender.length, 60);
  sender.copy(out, FIXED_HEADER);
  let offset = FIXED_HEADER + sender.length;
  out.writeUInt16BE(body.length, offset);
  offset += 2;
  body.copy(out, offset);
  offset += body.length;
  mac(secret, out.subarray(0, offset)).copy(out, offset);
  return out;
}

function mac(secret: Buffer, signed: Buffer): Buffer {
  return createHmac('sha256', secret).update(signed).digest();
}

function refuse(reason: DecodeErrorReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

/** Verifies and parses one datagram. Never throws. */
export function decodeDatagram(bytes: Buffer, secret: Buffer): DecodeResult {
  if (bytes.length < MIN_DATAGRAM) return refuse('truncated', `${bytes.length} bytes`);
  if (bytes.length > MAX_DATAGRAM) return refuse('oversized', `${bytes.length} bytes`);
  if (!bytes.subarray(0, 4).equals(MAGIC)) return refuse('bad-magic', 'not a Tandem heartbeat');
  const version = bytes.readUInt8(4);
  if (version !== VERSION) return refuse('bad-version', `version ${version}, this build speaks ${VERSION}`);
  const signedEnd = bytes.length - MAC_LENGTH;
  const expected = mac(secret, bytes.subarray(0, signedEnd));
  if (!timingSafeEqual(expected, bytes.subarray(signedEnd))) {
    return refuse('bad-mac', 'signature does not match the shared secret');
  }
  return parseSigned(bytes, signedEnd);
}

function parseSigned(bytes: Buffer, signedEnd: number): DecodeResult {
  const kind = KINDS[bytes.readUInt8(5)];
  if (kind === undefined) return refuse('bad-field', `unknown kind ${bytes.readUInt8(5)}`);
  const link = LINKS[bytes.readUInt8(6)];
  if (link === undefined) return refuse('bad-field', `unknown link ${bytes.readUInt8(6)}`);
  const flags = bytes.readUInt8(7);
  if ((flags & ~KNOWN_FLAGS) !== 0) return refuse('bad-field', `unknown flags 0x${flags.toString(16)}`);
  const term = bytes.readBigUInt64BE(16);
  if (term > BigInt(Number.MAX_SAFE_INTEGER)) return refuse('bad-field', 'term out of range');
  const sentAt = bytes.readDoubleBE(32);
  const echoSentAt = bytes.readDoubleBE(44);
  const echoHeldMs = bytes.readDoubleBE(52);
  for (const [name, value] of [
    ['sentAt', sentAt],
    ['echo sentAt', echoSentAt],
    ['echo heldMs', echoHeldMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) return refuse('bad-field', `${name} is ${value}`);
  }
  const senderLength = bytes.readUInt8(60);
  const bodyLengthAt = FIXED_HEADER + senderLength;
  if (senderLength === 0 || senderLength > MAX_SENDER_BYTES || bodyLengthAt + 2 > signedEnd) {
    return refuse('bad-field', `sender length ${senderLength}`);
  }
  const bodyLength = bytes.readUInt16BE(bodyLengthAt);
  if (bodyLengthAt + 2 + bodyLength !== signedEnd) {
    return refuse('bad-field', `body length ${bodyLength} does not match the datagram size`);
  }
  const sender = decodeUtf8(bytes.subarray(FIXED_HEADER, bodyLengthAt));
  if (sender === null) return refuse('bad-field', 'sender is not UTF-8');
  const bodyText = decodeUtf8(bytes.subarray(bodyLengthAt + 2, signedEnd));
  if (bodyText === null) return refuse('bad-field', 'body is not UTF-8');
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return refuse('bad-field', 'body is not JSON');
  }
  const problem = flatObjectProblem(body);
  if (problem !== null) return refuse('bad-field', `body ${problem}`);
  const hasEcho = (flags & FLAG_HAS_ECHO) !== 0;
  return {
    ok: true,
    datagram: {
      kind,
      link,
      offSchedule: (flags & FLAG_OFF_SCHEDULE) !== 0,
      bootId: bytes.subarray(8, 16).toString('hex'),
      term: Number(term),
      seq: bytes.readUInt32BE(24),
      requestId: bytes.readUInt32BE(28),
      sentAt,
      echo: hasEcho ? { seq: bytes.readUInt32BE(40), sentAt: echoSentAt, heldMs: echoHeldMs } : null,
      sender,
      body: Object.freeze(body as FlatObject),
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}
