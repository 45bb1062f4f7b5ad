// CRC32C (Castagnoli), the iSCSI header and data digest (RFC 7143 §13.1, RFC 3720 Appendix B.4):
// reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF. Pure TypeScript,
// slicing-by-8 over eight 256-entry tables built once at load.
//
// Chaining: the value returned is the finished CRC, and passing it back as `initial` continues it,
// so crc32c(b, crc32c(a)) === crc32c(a ++ b). On the wire a digest goes little-endian
// (RFC 3720 B.4 lists the bytes of CRC 0x8A9136AA as aa 36 91 8a): use writeUInt32LE.

const POLY = 0x82f63b78;

/**
 * TABLES[k * 256 + n]: the CRC of byte n followed by k zero bytes. Held as signed 32-bit integers so
 * the loop below stays in V8's small-integer arithmetic (unsigned values above 2^31 would be doubles).
 */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n] ?? 0;
      t[k * 256 + n] = (prev >>> 8) ^ (t[prev & 0xff] ?? 0);
    }
  }
  return t;
}

/** CRC32C of `data`, continuing from a previous result `initial` (0 for a fresh CRC). */
/* eslint-disable @typescript-eslint/no-non-null-assertion -- every index below is in bounds; a
   `?? 0` per table read costs time in the hottest loop of the data path. */
export function crc32c(data: Uint8Array, initial = 0): number {
  const t = TABLES;
  let crc = ~initial | 0;
  let i = 0;
  const len = data.length;
  const end8 = len - (len % 8);
  while (i < end8) {
    const lo = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const hi = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    crc =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^
      t[512 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[hi >>> 24]!;
    i += 8;
  }
  while (i < len) {
    crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}
/* eslint-enable @typescript-eslint/no-non-null-assertion */
