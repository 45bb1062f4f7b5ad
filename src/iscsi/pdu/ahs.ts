// Additional Header Segments (RFC 7143 §11.2.2): after the BHS, TotalAHSLength words of AHS, each
//   bytes 0-1 AHSLength (bytes of AHS-Specific that count, from byte 3 on, padding excluded)
//   byte  2   AHSType
//   byte  3.. AHS-Specific, padded to a multiple of 4 bytes
// Two types exist: the Extended CDB (type 1: a reserved byte, then the CDB bytes past the first 16)
// and the Bidirectional Read Expected Data Transfer Length (type 2: a reserved byte, then 4 bytes).

export const AHS_TYPE = {
  extendedCdb: 1,
  bidirectionalReadExpectedDataTransferLength: 2,
} as const;

export interface Ahs {
  /** AHSType; bits 7-6 of it are 0 for the types defined by RFC 7143. */
  type: number;
  /** AHS-Specific bytes, AHSLength of them (so including the leading reserved byte). */
  specific: Buffer;
}

export interface AhsError {
  readonly code: 'bad-ahs';
  readonly message: string;
}

export type AhsResult =
  { readonly ok: true; readonly value: Ahs[] } | { readonly ok: false; readonly error: AhsError };

const pad4 = (n: number): number => (n + 3) & ~3;

/** Splits the AHS bytes of a PDU into segments, checking that their lengths tile the space exactly. */
export function parseAhs(buf: Buffer): AhsResult {
  const out: Ahs[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 4) {
      return {
        ok: false,
        error: { code: 'bad-ahs', message: `${buf.length - at} stray bytes after the last AHS` },
      };
    }
    const length = buf.readUInt16BE(at);
    const size = pad4(3 + length);
    if (length === 0 || at + size > buf.length) {
      return {
        ok: false,
        error: {
          code: 'bad-ahs',
          message: `an AHS of length ${length} at byte ${at} does not fit the AHS space`,
        },
      };
    }
    out.push({ type: buf.readUInt8(at + 2), specific: Buffer.from(buf.subarray(at + 3, at + 3 + length)) });
    at += size;
  }
  return { ok: true, value: out };
}

/** Lays out AHS segments with their padding; the result is a multiple of 4 bytes long. */
export function encodeAhs(segments: readonly Ahs[]): Buffer {
  const size = segments.reduce((sum, s) => sum + pad4(3 + s.specific.length), 0);
  const buf = Buffer.alloc(size);
  let at = 0;
  for (const s of segments) {
    buf.writeUInt16BE(s.specific.length, at);
    buf.writeUInt8(s.type, at + 2);
    buf.set(s.specific, at + 3);
    at += pad4(3 + s.specific.length);
  }
  return buf;
}

/** The Extended CDB AHS for the bytes of a CDB past its first 16. */
export function extendedCdbAhs(rest: Uint8Array): Ahs {
  const specific = Buffer.alloc(1 + rest.length);
  specific.set(rest, 1);
  return { type: AHS_TYPE.extendedCdb, specific };
}

/** The full CDB of a SCSI Command: the 16 bytes of the BHS, plus the Extended CDB AHS if present. */
export function fullCdb(bhsCdb: Buffer, segments: readonly Ahs[]): Buffer {
  const ext = segments.find((s) => s.type === AHS_TYPE.extendedCdb);
  return ext ? Buffer.concat([bhsCdb, ext.specific.subarray(1)]) : bhsCdb;
}

/** The Bidirectional Read Expected Data Transfer Length AHS. */
export function bidiReadLengthAhs(length: number): Ahs {
  const specific = Buffer.alloc(5);
  specific.writeUInt32BE(length, 1);
  return { type: AHS_TYPE.bidirectionalReadExpectedDataTransferLength, specific };
}

/** The Bidirectional Read Expected Data Transfer Length, if an AHS carries it. */
export function bidiReadLength(segments: readonly Ahs[]): number | undefined {
  const ahs = segments.find((s) => s.type === AHS_TYPE.bidirectionalReadExpectedDataTransferLength);
  return ahs && ahs.specific.length >= 5 ? ahs.specific.readUInt32BE(1) : undefined;
}
