import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bitmap, type BitRun } from '../../../../src/replication/metadata/bitmap.js';

/** The obvious model: one boolean per bit. */
class NaiveBitmap {
  readonly bits: boolean[];
  constructor(count: number) {
    this.bits = new Array<boolean>(count).fill(false);
  }
  fill(first: number, count: number, value: boolean): void {
    for (let i = first; i < first + count; i++) this.bits[i] = value;
  }
  runs(from: number, maxBits: number): BitRun[] {
    const runs: BitRun[] = [];
    let i = from;
    while (i < this.bits.length) {
      if (!this.bits[i]) {
        i++;
        continue;
      }
      let end = i;
      while (end < this.bits.length && this.bits[end]) end++;
      for (let first = i; first < end; first += maxBits) {
        runs.push({ first, count: Math.min(maxBits, end - first) });
      }
      i = end;
    }
    return runs;
  }
}

type Op =
  | { kind: 'set' | 'clear'; first: number; count: number }
  | { kind: 'setAll' | 'clearAll' }
  | { kind: 'merge'; first: number; bytes: Uint8Array };

function opArbitrary(bitCount: number): fc.Arbitrary<Op> {
  const range = fc
    .tuple(fc.nat({ max: bitCount - 1 }), fc.nat({ max: bitCount }))
    .map(([first, count]) => ({ first, count: Math.min(count, bitCount - first) }));
  return fc.oneof(
    { weight: 5, arbitrary: range.map((r) => ({ kind: 'set' as const, ...r })) },
    { weight: 4, arbitrary: range.map((r) => ({ kind: 'clear' as const, ...r })) },
    { weight: 1, arbitrary: fc.constantFrom({ kind: 'setAll' as const }, { kind: 'clearAll' as const }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat({ max: bitCount - 1 }), fc.uint8Array({ maxLength: 40 }))
        .map(([first, bytes]) => ({ kind: 'merge' as const, first, bytes })),
    },
  );
}

function applyBoth(bitmap: Bitmap, model: NaiveBitmap, op: Op): void {
  const before = model.bits.filter(Boolean).length;
  let changed: number;
  switch (op.kind) {
    case 'set':
      changed = bitmap.setRange(op.first, op.count);
      model.fill(op.first, op.count, true);
      break;
    case 'clear':
      changed = bitmap.clearRange(op.first, op.count);
      model.fill(op.first, op.count, false);
      break;
    case 'setAll':
      changed = bitmap.setAll();
      model.fill(0, model.bits.length, true);
      break;
    case 'clearAll':
      changed = bitmap.clearAll();
      model.fill(0, model.bits.length, false);
      break;
    case 'merge':
      changed = bitmap.mergeRange(op.first, op.bytes);
      op.bytes.forEach((byte, j) => {
        for (let i = 0; i < 8; i++) {
          const bit = op.first + 8 * j + i;
          if ((byte >> i) & 1 && bit < model.bits.length) model.bits[bit] = true;
        }
      });
      break;
  }
  const after = model.bits.filter(Boolean).length;
  assert.equal(changed, Math.abs(after - before), `changed count of ${op.kind}`);
}

const bitCountArbitrary = fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 81, max: 3000 }));

