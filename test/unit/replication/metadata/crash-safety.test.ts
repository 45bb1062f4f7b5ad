// Power loss at any point of a random workload must never lose the record of a region that may
// differ from the peer. The workload runs on SimulatedStorage; at random I/O operations a crash
// image is taken (durable bytes plus any subset of the unsynced writes, some torn), together with
// what the model says must be dirty at that moment. Each image is then opened, as after a reboot:
// it must open, and every block the model names must be dirty.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { MetadataError } from '../../../../src/replication/metadata/errors.js';
import { ReplicationMetadata } from '../../../../src/replication/metadata/replication-metadata.js';
import { seededRandom, SimulatedStorage, type Random } from './simulated-storage.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PATH = '/pool/crash.meta';
const BLOCK = 512;
// Two bitmap pages (a page covers 32768 blocks = 16 MiB here) and a short last block.
const DEVICE = 17 * MiB + 300;
const BLOCKS = Math.ceil(DEVICE / BLOCK);
const OPTIONS = { blockBytes: BLOCK, extentBytes: 16 * KiB, maxActiveExtents: 4 };
/** Writes cluster around these offsets so extents are reused, retired and fought over. */
const HOT_SPOTS = [0, 8 * MiB, 16 * MiB - 64 * KiB, DEVICE - 128 * KiB];

/**
 * What must survive a crash, per block: a write whose activate() resolved and that was not released
 * yet (the activity log covers it), or a block marked dirty and not cleared since.
 */
class Model {
  readonly inFlight = new Int32Array(BLOCKS);
  readonly marked = new Uint8Array(BLOCKS);

  blocksTouched(offset: number, length: number): [number, number] {
    return [Math.floor(offset / BLOCK), Math.floor((offset + length - 1) / BLOCK) + 1];
  }

  mustBeDirty(): number[] {
    const blocks: number[] = [];
    for (let b = 0; b < BLOCKS; b++) if (this.inFlight[b] !== 0 || this.marked[b] !== 0) blocks.push(b);
    return blocks;
  }
}

interface Capture {
  readonly image: Buffer;
  readonly mustBeDirty: number[];
  readonly at: number;
}

function pickRange(random: Random): { offset: number; length: number } {
  const spot = HOT_SPOTS[Math.floor(random() * HOT_SPOTS.length)] ?? 0;
  const offset = Math.min(DEVICE - 1, spot + Math.floor(random() * 96 * KiB));
  const length = Math.min(DEVICE - offset, 1 + Math.floor(random() * 40 * KiB));
  return { offset, length };
}

async function turns(random: Random, most: number): Promise<void> {
  const count = Math.floor(random() * (most + 1));
  for (let i = 0; i < count; i++) await nextTurn();
}

async function writer(metadata: ReplicationMetadata, model: Model, random: Random, writes: number) {
  for (let i = 0; i < writes; i++) {
    const { offset, length } = pickRange(random);
    await metadata.activate(offset, length);
    const [first, end] = model.blocksTouched(offset, length);
    for (let b = first; b < end; b++) model.inFlight[b] = (model.inFlight[b] ?? 0) + 1;
    await turns(random, 3);
    if (random() < 0.6) {
      // the peer did not acknowledge it: remember the blocks before letting the extent go
      metadata.markDirty(offset, length);
      model.marked.fill(1, first, end);
    }
    metadata.release(offset, length);
    for (let b = first; b < end; b++) model.inFlight[b] = (model.inFlight[b] ?? 0) - 1;
  }
}

/** A resync in the background, plus the odd flush and superblock change. */
async function housekeeper(metadata: ReplicationMetadata, model: Model, random: Random, steps: number) {
  for (let i = 0; i < steps; i++) {
    await turns(random, 6);
    const choice = random();
    if (choice < 0.6) {
      const { offset, length } = pickRange(random);
      metadata.clearDirty(offset, length);
      const end = offset + length === DEVICE ? BLOCKS : Math.floor((offset + length) / BLOCK);
      const first = Math.ceil(offset / BLOCK);
      if (end > first) model.marked.fill(0, first, end);
    } else if (choice < 0.8) {
      await metadata.flush();
    } else {
      await metadata.setGenerations({ current: BigInt(i + 1), bitmap: 0n, history: [0n, 0n] });
    }
  }
}

