// The memory device stands in for the file device in tests of the layers above, so both must
// behave the same: the same random writes, discards and reads give the same bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import type { BlockDevice } from '../../../../src/storage/block-device.js';
import { FileBlockDevice } from '../../../../src/storage/backends/file-device.js';
import { MemoryBlockDevice } from '../../../../src/storage/backends/memory-device.js';
import { createImageFile } from '../../../../src/storage/backends/image-file.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const SIZE = 300 * 1024 + 7;

type Op =
  | { kind: 'write'; offset: number; length: number; seed: number; fua: boolean }
  | { kind: 'discard'; offset: number; length: number }
  | { kind: 'read'; offset: number; length: number }
  | { kind: 'flush' };

/** An offset and a length that stay inside the device, biased to small runs and block edges. */
const range = fc
  .tuple(
    fc.oneof(
      fc.nat(SIZE - 1),
      fc.nat(74).map((block) => block * 4096),
    ),
    fc.oneof(fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 0, max: 128 * 1024 })),
  )
  .map(([offset, length]) => ({ offset, length: Math.min(length, SIZE - offset) }));

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(range, fc.nat(255), fc.boolean())
      .map(([r, seed, fua]) => ({ kind: 'write' as const, ...r, seed, fua })),
  },
  { weight: 2, arbitrary: range.map((r) => ({ kind: 'discard' as const, ...r })) },
  { weight: 2, arbitrary: range.map((r) => ({ kind: 'read' as const, ...r })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
);

function fill(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (seed + i * 7) & 0xff;
  return data;
}

async function apply(dev: BlockDevice, step: Op): Promise<Buffer | undefined> {
  switch (step.kind) {
    case 'write':
      await dev.write(step.offset, fill(step.length, step.seed), { fua: step.fua });
      return undefined;
    case 'discard':
      await dev.discard(step.offset, step.length);
      return undefined;
    case 'read':
      return dev.read(step.offset, step.length);
    case 'flush':
      await dev.flush();
      return undefined;
  }
}

/** Every range a device calls unmapped must read as zeroes. */
async function assertUnmappedIsZero(dev: BlockDevice): Promise<void> {
  for (const extent of await dev.allocation(0, dev.size)) {
    if (!extent.mapped)
      assert.deepEqual(await dev.read(extent.offset, extent.length), Buffer.alloc(extent.length));
  }
}

describe('MemoryBlockDevice and FileBlockDevice', () => {
  it('give the same bytes under any sequence of writes, discards, reads and flushes', async (t) => {
    const dir = tempDir(t);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (steps) => {
        const path = join(dir, `run-${run++}.img`);
        await createImageFile(path, SIZE, 'thin');
        // A low punch threshold, so both discard paths (punch hole, write zeroes) are exercised.
        const file = await FileBlockDevice.open(path, { punchThreshold: 16 * 1024 });
        const memory = new MemoryBlockDevice(SIZE);
        try {
          for (const step of steps) {
            const fromFile = await apply(file, step);
            const fromMemory = await apply(memory, step);
            assert.deepEqual(fromFile, fromMemory, `after ${JSON.stringify(step)}`);
          }
          assert.deepEqual(await file.read(0, SIZE), await memory.read(0, SIZE));
          await assertUnmappedIsZero(file);
          await assertUnmappedIsZero(memory);
        } finally {
          await file.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