describe('Bitmap', () => {
  it('agrees with a naive model on bits, counts, runs and scans after random operations', () => {
    fc.assert(
      fc.property(
        bitCountArbitrary.chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.array(opArbitrary(n), { maxLength: 25 }),
            fc.nat({ max: n }),
            fc.integer({ min: 1, max: n + 1 }),
          ),
        ),
        ([bitCount, ops, from, maxBits]) => {
          const bitmap = new Bitmap(bitCount);
          const model = new NaiveBitmap(bitCount);
          for (const op of ops) applyBoth(bitmap, model, op);
          assert.equal(bitmap.setCount, model.bits.filter(Boolean).length);
          for (let i = 0; i < bitCount; i++) assert.equal(bitmap.get(i), model.bits[i], `bit ${i}`);
          assert.deepEqual([...bitmap.runs(from, maxBits)], model.runs(from, maxBits));
          const firstSet = model.bits.indexOf(true, from);
          assert.equal(bitmap.nextSet(from), firstSet);
          const firstClear = model.bits.indexOf(false, from);
          assert.equal(bitmap.nextClear(from), firstClear < 0 ? bitCount : firstClear);
          const end = Math.min(bitCount, from + maxBits);
          const setInWindow = model.bits.slice(from, end).includes(true);
          assert.equal(bitmap.anySet(from, end - from), setInWindow);
          assert.equal(bitmap.nextSet(from, end), setInWindow ? firstSet : -1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds isolated bits across long runs of clear and of set words', () => {
    const bitmap = new Bitmap(1_000_003);
    bitmap.setRange(5, 1);
    bitmap.setRange(700_001, 3);
    bitmap.setRange(1_000_002, 1);
    assert.deepEqual(
      [...bitmap.runs()],
      [
        { first: 5, count: 1 },
        { first: 700_001, count: 3 },
        { first: 1_000_002, count: 1 },
      ],
    );
    bitmap.setAll();
    bitmap.clearRange(999_999, 1);
    assert.equal(bitmap.nextClear(6), 999_999);
    assert.equal(bitmap.nextClear(1_000_000), 1_000_003);
    assert.equal(bitmap.setCount, 1_000_002);
  });

  it('exports bits from bit 0 of byte 0 and merges them back anywhere (round trip)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: 40 })), { maxLength: 10 }),
            fc.nat({ max: n }).chain((first) => fc.tuple(fc.constant(first), fc.nat({ max: n - first }))),
          ),
        ),
        ([bitCount, ranges, [first, count]]) => {
          const source = new Bitmap(bitCount);
          for (const [start, length] of ranges) source.setRange(start, Math.min(length, bitCount - start));
          const bits = source.exportRange(first, count);
          assert.equal(bits.length, Math.ceil(count / 8));
          for (let j = 0; j < count; j++) {
            assert.equal(((bits[j >> 3] ?? 0) >> (j & 7)) & 1, source.get(first + j) ? 1 : 0);
          }
          if (count % 8 !== 0)
            assert.equal((bits[bits.length - 1] ?? 0) >> (count % 8), 0, 'spare bits zero');
          const target = new Bitmap(bitCount);
          target.mergeRange(first, bits);
          for (let i = 0; i < bitCount; i++) {
            const inside = i >= first && i < first + count;
            assert.equal(target.get(i), inside && source.get(i), `bit ${i}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lays out block 8j+i as bit i of byte j in memory, as on disk', () => {
    const bitmap = new Bitmap(64);
    bitmap.setRange(0, 1);
    bitmap.setRange(9, 2);
    bitmap.setRange(63, 1);
    assert.deepEqual([...bitmap.bytes.subarray(0, 8)], [0x01, 0x06, 0, 0, 0, 0, 0, 0x80]);
  });

  it('merges ignore bits past the end', () => {
    const bitmap = new Bitmap(10);
    assert.equal(bitmap.mergeRange(4, Uint8Array.of(0xff, 0xff)), 6);
    assert.deepEqual([...bitmap.runs()], [{ first: 4, count: 6 }]);
  });

  it('loads bytes from disk, dropping stray bits past the end and counting the rest', () => {
    const bitmap = Bitmap.fromBytes(12, Uint8Array.of(0x81, 0xff, 0xff), 4096);
    assert.equal(bitmap.setCount, 6);
    assert.deepEqual(
      [...bitmap.runs()],
      [
        { first: 0, count: 1 },
        { first: 7, count: 5 },
      ],
    );
    assert.equal(bitmap.bytes[2], 0);
    assert.ok(bitmap.bytes.length >= 4096);
  });

  it('grows with the old bits kept and the new ones clear', () => {
    const bitmap = new Bitmap(13);
    bitmap.setAll();
    bitmap.grow(100_000, 16_384);
    assert.equal(bitmap.bitCount, 100_000);
    assert.equal(bitmap.setCount, 13);
    assert.deepEqual([...bitmap.runs()], [{ first: 0, count: 13 }]);
    assert.ok(bitmap.bytes.length >= 16_384);
    assert.throws(() => bitmap.grow(10), RangeError);
  });

  it('treats empty ranges as no-ops', () => {
    const bitmap = new Bitmap(16);
    assert.equal(bitmap.setRange(3, 0), 0);
    assert.equal(bitmap.anySet(0, 0), false);
    assert.equal(bitmap.nextSet(16), -1);
    assert.deepEqual([...bitmap.exportRange(16, 0)], []);
  });
});
