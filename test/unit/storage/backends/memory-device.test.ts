import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockIoError } from '../../../../src/storage/block-device.js';
import { MemoryBlockDevice } from '../../../../src/storage/backends/memory-device.js';

const KiB = 1024;

function isBlockIoError(kind: BlockIoError['kind']) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof BlockIoError, `expected a BlockIoError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    return true;
  };
}

describe('MemoryBlockDevice', () => {
  it('is sparse: reads zeroes, allocates the chunks written, frees the chunks discarded', async () => {
    const dev = new MemoryBlockDevice(1024 * KiB);
    assert.deepEqual(await dev.read(0, 100), Buffer.alloc(100));
    assert.equal(dev.allocatedBytes, 0);
    await dev.write(64 * KiB - 2, Buffer.from([1, 2, 3, 4]));
    assert.equal(dev.allocatedBytes, 128 * KiB, 'a write across a boundary allocates both chunks');
    assert.deepEqual(await dev.read(64 * KiB - 3, 6), Buffer.from([0, 1, 2, 3, 4, 0]));
    assert.deepEqual(await dev.allocation(0, 256 * KiB), [
      { offset: 0, length: 128 * KiB, mapped: true },
      { offset: 128 * KiB, length: 128 * KiB, mapped: false },
    ]);
    await dev.discard(64 * KiB - 1, 64 * KiB + 1);
    assert.equal(
      dev.allocatedBytes,
      64 * KiB,
      'the whole second chunk is freed, the first is zeroed in part',
    );
    assert.deepEqual(await dev.read(64 * KiB - 3, 6), Buffer.from([0, 1, 0, 0, 0, 0]));
  });

  it('frees the last, partial chunk of an odd-sized device when discarded to the end', async () => {
    const dev = new MemoryBlockDevice(100 * KiB + 5);
    await dev.write(100 * KiB, Buffer.alloc(5, 9));
    assert.equal(dev.allocatedBytes, 64 * KiB);
    await dev.discard(64 * KiB, 36 * KiB + 5);
    assert.equal(dev.allocatedBytes, 0);
  });

  it('resizes, dropping what lies past a smaller size', async () => {
    const dev = new MemoryBlockDevice(256 * KiB);
    await dev.write(100 * KiB, Buffer.alloc(100 * KiB, 7));
    dev.resize(150 * KiB);
    dev.resize(256 * KiB);
    assert.equal(dev.size, 256 * KiB);
    const back = await dev.read(100 * KiB, 100 * KiB);
    assert.deepEqual(back.subarray(0, 50 * KiB), Buffer.alloc(50 * KiB, 7));
    assert.deepEqual(back.subarray(50 * KiB), Buffer.alloc(50 * KiB));
  });

  it('fails the next operations of a kind on demand, then works again', async () => {
    const dev = new MemoryBlockDevice(64 * KiB);
    dev.failNext('medium', 'read');
    dev.failNext('no-space', 'write', 2);
    await dev.flush(); // not a read or a write: not failed
    await assert.rejects(dev.read(0, 1), isBlockIoError('medium'));
    await dev.read(0, 1);
    await assert.rejects(dev.write(0, Buffer.alloc(1, 1)), isBlockIoError('no-space'));
    await assert.rejects(dev.write(0, Buffer.alloc(1, 1)), isBlockIoError('no-space'));
    assert.deepEqual(await dev.read(0, 1), Buffer.alloc(1), 'a failed write changes nothing');
    await dev.write(0, Buffer.alloc(1, 1));
    dev.failNext('medium');
    await assert.rejects(dev.flush(), isBlockIoError('medium'));
  });

  it('fails what a predicate picks until cleared', async () => {
    const dev = new MemoryBlockDevice(64 * KiB);
    dev.failWhen((request) => (request.op === 'read' && request.offset >= 4096 ? 'medium' : undefined));
    dev.failWhen((request) => (request.fua ? 'no-space' : undefined));
    await dev.read(0, 4096);
    await assert.rejects(dev.read(4096, 1), isBlockIoError('medium'));
    await assert.rejects(dev.read(8192, 1), isBlockIoError('medium'));
    await dev.write(0, Buffer.alloc(1));
    await assert.rejects(dev.write(0, Buffer.alloc(1), { fua: true }), isBlockIoError('no-space'));
    dev.clearFailures();
    await dev.read(4096, 1);
    await dev.write(0, Buffer.alloc(1), { fua: true });
    assert.deepEqual(dev.stats, { reads: 2, writes: 2, fuaWrites: 1, flushes: 0, discards: 0 });
  });

  it("rejects out-of-range requests with RangeError and everything after close as 'unavailable'", async () => {
    const dev = new MemoryBlockDevice(4096);
    await assert.rejects(dev.read(4000, 97), RangeError);
    await assert.rejects(dev.write(-1, Buffer.alloc(1)), RangeError);
    await dev.close();
    await assert.rejects(dev.read(0, 1), isBlockIoError('unavailable'));
    await assert.rejects(dev.flush(), isBlockIoError('unavailable'));
  });
});
