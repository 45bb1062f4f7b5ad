// Serial number arithmetic (RFC 1982) for the 32-bit sequence numbers of iSCSI: CmdSN, ExpCmdSN,
// MaxCmdSN, StatSN, DataSN, R2TSN (RFC 7143 §4.2.2.1 says they all compare this way). Every
// comparison of sequence numbers in Tandem goes through this file, never through `<` on raw values.
//
// Values are unsigned 32-bit integers held in `number` (0 ≤ x < 2^32). Two numbers exactly 2^31
// apart are incomparable (RFC 1982 §3.2): neither is less than nor greater than the other.

const MODULUS = 2 ** 32;
const HALF = 2 ** 31;

/** The largest increment RFC 1982 §3.1 allows in one addition: 2^31 − 1. */
export const SERIAL_MAX_ADD = HALF - 1;

/** True when `x` is an integer in 0..2^32−1. */
export function isSerial(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < MODULUS;
}

/** `a + n` modulo 2^32 (RFC 1982 §3.1); `n` must be an integer in 0..2^31−1. */
export function serialAdd(a: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > SERIAL_MAX_ADD) {
    throw new RangeError(`serial increment ${n} is outside 0..2^31-1`);
  }
  return (a + n) % MODULUS;
}

/** `a + 1` modulo 2^32: the next sequence number. */
export function serialNext(a: number): number {
  return (a + 1) % MODULUS;
}

/** `a − 1` modulo 2^32 (e.g. MaxCmdSN = ExpCmdSN − 1 closes the command window). */
export function serialPrev(a: number): number {
  return (a + MODULUS - 1) % MODULUS;
}

/** The forward distance from `from` to `to`, 0..2^32−1: how many increments take `from` to `to`. */
export function serialDistance(from: number, to: number): number {
  return (to - from + MODULUS) % MODULUS;
}

/** `a < b` in RFC 1982 §3.2 terms. */
export function serialLt(a: number, b: number): boolean {
  const d = serialDistance(a, b);
  return d !== 0 && d < HALF;
}

/** `a > b` in RFC 1982 §3.2 terms. */
export function serialGt(a: number, b: number): boolean {
  return serialLt(b, a);
}

/** `a ≤ b`: equal, or less. */
export function serialLte(a: number, b: number): boolean {
  return a === b || serialLt(a, b);
}

/** `a ≥ b`: equal, or greater. */
export function serialGte(a: number, b: number): boolean {
  return a === b || serialLt(b, a);
}

/**
 * `lo ≤ x ≤ hi` in serial terms, as for a CmdSN against the window ExpCmdSN..MaxCmdSN
 * (RFC 7143 §4.2.2.1). A window whose `hi` is `lo − 1` is empty: nothing is in it.
 */
export function serialInWindow(x: number, lo: number, hi: number): boolean {
  return serialLte(lo, x) && serialLte(x, hi);
}
