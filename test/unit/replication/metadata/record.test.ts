import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DISK_STATES } from '../../../../src/replication/state/types.js';
import { MetadataError } from '../../../../src/replication/metadata/errors.js';
import {
  applyFlags,
  decodeFlags,
  FLAG_CLEAN,
  FLAG_WAS_PRIMARY,
} from '../../../../src/replication/metadata/flags.js';
import {
  BITMAP_OFFSET,
  layoutOf,
  MAX_ACTIVE_EXTENTS_LIMIT,
  resolveGeometry,
  SLOT_BYTES,
} from '../../../../src/replication/metadata/geometry.js';
import {
  chooseRecord,
  decodeRecord,
  encodeRecord,
  FORMAT_VERSION,
  type MetadataRecord,
  type SlotContent,
} from '../../../../src/replication/metadata/record.js';

const GiB = 1024 ** 3;

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const recordArbitrary: fc.Arbitrary<MetadataRecord> = fc
  .record({
    sequence: fc.nat(),
    deviceSize: fc.integer({ min: 1, max: 2 ** 44 }),
    blockShift: fc.integer({ min: 9, max: 16 }),
    extentShift: fc.integer({ min: 0, max: 10 }),
    maxActiveExtents: fc.integer({ min: 1, max: MAX_ACTIVE_EXTENTS_LIMIT }),
    generations: fc.tuple(u64, u64, u64, u64),
    diskState: fc.constantFrom(...DISK_STATES),
    flags: fc.nat({ max: 0xffff_ffff }),
    extentSeeds: fc.array(fc.nat(), { maxLength: MAX_ACTIVE_EXTENTS_LIMIT }),
  })
  .map((r) => {
    const blockBytes = 2 ** r.blockShift;
    const extentBytes = 2 ** (r.blockShift + r.extentShift);
    // within the format's limits: 2^32-1 extents, a 4 GiB bitmap
    const deviceSize = Math.min(r.deviceSize, extentBytes * 2 ** 31, blockBytes * 2 ** 34);
    const geometry = resolveGeometry(deviceSize, {
      blockBytes,
      extentBytes,
      maxActiveExtents: r.maxActiveExtents,
    });
    const { extentCount } = layoutOf(geometry);
    return {
      sequence: r.sequence,
      geometry,
      generations: {
        current: r.generations[0],
        bitmap: r.generations[1],
        history: [r.generations[2], r.generations[3]] as const,
      },
      diskState: r.diskState,
      flags: r.flags,
      activeExtents: r.extentSeeds.slice(0, r.maxActiveExtents).map((seed) => seed % extentCount),
    };
  });

function sampleRecord(overrides: Partial<MetadataRecord> = {}): MetadataRecord {
  return {
    sequence: 7,
    geometry: resolveGeometry(GiB),
    generations: { current: 0x1234n, bitmap: 0n, history: [5n, 6n] },
    diskState: 'up-to-date',
    flags: FLAG_WAS_PRIMARY,
    activeExtents: [3, 250, 17],
    ...overrides,
  };
}

function valid(record: MetadataRecord): SlotContent {
  return { kind: 'valid', record };
}

