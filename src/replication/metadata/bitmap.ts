// The write-intent bitmap in memory: one bit per block, bit i of byte j standing for block 8j + i
// (least significant bit first): the same order as on disk and in exportBits(). Pure.
//
// Speed: the data path sets bits for every write, and a resync scans the whole map, so ranges are
// applied a byte or a 32-bit word at a time and scans skip zero (or all-ones) words. The words are an
// Int32Array view of the same memory; only "all zero" and "all ones" are asked of a word, which
// reads the same in either byte order, so the byte layout never depends on the host.
// Invariant: bits past `bitCount` are zero, so the word scans need no end mask.

/** A run of consecutive bits [first, first + count). */
export interface BitRun {
  readonly first: number;
  readonly count: number;
}

const POPCOUNT8 = buildPopcountTable();

export class Bitmap {
  #bytes: Uint8Array;
  #words: Int32Array;
  #bitCount: number;
  #setCount = 0;

  /** A clear bitmap of `bitCount` bits backed by at least `capacityBytes` bytes. */
  constructor(bitCount: number, capacityBytes = 0) {
    checkCount(bitCount);
    this.#bitCount = bitCount;
    this.#bytes = new Uint8Array(capacityFor(bitCount, capacityBytes));
    this.#words = new Int32Array(this.#bytes.buffer);
  }

  /** A bitmap over `bytes` as read from disk (copied); stray bits past `bitCount` are cleared. */
  static fromBytes(bitCount: number, bytes: Uint8Array, capacityBytes = 0): Bitmap {
    const bitmap = new Bitmap(bitCount, Math.max(capacityBytes, bytes.length));
    const used = usedBytes(bitCount);
    bitmap.#bytes.set(bytes.subarray(0, used));
    const tailBits = bitCount % 8;
    if (tailBits !== 0) {
      const last = used - 1;
      bitmap.#bytes[last] = (bitmap.#bytes[last] ?? 0) & ((1 << tailBits) - 1);
    }
    const words = bitmap.#words;
    let count = 0;
    for (let w = 0; w < words.length; w++) {
      const word = words[w] ?? 0;
      if (word !== 0) count += popcount32(word);
    }
    bitmap.#setCount = count;
    return bitmap;
  }

  get bitCount(): number {
    return this.#bitCount;
  }

  get setCount(): number {
    return this.#setCount;
  }

  /** The backing bytes (at least the capacity asked for); the caller must not change them. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  get(bit: number): boolean {
    const byte = Math.floor(bit / 8);
    return bit >= 0 && bit < this.#bitCount && ((this.#bytes[byte] ?? 0) & (1 << (bit - byte * 8))) !== 0;
  }

  /** Sets bits [first, first + count); returns how many were clear before. */
  setRange(first: number, count: number): number {
    return this.#apply(first, count, true);
  }

  /** Clears bits [first, first + count); returns how many were set before. */
  clearRange(first: number, count: number): number {
    return this.#apply(first, count, false);
  }

