// Field readers for CDBs (big-endian, SAM-5 §3.5) and the masks that say which bits a command uses.
// A CDB is always read through a Buffer of exactly its length, so offsets past the end cannot happen.

export const bit = (cdb: Buffer, byte: number, mask: number): boolean => ((cdb[byte] ?? 0) & mask) !== 0;

export const u8 = (cdb: Buffer, byte: number): number => cdb[byte] ?? 0;
export const u16 = (cdb: Buffer, byte: number): number => cdb.readUInt16BE(byte);
export const u32 = (cdb: Buffer, byte: number): number => cdb.readUInt32BE(byte);
export const u64 = (cdb: Buffer, byte: number): bigint => cdb.readBigUInt64BE(byte);

/** READ (6) / WRITE (6): 21-bit LBA in bytes 1..3 (SBC-3 §5.8). */
export const lba6 = (cdb: Buffer): bigint => BigInt(((u8(cdb, 1) & 0x1f) << 16) | u16(cdb, 2));

/** A per-byte mask of a CDB of `length` bytes, from a sparse map of byte index → bits; `[from, to]`
 * ranges fill whole bytes with 0xff (multi-byte fields such as LBAs and lengths). */
export function mask(
  length: number,
  bits: Readonly<Record<number, number>>,
  ...fullBytes: readonly (readonly [number, number])[]
): readonly number[] {
  const out = new Array<number>(length).fill(0);
  for (const [from, to] of fullBytes) for (let i = from; i <= to; i++) out[i] = 0xff;
  for (const [index, value] of Object.entries(bits)) out[Number(index)] = value;
  return out;
}
