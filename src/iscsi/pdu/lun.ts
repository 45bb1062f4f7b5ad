// The 8-byte LUN field of a BHS (RFC 7143 §11.3.4 defers its format to SAM). The codec carries it
// as a bigint, the 64 bits as they are on the wire; these helpers convert the two single-level
// forms Tandem uses (SAM-5 §4.7.7): peripheral device addressing for LUNs 0..255 (byte 0 = 0,
// byte 1 = LUN), and flat space addressing for 256..16383 (byte 0 = 0x40 | LUN >> 8).

export const MAX_FLAT_LUN = 0x3fff;

/** The LUN field for a logical unit number 0..16383. */
export function lunField(lun: number): bigint {
  if (!Number.isInteger(lun) || lun < 0 || lun > MAX_FLAT_LUN) {
    throw new RangeError(`LUN ${lun} is outside 0..${MAX_FLAT_LUN}`);
  }
  const firstLevel = lun < 256 ? lun : 0x4000 | lun;
  return BigInt(firstLevel) << 48n;
}

/**
 * The logical unit number in a LUN field, or undefined when the field is not a single-level
 * peripheral (bus 0) or flat space address: such a LUN names no logical unit of Tandem.
 */
export function lunNumber(field: bigint): number | undefined {
  if ((field & 0xffff_ffff_ffffn) !== 0n) return undefined;
  const firstLevel = Number(field >> 48n);
  const method = firstLevel >> 14;
  if (method === 0) return firstLevel >> 8 === 0 ? firstLevel : undefined;
  if (method === 1) return firstLevel & MAX_FLAT_LUN;
  return undefined;
}