  setAll(): number {
    const changed = this.#bitCount - this.#setCount;
    const fullBytes = Math.floor(this.#bitCount / 8);
    this.#bytes.fill(0xff, 0, fullBytes);
    const tailBits = this.#bitCount - fullBytes * 8;
    if (tailBits !== 0) this.#bytes[fullBytes] = (1 << tailBits) - 1;
    this.#setCount = this.#bitCount;
    return changed;
  }

  clearAll(): number {
    const changed = this.#setCount;
    this.#bytes.fill(0);
    this.#setCount = 0;
    return changed;
  }

  /** Whether any bit in [first, first + count) is set. */
  anySet(first: number, count: number): boolean {
    return count > 0 && this.nextSet(first, first + count) >= 0;
  }

  /** The first set bit in [from, end), or -1. */
  nextSet(from: number, end = this.#bitCount): number {
    return this.#scan(from, end, 0);
  }

  /** The first clear bit in [from, end), or `end` when all are set. */
  nextClear(from: number, end = this.#bitCount): number {
    const found = this.#scan(from, end, 0xff);
    return found < 0 ? Math.min(end, this.#bitCount) : found;
  }

  /** Runs of set bits from `from` on, in order, none longer than `maxBits`. Reads the live map. */
  *runs(from = 0, maxBits = Number.POSITIVE_INFINITY): Generator<BitRun> {
    const longest = Math.max(1, Math.floor(maxBits));
    let position = Math.max(0, from);
    for (;;) {
      const start = this.nextSet(position);
      if (start < 0) return;
      const end = this.nextClear(start);
      for (let first = start; first < end; first += longest) {
        yield { first, count: Math.min(longest, end - first) };
      }
      position = end;
    }
  }

  /** Bits [first, first + count) packed from bit 0 of byte 0 (the disk's order); spare bits zero. */
  exportRange(first: number, count: number): Buffer {
    const out = Buffer.alloc(Math.ceil(count / 8));
    const source = this.#bytes;
    const startByte = Math.floor(first / 8);
    const shift = first - startByte * 8;
    for (let j = 0; j < out.length; j++) {
      const low = (source[startByte + j] ?? 0) >>> shift;
      const high = shift === 0 ? 0 : (source[startByte + j + 1] ?? 0) << (8 - shift);
      out[j] = (low | high) & 0xff;
    }
    const spare = out.length * 8 - count;
    if (spare > 0) out[out.length - 1] = (out[out.length - 1] ?? 0) & (0xff >>> spare);
    return out;
  }

  /** ORs packed bits (exportRange's order) in at `first`; bits past the end are ignored. Returns
   * how many bits went from clear to set. */
  mergeRange(first: number, bits: Uint8Array): number {
    let changed = 0;
    for (let j = 0; j < bits.length; j++) {
      let value = bits[j] ?? 0;
      if (value === 0) continue;
      const base = first + 8 * j;
      if (base >= this.#bitCount) break;
      const room = this.#bitCount - base;
      if (room < 8) value &= (1 << room) - 1;
      const byte = Math.floor(base / 8);
      const shift = base - byte * 8;
      changed += this.#orMask(byte, (value << shift) & 0xff);
      if (shift !== 0) changed += this.#orMask(byte + 1, value >>> (8 - shift));
    }
    this.#setCount += changed;
    return changed;
  }

  /** Grows to `bitCount` bits (new ones clear) and at least `capacityBytes` of backing store. */
  grow(bitCount: number, capacityBytes = 0): void {
    checkCount(bitCount);
    if (bitCount < this.#bitCount)
      throw new RangeError(`a bitmap cannot shrink (${this.#bitCount} → ${bitCount})`);
    const capacity = capacityFor(bitCount, Math.max(capacityBytes, this.#bytes.length));
    if (capacity > this.#bytes.length) {
      const bytes = new Uint8Array(capacity);
      bytes.set(this.#bytes);
      this.#bytes = bytes;
      this.#words = new Int32Array(bytes.buffer);
    }
    this.#bitCount = bitCount;
  }

  #apply(first: number, count: number, set: boolean): number {
    if (count <= 0) return 0;
    const end = first + count;
    let byte = Math.floor(first / 8);
    const headBit = first - byte * 8;
    const lastByte = Math.floor((end - 1) / 8);
    let changed: number;
    if (byte === lastByte) {
      changed = this.#applyMask(byte, bitsBetween(headBit, end - byte * 8), set);
    } else {
      changed = 0;
      if (headBit !== 0) {
        changed += this.#applyMask(byte, bitsBetween(headBit, 8), set);
        byte++;
      }
      const tailBits = end - lastByte * 8;
      changed += this.#applyWholeBytes(byte, tailBits === 8 ? lastByte + 1 : lastByte, set);
      if (tailBits !== 8) changed += this.#applyMask(lastByte, bitsBetween(0, tailBits), set);
    }
    this.#setCount += set ? changed : -changed;
    return changed;
  }

  /** Sets or clears the `mask` bits of one byte; returns how many changed. */
  #applyMask(byte: number, mask: number, set: boolean): number {
    const old = this.#bytes[byte] ?? 0;
    const next = set ? old | mask : old & ~mask;
    this.#bytes[byte] = next;
    return POPCOUNT8[old ^ next] ?? 0;
  }

  #orMask(byte: number, mask: number): number {
    return mask === 0 ? 0 : this.#applyMask(byte, mask, true);
  }

  /** Fills bytes [from, to) with ones or zeroes, a word at a time where aligned. */
  #applyWholeBytes(from: number, to: number, set: boolean): number {
    const bytes = this.#bytes;
    const fill = set ? 0xff : 0;
    let changed = 0;
    let i = from;
    while (i < to && (i & 3) !== 0) {
      changed += POPCOUNT8[(bytes[i] ?? 0) ^ fill] ?? 0;
      bytes[i++] = fill;
    }
    const words = this.#words;
    const wordFill = set ? -1 : 0;
    const wordStart = i >>> 2;
    const wordEnd = Math.floor(to / 4);
    for (let w = wordStart; w < wordEnd; w++) {
      const old = words[w] ?? 0;
      if (old !== wordFill) changed += popcount32(old ^ wordFill);
    }
    if (wordEnd > wordStart) words.fill(wordFill, wordStart, wordEnd);
    i = Math.max(i, wordEnd * 4);
    while (i < to) {
      changed += POPCOUNT8[(bytes[i] ?? 0) ^ fill] ?? 0;
      bytes[i++] = fill;
    }
    return changed;
  }

  /**
   * The first bit in [from, end) that differs from `skip` (0: find a set bit; 0xff: find a clear
   * one), or -1. Skips whole words equal to `skip` repeated.
   */
  #scan(from: number, end: number, skip: number): number {
    const limit = Math.min(end, this.#bitCount);
    const start = Math.max(0, from);
    if (start >= limit) return -1;
    const bytes = this.#bytes;
    const words = this.#words;
    const wordSkip = skip === 0 ? 0 : -1;
    const limitByte = usedBytes(limit);
    const limitWord = Math.floor(limitByte / 4);
    let i = Math.floor(start / 8);
    let found = ((bytes[i] ?? 0) ^ skip) & (0xff << (start - i * 8)) & 0xff;
    while (found === 0) {
      i++;
      if ((i & 3) === 0) {
        let w = i >>> 2;
        while (w < limitWord && words[w] === wordSkip) w++;
        i = Math.max(i, w * 4);
      }
      if (i >= limitByte) return -1;
      found = ((bytes[i] ?? 0) ^ skip) & 0xff;
    }
    const bit = i * 8 + (31 - Math.clz32(found & -found));
    return bit < limit ? bit : -1;
  }
}

function checkCount(bitCount: number): void {
  if (!Number.isSafeInteger(bitCount) || bitCount < 0) throw new RangeError(`bad bit count ${bitCount}`);
}

function usedBytes(bitCount: number): number {
  return Math.ceil(bitCount / 8);
}

/** Whole 8-byte units, so the word view always covers every used byte. */
function capacityFor(bitCount: number, capacityBytes: number): number {
  return Math.ceil(Math.max(usedBytes(bitCount), capacityBytes) / 8) * 8;
}

/** Mask of bits [from, to) within one byte, 0 ≤ from < to ≤ 8. */
function bitsBetween(from: number, to: number): number {
  return ((1 << to) - 1) & ~((1 << from) - 1) & 0xff;
}

function popcount32(word: number): number {
  // `| 0` keeps the intermediate a 32-bit integer (it would otherwise become a double for negative words)
  let v = (word - ((word >>> 1) & 0x55555555)) | 0;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function buildPopcountTable(): Uint8Array {
  const table = new Uint8Array(256);
  for (let n = 1; n < 256; n++) table[n] = (n & 1) + (table[n >> 1] ?? 0);
  return table;
}