async function runWorkload(seed: number, failAt: number | null): Promise<Capture[]> {
  const random = seededRandom(seed);
  const tearing = seededRandom(seed ^ 0x5eed);
  const storage = new SimulatedStorage();
  const metadata = await ReplicationMetadata.create(PATH, DEVICE, { storage, ...OPTIONS });
  const model = new Model();
  const captures: Capture[] = [];
  storage.onIo = (event, file) => {
    if (event.kind === 'read' || random() < 0.5) return;
    captures.push({ image: file.crashImage(tearing), mustBeDirty: model.mustBeDirty(), at: event.index });
  };
  if (failAt !== null) storage.failAt = storage.events.length + failAt;
  const tasks = [
    writer(metadata, model, seededRandom(seed + 1), 60),
    writer(metadata, model, seededRandom(seed + 2), 60),
    writer(metadata, model, seededRandom(seed + 3), 60),
    housekeeper(metadata, model, seededRandom(seed + 4), 40),
  ];
  const outcomes = await Promise.allSettled(tasks);
  const closing = await Promise.allSettled([metadata.close()]);
  for (const outcome of [...outcomes, ...closing]) {
    // Only the injected I/O failure may stop the workload.
    if (outcome.status === 'rejected') {
      assert.ok(failAt !== null, `workload failed: ${String(outcome.reason)}`);
      assert.ok(
        outcome.reason instanceof MetadataError && ['io-error', 'closed'].includes(outcome.reason.code),
      );
    }
  }
  const file = storage.file(PATH);
  captures.push({
    image: file.crashImage(tearing),
    mustBeDirty: model.mustBeDirty(),
    at: storage.events.length,
  });
  return captures;
}

async function checkCapture(capture: Capture): Promise<void> {
  const storage = new SimulatedStorage();
  storage.put(PATH, capture.image);
  const reopened = await ReplicationMetadata.open(PATH, DEVICE, { storage });
  for (const block of capture.mustBeDirty) {
    assert.ok(reopened.isDirty(block * BLOCK, 1), `block ${block} lost after a crash at I/O ${capture.at}`);
  }
  await reopened.close();
}

describe('ReplicationMetadata crash safety', () => {
  it('keeps every possibly-different block dirty across a power loss at any I/O', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const captures = await runWorkload(seed, null);
        assert.ok(captures.length > 20);
        for (const capture of captures) await checkCapture(capture);
      }),
      { numRuns: 8 },
    );
  });

  it('opens at the old or the new size, bits intact, after a power loss during grow()', async () => {
    const random = seededRandom(7);
    const storage = new SimulatedStorage();
    const small = 3 * MiB + 100;
    const metadata = await ReplicationMetadata.create(PATH, small, { storage, ...OPTIONS });
    await metadata.activate(small - 100, 100); // in flight across the grow
    metadata.markDirty(1 * MiB, 5000);
    const images: Buffer[] = [];
    storage.onIo = (event, file) => {
      if (event.kind !== 'read') for (let i = 0; i < 4; i++) images.push(file.crashImage(random));
    };
    await metadata.grow(DEVICE);
    assert.ok(images.length >= 8);
    const sizes = new Set<number>();
    for (const image of images) {
      const after = new SimulatedStorage();
      after.put(PATH, image);
      const reopened = await ReplicationMetadata.open(PATH, undefined, { storage: after });
      sizes.add(reopened.deviceSize);
      assert.ok(reopened.isDirty(small - 100, 100), 'the write in flight is covered');
      // past the extent of the write in flight (which recovery marks whole), new blocks are clean
      const extentEnd = Math.min(
        reopened.deviceSize,
        Math.ceil(small / OPTIONS.extentBytes) * OPTIONS.extentBytes,
      );
      assert.equal(reopened.isDirty(extentEnd, reopened.deviceSize - extentEnd), false);
      await reopened.close();
    }
    assert.deepEqual([...sizes].sort(), [small, DEVICE].sort());
  });

  it('keeps them when the disk stops accepting I/O part way (then power is lost)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 400 }),
        async (seed, failAt) => {
          const captures = await runWorkload(seed, failAt);
          for (const capture of captures) await checkCapture(capture);
        },
      ),
      { numRuns: 8 },
    );
  });
});
