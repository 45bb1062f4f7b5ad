import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { JUST_CREATED } from '../../../../src/replication/state/types.js';
import { MetadataError, type MetadataErrorCode } from '../../../../src/replication/metadata/errors.js';
import { BITMAP_OFFSET, SLOT_BYTES, SLOT_OFFSETS } from '../../../../src/replication/metadata/geometry.js';
import { decodeRecord, type MetadataRecord } from '../../../../src/replication/metadata/record.js';
import {
  ReplicationMetadata,
  type CreateMetadataOptions,
} from '../../../../src/replication/metadata/replication-metadata.js';
import { tempDir } from '../../../helpers/temp-dir.js';
import { SimulatedStorage } from './simulated-storage.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const EXTENT = 4 * MiB;
const PATH = '/pool/vol.meta';

function rejectsWith(code: MetadataErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof MetadataError, `expected a MetadataError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

async function simulated(
  t: TestContext,
  size = GiB,
  options: CreateMetadataOptions = {},
): Promise<{ storage: SimulatedStorage; metadata: ReplicationMetadata }> {
  const storage = new SimulatedStorage();
  const metadata = await ReplicationMetadata.create(PATH, size, { storage, ...options });
  // Not awaited: close() waits for writes in flight, and some tests leave writes in flight.
  t.after(() => void metadata.close().catch(() => undefined));
  return { storage, metadata };
}

/** Opens what the disk holds durably right now (as if power failed and nothing unsynced survived). */
async function reopenDurable(storage: SimulatedStorage, expectedSize?: number): Promise<ReplicationMetadata> {
  const after = new SimulatedStorage();
  after.put(PATH, Buffer.from(storage.file(PATH).durable));
  return ReplicationMetadata.open(PATH, expectedSize, { storage: after });
}

/** The newest valid superblock slot in the page cache (what a reopen would choose, barring a crash). */
function newestRecord(storage: SimulatedStorage): MetadataRecord {
  const records = SLOT_OFFSETS.flatMap((offset) => {
    const content = decodeRecord(storage.file(PATH).current.subarray(offset, offset + SLOT_BYTES));
    return content.kind === 'valid' ? [content.record] : [];
  });
  const newest = records.reduce<MetadataRecord | undefined>(
    (best, r) => (best === undefined || r.sequence > best.sequence ? r : best),
    undefined,
  );
  if (newest === undefined) assert.fail('no valid superblock slot');
  return newest;
}

function watch(promise: Promise<void> | undefined): { settled: boolean; error?: unknown } {
  const seen: { settled: boolean; error?: unknown } = { settled: promise === undefined };
  promise?.then(
    () => (seen.settled = true),
    (error: unknown) => {
      seen.settled = true;
      seen.error = error;
    },
  );
  return seen;
}

describe('ReplicationMetadata on a real file', () => {
  it('creates a file of 32 KiB per GiB plus 8 KiB, fresh, and never overwrites one', async (t) => {
    const path = join(tempDir(t), 'vol.meta');
    assert.equal(ReplicationMetadata.metadataBytes(GiB), 32 * KiB + 8 * KiB);
    const metadata = await ReplicationMetadata.create(path, GiB);
    assert.equal(statSync(path).size, 40 * KiB);
    assert.deepEqual(metadata.generations, JUST_CREATED);
    assert.equal(metadata.diskState, 'inconsistent');
    assert.equal(metadata.dirtyBytes, 0);
    assert.equal(metadata.blockCount, GiB / 4096);
    await metadata.close();
    await assert.rejects(ReplicationMetadata.create(path, GiB), rejectsWith('exists'));
    const again = await ReplicationMetadata.open(path, GiB);
    assert.equal(again.flags.clean, true);
    assert.equal(again.recoveredExtents, 0);
    await again.close();
  });

  it('keeps superblock changes across close and open', async (t) => {
    const path = join(tempDir(t), 'vol.meta');
    const metadata = await ReplicationMetadata.create(path, GiB);
    const generations = {
      current: 0xdead_beef_0000_0001n,
      bitmap: 42n,
      history: [(1n << 64n) - 1n, 7n] as const,
    };
    await Promise.all([
      metadata.setGenerations(generations),
      metadata.setDiskState('up-to-date'),
      metadata.setFlags({ peerOutdated: true, fullSyncNeeded: true }),
    ]);
    await metadata.setFlags({ fullSyncNeeded: false });
    metadata.markDirty(5 * MiB, 1);
    await metadata.close();
    const reopened = await ReplicationMetadata.open(path);
    t.after(() => reopened.close());
    assert.deepEqual(reopened.generations, generations);
    assert.equal(reopened.diskState, 'up-to-date');
    assert.deepEqual(reopened.flags, {
      clean: true,
      wasPrimary: false,
      peerOutdated: true,
      fullSyncNeeded: false,
      crashedPrimary: false,
    });
    assert.deepEqual([...reopened.dirtyRuns()], [{ offset: 5 * MiB, length: 4096 }]);
  });

  it('after a crash, marks every block of the logged extents dirty and flags a crashed primary', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'vol.meta');
    const metadata = await ReplicationMetadata.create(path, GiB);
    await metadata.setFlags({ wasPrimary: true });
    await metadata.activate(10 * EXTENT + 100, 8192);
    await metadata.activate(3 * EXTENT - 1, 2); // touches extents 2 and 3
    metadata.release(3 * EXTENT - 1, 2);
    metadata.markDirty(700 * MiB, 4096); // outside the log, never flushed: may be lost
    const crashed = join(dir, 'crashed.meta');
    copyFileSync(path, crashed); // the file as the page cache held it when the node died
    metadata.release(10 * EXTENT + 100, 8192);
    await metadata.close();

    const recovered = await ReplicationMetadata.open(crashed, GiB);
    t.after(() => recovered.close());
    assert.equal(recovered.recoveredExtents, 3);
    assert.deepEqual(
      [...recovered.dirtyRuns()].filter((run) => run.offset < 700 * MiB),
      [
        { offset: 2 * EXTENT, length: 2 * EXTENT },
        { offset: 10 * EXTENT, length: EXTENT },
      ],
    );
    assert.equal(recovered.flags.clean, false);
    assert.equal(recovered.flags.crashedPrimary, true);
    await recovered.setFlags({ crashedPrimary: false });
    assert.equal(recovered.flags.crashedPrimary, false);

    const clean = await ReplicationMetadata.open(path);
    t.after(() => clean.close());
    assert.equal(clean.recoveredExtents, 0);
    assert.deepEqual([...clean.dirtyRuns()], [{ offset: 700 * MiB, length: 4096 }]);
    assert.equal(clean.flags.crashedPrimary, false);
  });

  it('refuses missing, foreign, newer, corrupt, cut short and wrong-size files with their codes', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'vol.meta');
    await assert.rejects(ReplicationMetadata.open(path), rejectsWith('not-found'));
    writeFileSync(path, Buffer.alloc(64 * KiB, 0x5a));
    await assert.rejects(ReplicationMetadata.open(path), rejectsWith('not-metadata'));

    const good = join(dir, 'good.meta');
    await (await ReplicationMetadata.create(good, 64 * MiB)).close();
    await assert.rejects(ReplicationMetadata.open(good, 128 * MiB), rejectsWith('device-size-mismatch'));

    const patched = (name: string, patch: (bytes: Buffer) => Buffer): string => {
      const target = join(dir, name);
      writeFileSync(target, patch(Buffer.from(readFileSync(good))));
      return target;
    };
    const flip = (bytes: Buffer, at: number) => {
      bytes[at] = (bytes[at] ?? 0) ^ 0x40;
      return bytes;
    };
    const bothCorrupt = patched('corrupt.meta', (b) => flip(flip(b, 100), SLOT_BYTES + 100));
    await assert.rejects(ReplicationMetadata.open(bothCorrupt), rejectsWith('corrupt'));
    const newer = patched('newer.meta', (b) => {
      b.writeUInt32LE(2, SLOT_OFFSETS[1] + 8);
      return b;
    });
    await assert.rejects(ReplicationMetadata.open(newer), rejectsWith('unsupported-version'));
    const short = patched('short.meta', (b) => b.subarray(0, BITMAP_OFFSET + 100));
    await assert.rejects(ReplicationMetadata.open(short), rejectsWith('corrupt'));
  });

  it('falls back to the other slot when the newest one is torn', async (t) => {
    const path = join(tempDir(t), 'vol.meta');
    const metadata = await ReplicationMetadata.create(path, GiB); // slot A: sequence 1
    await metadata.setGenerations({ current: 11n, bitmap: 0n, history: [0n, 0n] }); // slot B: 2
    await metadata.setGenerations({ current: 22n, bitmap: 0n, history: [0n, 0n] }); // slot A: 3
    await metadata.close(); // slot B: 4, clean
    const bytes = readFileSync(path);
    bytes.fill(0xee, SLOT_OFFSETS[1] + 2000, SLOT_OFFSETS[1] + 2512); // a torn sector in slot B
    writeFileSync(path, bytes);
    const reopened = await ReplicationMetadata.open(path);
    t.after(() => reopened.close());
    assert.equal(reopened.generations.current, 22n);
    assert.equal(reopened.flags.clean, false, 'slot A was written while the file was open');
  });
});

describe('ReplicationMetadata activity log', () => {
  it('admits writes to active extents synchronously, without I/O', async (t) => {
    const { storage, metadata } = await simulated(t);
    await metadata.activate(0, 4096);
    const events = storage.events.length;
    for (let i = 0; i < 1000; i++) {
      assert.equal(metadata.activate(i * 4096, 4096), undefined);
      metadata.markDirty(i * 4096, 4096);
      metadata.release(i * 4096, 4096);
    }
    assert.equal(storage.events.length, events);
    assert.equal(metadata.writesInFlight, 1);
    assert.equal(metadata.activate(0, 0), undefined);
  });

  it('lets concurrent activations that need new extents share one transaction', async (t) => {
    const { storage, metadata } = await simulated(t);
    const writes = storage.count('write');
    const syncs = storage.count('datasync');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => metadata.activate(i * 7 * EXTENT, 4096) ?? Promise.resolve()),
    );
    assert.equal(storage.count('write') - writes, 1);
    assert.equal(storage.count('datasync') - syncs, 1);
    assert.equal(newestRecord(storage).activeExtents.length, 20);

    // Calls arriving while a transaction is under way share the next one.
    const first = metadata.activate(200 * EXTENT, 1);
    await nextTurn();
    const later = Array.from({ length: 10 }, (_, i) => metadata.activate((201 + i) * EXTENT, 1));
    await Promise.all([first, ...later]);
    assert.equal(storage.count('datasync') - syncs, 3);
  });

  it('resolves an activation only once the log naming its extent is durable', async (t) => {
    const { storage, metadata } = await simulated(t);
    let durableWhenResolved: readonly number[] | undefined;
    const activation = metadata.activate(9 * EXTENT, 1)?.then(() => {
      const after = new SimulatedStorage();
      after.put(PATH, Buffer.from(storage.file(PATH).durable));
      const slots = [0, 1].map((s) =>
        decodeRecord(after.file(PATH).current.subarray(s * SLOT_BYTES, (s + 1) * SLOT_BYTES)),
      );
      durableWhenResolved = slots.flatMap((s) => (s.kind === 'valid' ? s.record.activeExtents : []));
    });
    await activation;
    assert.ok(durableWhenResolved?.includes(9));
  });

  it('waits for a release when every active extent is busy, then retires the idle one', async (t) => {
    const { storage, metadata } = await simulated(t, GiB, { maxActiveExtents: 2 });
    await metadata.activate(0, 1);
    await metadata.activate(EXTENT, 1);
    const third = watch(metadata.activate(2 * EXTENT, 1));
    for (let i = 0; i < 10; i++) await nextTurn();
    assert.equal(third.settled, false);
    metadata.release(0, 1);
    for (let i = 0; i < 20; i++) await nextTurn();
    assert.equal(third.settled, true);
    assert.equal(third.error, undefined);
    assert.deepEqual([...newestRecord(storage).activeExtents].sort(), [1, 2]);
    // extent 0 was retired: it needs a transaction again
    const events = storage.events.length;
    metadata.release(EXTENT, 1);
    await metadata.activate(0, 1);
    assert.ok(storage.events.length > events);
  });

  it('writes the bitmap pages of a retired extent, and syncs them, before the log drops it', async (t) => {
    const { storage, metadata } = await simulated(t, GiB, { maxActiveExtents: 1 });
    const extentInPage3 = (3 * 32768 * 4096) / EXTENT; // the first extent whose bits are in page 3
    await metadata.activate(extentInPage3 * EXTENT, 4096);
    metadata.markDirty(extentInPage3 * EXTENT, 4096); // the peer did not get it
    metadata.release(extentInPage3 * EXTENT, 4096);
    const from = storage.events.length;
    await metadata.activate(0, 4096);
    const order = storage.events.slice(from).map((e) => {
      if (e.kind !== 'write') return e.kind;
      return e.position >= BITMAP_OFFSET ? `page ${(e.position - BITMAP_OFFSET) / 4096}` : 'slot';
    });
    assert.deepEqual(order, ['page 3', 'datasync', 'slot', 'datasync']);
    assert.deepEqual(newestRecord(storage).activeExtents, [0]);
    const after = await reopenDurable(storage);
    t.after(() => after.close());
    assert.ok(after.isDirty(extentInPage3 * EXTENT, 1));
  });

  it('rejects bad ranges and unmatched releases', async (t) => {
    const { metadata } = await simulated(t, GiB, { maxActiveExtents: 4 });
    assert.throws(() => metadata.activate(GiB - 1, 2), RangeError);
    assert.throws(() => metadata.activate(-1, 1), RangeError);
    assert.throws(() => metadata.activate(0, 5 * EXTENT), RangeError);
    assert.throws(() => metadata.release(0, 1), rejectsWith('not-active'));
    assert.throws(() => metadata.markDirty(GiB, 1), RangeError);
    assert.throws(() => metadata.exportBits(0, metadata.blockCount + 1), RangeError);
  });
});

describe('ReplicationMetadata bitmap', () => {
  it('marks touched blocks, clears whole blocks only, counts the short last block by its size', async (t) => {
    const size = 10 * 4096 + 100;
    const { metadata } = await simulated(t, size);
    assert.equal(metadata.blockCount, 11);
    metadata.markDirty(4095, 2); // blocks 0 and 1
    assert.deepEqual([...metadata.dirtyRuns()], [{ offset: 0, length: 8192 }]);
    metadata.clearDirty(1, 8191); // block 0 not whole, block 1 whole
    assert.deepEqual([...metadata.dirtyRuns()], [{ offset: 0, length: 4096 }]);
    metadata.markDirty(size - 1, 1);
    assert.equal(metadata.dirtyBytes, 4096 + 100);
    assert.deepEqual([...metadata.dirtyRuns(4096)], [{ offset: 10 * 4096, length: 100 }]);
    assert.equal(metadata.isDirty(4096, 9 * 4096), false);
    assert.equal(metadata.isDirty(4096, 9 * 4096 + 1), true);
    metadata.clearDirty(10 * 4096, 100); // reaches the end: the short block is whole
    assert.equal(metadata.dirtyBytes, 4096);
    metadata.setAllDirty();
    assert.equal(metadata.dirtyBytes, size);
    assert.deepEqual(
      [...metadata.dirtyRuns(0, 4 * 4096 + 5)],
      [
        { offset: 0, length: 4 * 4096 },
        { offset: 4 * 4096, length: 4 * 4096 },
        { offset: 8 * 4096, length: 2 * 4096 + 100 },
      ],
    );
    metadata.clearAll();
    assert.equal(metadata.dirtyBytes, 0);
    assert.deepEqual([...metadata.dirtyRuns()], []);
  });

  it("exports bits for the peer and merges the peer's bits in", async (t) => {
    const { metadata } = await simulated(t, 64 * MiB);
    metadata.markDirty(3 * 4096, 4096);
    metadata.markDirty(12 * 4096, 3 * 4096);
    const bits = metadata.exportBits(1, 20); // blocks 1..20
    assert.deepEqual([...bits], [0b0000_0100, 0b0011_1000, 0b0000_0000]); // blocks 3, 12-14
    const { metadata: peer } = await simulated(t, 64 * MiB);
    peer.mergeBits(1, bits);
    peer.mergeBits(16_000, Buffer.from([0x81]));
    assert.deepEqual(
      [...peer.dirtyRuns()],
      [
        { offset: 3 * 4096, length: 4096 },
        { offset: 12 * 4096, length: 3 * 4096 },
        { offset: 16_000 * 4096, length: 4096 },
        { offset: 16_007 * 4096, length: 4096 },
      ],
    );
  });

  it('makes bitmap changes outside the log durable with flush()', async (t) => {
    const { storage, metadata } = await simulated(t);
    metadata.markDirty(900 * MiB, 10);
    metadata.mergeBits(1000, Buffer.from([1]));
    const before = await reopenDurable(storage);
    assert.equal(before.dirtyBytes, 0, 'not flushed yet');
    await before.close();
    await metadata.flush();
    const after = await reopenDurable(storage);
    t.after(() => after.close());
    assert.deepEqual(
      [...after.dirtyRuns()],
      [
        { offset: 1000 * 4096, length: 4096 },
        { offset: 900 * MiB, length: 4096 },
      ],
    );
  });

  it('grows: old bits stay, new blocks are clean, the new size is durable', async (t) => {
    const { storage, metadata } = await simulated(t, GiB);
    metadata.markDirty(GiB - 4096, 4096);
    await metadata.grow(2 * GiB + 12_345);
    assert.equal(metadata.deviceSize, 2 * GiB + 12_345);
    assert.equal(metadata.blockCount, (2 * GiB) / 4096 + 4);
    assert.deepEqual([...metadata.dirtyRuns()], [{ offset: GiB - 4096, length: 4096 }]);
    await metadata.activate(2 * GiB, 12_345);
    metadata.markDirty(2 * GiB, 12_345);
    metadata.release(2 * GiB, 12_345);
    await metadata.flush();
    assert.equal(storage.file(PATH).durable.length, ReplicationMetadata.metadataBytes(2 * GiB + 12_345));
    const after = await reopenDurable(storage, 2 * GiB + 12_345);
    t.after(() => after.close());
    assert.equal(after.dirtyBytes, 4096 + 12_345);
    await assert.rejects(metadata.grow(GiB), rejectsWith('invalid-geometry'));
  });
});

describe('ReplicationMetadata lifecycle', () => {
  it('close waits for writes in flight, refuses waiting activations, and marks the file clean', async (t) => {
    const { storage, metadata } = await simulated(t, GiB, { maxActiveExtents: 1 });
    await metadata.activate(0, 4096);
    const waiting = watch(metadata.activate(EXTENT, 4096));
    const closing = watch(metadata.close());
    for (let i = 0; i < 10; i++) await nextTurn();
    assert.equal(closing.settled, false, 'a write is in flight');
    assert.ok(waiting.settled && waiting.error instanceof MetadataError && waiting.error.code === 'closed');
    metadata.markDirty(0, 4096);
    metadata.release(0, 4096);
    await metadata.close();
    assert.equal(closing.error, undefined);
    assert.deepEqual(newestRecord(storage).activeExtents, []);
    await assert.rejects(metadata.flush(), rejectsWith('closed'));
    await assert.rejects(metadata.setDiskState('outdated'), rejectsWith('closed'));
    assert.throws(() => metadata.markDirty(0, 1), rejectsWith('closed'));
    const reopened = await reopenDurable(storage);
    t.after(() => reopened.close());
    assert.equal(reopened.flags.clean, true);
    assert.equal(reopened.recoveredExtents, 0);
    assert.deepEqual([...reopened.dirtyRuns()], [{ offset: 0, length: 4096 }]);
  });

  it('fails for good after an I/O error: nothing more is written, everything rejects', async (t) => {
    const { storage, metadata } = await simulated(t);
    storage.failAt = storage.events.length;
    await assert.rejects(metadata.activate(0, 1)!, rejectsWith('io-error'));
    const events = storage.events.length;
    await assert.rejects(metadata.flush(), rejectsWith('io-error'));
    await assert.rejects(metadata.activate(EXTENT, 1)!, rejectsWith('io-error'));
    await assert.rejects(metadata.close(), rejectsWith('io-error'));
    assert.equal(storage.events.length, events);
  });

  it('removes a file whose creation failed', async () => {
    const storage = new SimulatedStorage();
    storage.failAt = 1;
    await assert.rejects(ReplicationMetadata.create(PATH, GiB, { storage }), rejectsWith('io-error'));
    assert.equal(storage.files.has(PATH), false);
    await assert.rejects(ReplicationMetadata.create(PATH, 0, { storage }), rejectsWith('invalid-geometry'));
  });
});