describe('superblock slot encoding', () => {
  it('decodes what it encodes, in one 4 KiB slot', () => {
    fc.assert(
      fc.property(recordArbitrary, (record) => {
        const bytes = encodeRecord(record);
        assert.equal(bytes.length, SLOT_BYTES);
        assert.deepEqual(decodeRecord(bytes), { kind: 'valid', record });
      }),
      { numRuns: 200 },
    );
  });

  it('detects any changed byte: never decoded as valid', () => {
    fc.assert(
      fc.property(
        recordArbitrary,
        fc.nat({ max: SLOT_BYTES - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (record, position, xor) => {
          const bytes = encodeRecord(record);
          bytes[position] = (bytes[position] ?? 0) ^ xor;
          assert.notEqual(decodeRecord(bytes).kind, 'valid');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('tells foreign bytes, other versions, torn and short slots apart', () => {
    assert.equal(decodeRecord(Buffer.alloc(SLOT_BYTES)).kind, 'foreign');
    assert.equal(decodeRecord(Buffer.from('hello')).kind, 'foreign');
    const newer = encodeRecord(sampleRecord());
    newer.writeUInt32LE(FORMAT_VERSION + 1, 8);
    assert.deepEqual(decodeRecord(newer), { kind: 'unsupported-version', version: FORMAT_VERSION + 1 });
    // the first sector of a new slot over the rest of the old one (the lists differ past 512 bytes)
    const manyExtents = Array.from({ length: 200 }, (_, i) => i);
    const torn = encodeRecord(sampleRecord({ activeExtents: manyExtents }));
    encodeRecord(sampleRecord({ sequence: 8, activeExtents: manyExtents.map((e) => e + 1) })).copy(
      torn,
      0,
      0,
      512,
    );
    assert.equal(decodeRecord(torn).kind, 'corrupt');
    assert.equal(decodeRecord(encodeRecord(sampleRecord()).subarray(0, 100)).kind, 'corrupt');
  });

  it('refuses checksummed slots with impossible contents', () => {
    const record = sampleRecord();
    const pastEnd = { ...record, activeExtents: [layoutOf(record.geometry).extentCount] };
    // encodeRecord writes what it is given; decode must still refuse an extent past the device.
    assert.equal(decodeRecord(encodeRecord(pastEnd)).kind, 'corrupt');
    assert.throws(
      () => encodeRecord({ ...record, activeExtents: new Array<number>(258).fill(0) }),
      RangeError,
    );
  });
});

describe('choosing a slot', () => {
  const older = sampleRecord({ sequence: 4 });
  const newer = sampleRecord({ sequence: 5, diskState: 'outdated' });

  it('takes the valid slot with the higher sequence, whichever slot it is in', () => {
    assert.deepEqual(chooseRecord(valid(older), valid(newer)), { ok: true, record: newer, slot: 1 });
    assert.deepEqual(chooseRecord(valid(newer), valid(older)), { ok: true, record: newer, slot: 0 });
  });

  it('falls back to the other slot when one is torn or never written', () => {
    const torn: SlotContent = { kind: 'corrupt', reason: 'checksum mismatch' };
    assert.deepEqual(chooseRecord(torn, valid(older)), { ok: true, record: older, slot: 1 });
    assert.deepEqual(chooseRecord(valid(older), { kind: 'foreign' }), { ok: true, record: older, slot: 0 });
  });

  it('names the failure when no slot can be used', () => {
    const torn: SlotContent = { kind: 'corrupt', reason: 'checksum mismatch' };
    const expectCode = (a: SlotContent, b: SlotContent, code: string) => {
      const chosen = chooseRecord(a, b);
      if (chosen.ok) assert.fail(`expected ${code}, got a record`);
      assert.equal(chosen.code, code);
    };
    expectCode(torn, torn, 'corrupt');
    expectCode(torn, { kind: 'foreign' }, 'corrupt');
    expectCode({ kind: 'foreign' }, { kind: 'foreign' }, 'not-metadata');
    // A newer format's slot is never rolled back to the older slot this code can read.
    expectCode(valid(newer), { kind: 'unsupported-version', version: 9 }, 'unsupported-version');
  });
});

describe('geometry', () => {
  it('needs 32 KiB of bitmap per GiB plus two 4 KiB slots', () => {
    assert.equal(layoutOf(resolveGeometry(GiB)).fileBytes, 8192 + 32 * 1024);
    assert.equal(layoutOf(resolveGeometry(1024 * GiB)).fileBytes, 8192 + 32 * 1024 * 1024);
    assert.equal(BITMAP_OFFSET, 8192);
    const odd = layoutOf(resolveGeometry(10 * 4096 + 1));
    assert.equal(odd.blockCount, 11);
    assert.equal(odd.bitmapBytes, 4096);
    assert.equal(odd.extentCount, 1);
  });

  it('refuses what the format cannot hold', () => {
    const refused = (size: number, options: Parameters<typeof resolveGeometry>[1]) =>
      assert.throws(
        () => resolveGeometry(size, options),
        (error: unknown) => error instanceof MetadataError && error.code === 'invalid-geometry',
      );
    refused(0, {});
    refused(1.5, {});
    refused(GiB, { blockBytes: 3000 });
    refused(GiB, { blockBytes: 256 });
    refused(GiB, { blockBytes: 8192, extentBytes: 4096 });
    refused(GiB, { maxActiveExtents: 0 });
    refused(GiB, { maxActiveExtents: MAX_ACTIVE_EXTENTS_LIMIT + 1 });
    refused(2 ** 52, { blockBytes: 512 });
  });
});

describe('flags', () => {
  it('sets and clears only the named flags and keeps unknown bits', () => {
    const word = applyFlags(FLAG_CLEAN | (1 << 20), { wasPrimary: true, fullSyncNeeded: false });
    assert.equal(word, FLAG_CLEAN | FLAG_WAS_PRIMARY | (1 << 20));
    assert.deepEqual(decodeFlags(word), {
      clean: true,
      wasPrimary: true,
      peerOutdated: false,
      fullSyncNeeded: false,
      crashedPrimary: false,
    });
    assert.equal(applyFlags(word, { wasPrimary: false }), FLAG_CLEAN | (1 << 20));
    assert.equal(applyFlags(0xffff_ffff, {}), 0xffff_ffff);
  });
});
