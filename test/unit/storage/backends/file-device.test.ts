import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockIoError } from '../../../../src/storage/block-device.js';
import { FileBlockDevice } from '../../../../src/storage/backends/file-device.js';
import { createImageFile, growImageFile } from '../../../../src/storage/backends/image-file.js';
import { hasSeekData } from '../../../../src/storage/backends/sparse-file.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A fresh thin image of `size` bytes, opened; closed after the test. */
async function device(t: TestContext, size: number, dir = tempDir(t)): Promise<FileBlockDevice> {
  const path = join(dir, 'volume.img');
  await createImageFile(path, size, 'thin');
  const dev = await FileBlockDevice.open(path);
  t.after(() => dev.close());
  return dev;
}

function pattern(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (i * 31 + seed) & 0xff || 1;
  return data;
}

function isBlockIoError(kind: BlockIoError['kind']) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof BlockIoError, `expected a BlockIoError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    return true;
  };
}

describe('FileBlockDevice', () => {
  it('reads back what it wrote at odd offsets and sizes, and zeroes where nothing was written', async (t) => {
    const dev = await device(t, 3 * MiB + 13);
    assert.equal(dev.size, 3 * MiB + 13);
    const writes: [number, number][] = [
      [0, 1],
      [4095, 5000],
      [65_537, 131_071],
      [3 * MiB + 13 - 7, 7],
    ];
    for (const [offset, length] of writes) await dev.write(offset, pattern(length, offset));
    for (const [offset, length] of writes) {
      assert.deepEqual(await dev.read(offset, length), pattern(length, offset));
    }
    assert.deepEqual(await dev.read(1 * MiB, 64 * KiB), Buffer.alloc(64 * KiB));
    const around = await dev.read(4090, 5010);
    assert.deepEqual(around.subarray(0, 5), Buffer.alloc(5));
    assert.deepEqual(around.subarray(5, 5005), pattern(5000, 4095));
    assert.deepEqual(around.subarray(5005), Buffer.alloc(5));
    assert.equal((await dev.read(17, 0)).length, 0);
  });

  it('reads into a caller-owned buffer, overwriting whatever it held, with zeroes for holes', async (t) => {
    const dev = await device(t, 8 * MiB);
    await dev.write(4 * MiB + 100, pattern(300 * KiB, 7));
    const target = Buffer.alloc(4 * MiB, 0xee); // stale bytes from an earlier use
    await dev.readInto(target, 4 * MiB);
    assert.deepEqual(target.subarray(0, 100), Buffer.alloc(100));
    assert.deepEqual(target.subarray(100, 100 + 300 * KiB), pattern(300 * KiB, 7));
    assert.deepEqual(target.subarray(100 + 300 * KiB), Buffer.alloc(4 * MiB - 100 - 300 * KiB));
    await assert.rejects(dev.readInto(Buffer.alloc(4096), 8 * MiB - 100), RangeError);
  });

  it('reads and writes the same bytes inline and through the thread pool, zero past a truncated end', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'volume.img');
    await createImageFile(path, 1 * MiB, 'thin');
    const inline = await FileBlockDevice.open(path, {
      inlineReads: { maxLength: 1 * MiB },
      inlineWrites: { maxLength: 1 * MiB },
    });
    const pooled = await FileBlockDevice.open(path, { inlineReads: false, inlineWrites: false });
    t.after(() => Promise.all([inline.close(), pooled.close()]));
    await inline.write(4095, pattern(70_000, 3));
    await pooled.write(200_000, pattern(50_000, 4));
    assert.deepEqual(await inline.read(200_000, 50_000), pattern(50_000, 4));
    assert.deepEqual(await pooled.read(4095, 70_000), pattern(70_000, 3));
    for (const [offset, length] of [
      [0, 4096],
      [4000, 80_000],
      [1 * MiB - 512, 512],
    ] as const) {
      assert.deepEqual(await inline.read(offset, length), await pooled.read(offset, length));
    }
    // Someone shrinks the file under the open device: the missing tail reads as zeroes, both ways.
    truncateSync(path, 8192);
    const expected = Buffer.concat([pattern(70_000, 3).subarray(0, 8192 - 4095), Buffer.alloc(100)]);
    assert.deepEqual(await inline.read(4095, 8192 - 4095 + 100), expected);
    assert.deepEqual(await pooled.read(4095, 8192 - 4095 + 100), expected);
    assert.deepEqual(await inline.read(65_536, 4096), Buffer.alloc(4096));
  });

  it('discard gives the blocks back and the range reads as zeroes', async (t) => {
    const dev = await device(t, 8 * MiB);
    await dev.write(0, pattern(4 * MiB, 7));
    await dev.flush();
    const before = statSync(dev.path).blocks * 512;
    await dev.discard(1 * MiB, 2 * MiB);
    const after = statSync(dev.path).blocks * 512;
    assert.ok(before - after >= 2 * MiB - 64 * KiB, `allocated ${before} → ${after}`);
    assert.deepEqual(await dev.read(1 * MiB, 2 * MiB), Buffer.alloc(2 * MiB));
    assert.deepEqual(await dev.read(0, 1 * MiB), pattern(4 * MiB, 7).subarray(0, 1 * MiB));
    assert.deepEqual(await dev.read(3 * MiB, 1 * MiB), pattern(4 * MiB, 7).subarray(3 * MiB));
  });

  it('discards small and unaligned ranges by zeroing them', async (t) => {
    const dev = await device(t, 1 * MiB);
    await dev.write(0, pattern(256 * KiB, 3));
    await dev.discard(1000, 3000); // under the punch threshold: zeroes written
    await dev.discard(100_001, 99_999); // over it, unaligned at both ends: punched
    const expected = pattern(256 * KiB, 3);
    expected.fill(0, 1000, 4000);
    expected.fill(0, 100_001, 200_000);
    assert.deepEqual(await dev.read(0, 256 * KiB), expected);
    await dev.discard(512 * KiB, 1000); // a hole already: stays a hole
    assert.deepEqual(await dev.read(512 * KiB, 1000), Buffer.alloc(1000));
  });

  it('maps data and holes of a sparse file', async (t) => {
    const dev = await device(t, 8 * MiB);
    await dev.write(1 * MiB, pattern(64 * KiB, 1));
    await dev.write(3 * MiB, pattern(128 * KiB, 2));
    const map = await dev.allocation(0, 8 * MiB);
    if (!hasSeekData()) {
      t.diagnostic('fs-ext is not installed: allocation() reports everything mapped');
      assert.deepEqual(map, [{ offset: 0, length: 8 * MiB, mapped: true }]);
      return;
    }
    assert.deepEqual(map, [
      { offset: 0, length: 1 * MiB, mapped: false },
      { offset: 1 * MiB, length: 64 * KiB, mapped: true },
      { offset: 1 * MiB + 64 * KiB, length: 2 * MiB - 64 * KiB, mapped: false },
      { offset: 3 * MiB, length: 128 * KiB, mapped: true },
      { offset: 3 * MiB + 128 * KiB, length: 5 * MiB - 128 * KiB, mapped: false },
    ]);
    // A range that starts and ends inside extents is clipped to it.
    assert.deepEqual(await dev.allocation(1 * MiB + 4 * KiB, 2 * MiB), [
      { offset: 1 * MiB + 4 * KiB, length: 60 * KiB, mapped: true },
      { offset: 1 * MiB + 64 * KiB, length: 2 * MiB - 64 * KiB, mapped: false },
      { offset: 3 * MiB, length: 4 * KiB, mapped: true },
    ]);
    await dev.discard(3 * MiB, 128 * KiB);
    assert.deepEqual(await dev.allocation(2 * MiB, 2 * MiB), [
      { offset: 2 * MiB, length: 2 * MiB, mapped: false },
    ]);
    assert.deepEqual(await dev.allocation(0, 0), []);
  });

  it('makes FUA writes and flushes durable through group-committed fdatasync', async (t) => {
    const dev = await device(t, 1 * MiB);
    assert.equal(dev.syncs, 0);
    await dev.write(0, pattern(4096, 1));
    assert.equal(dev.syncs, 0, 'a plain write only reaches the page cache');
    await dev.write(4096, pattern(4096, 2), { fua: true });
    assert.equal(dev.syncs, 1);
    await Promise.all(
      Array.from({ length: 16 }, (_, i) => dev.write(i * 8192, pattern(8192, i), { fua: true })),
    );
    // Group commit: far fewer syncs than writes. How many exactly depends on when the writes finish
    // (inline or in the thread pool, on a loaded machine), so only the grouping is asserted.
    const syncs = dev.syncs - 1;
    assert.ok(syncs >= 1 && syncs <= 8, `16 concurrent FUA writes took ${syncs} syncs`);
    await dev.flush();
    assert.ok(dev.syncs >= 3);
  });

  it('picks up a grown file with refreshSize()', async (t) => {
    const dev = await device(t, 1 * MiB);
    await growImageFile(dev.path, 1 * MiB, 2 * MiB, 'thin');
    assert.equal(dev.size, 1 * MiB);
    await assert.rejects(dev.write(1 * MiB, Buffer.alloc(10)), RangeError);
    assert.equal(await dev.refreshSize(), 2 * MiB);
    assert.equal(dev.size, 2 * MiB);
    await dev.write(2 * MiB - 10, pattern(10, 9));
    assert.deepEqual(await dev.read(2 * MiB - 10, 10), pattern(10, 9));
  });

  it('rejects ranges outside the device as a caller bug (RangeError)', async (t) => {
    const dev = await device(t, 64 * KiB);
    await assert.rejects(dev.read(64 * KiB - 1, 2), RangeError);
    await assert.rejects(dev.read(-1, 1), RangeError);
    await assert.rejects(dev.discard(0, 64 * KiB + 1), RangeError);
    await assert.rejects(dev.allocation(1.5, 1), RangeError);
  });

  it("refuses everything after close as 'unavailable', and waits for writes in flight", async (t) => {
    const dev = await device(t, 1 * MiB);
    const writing = dev.write(0, pattern(512 * KiB, 5));
    const closing = dev.close();
    await writing;
    await closing;
    await dev.close(); // again: harmless
    await assert.rejects(dev.read(0, 1), isBlockIoError('unavailable'));
    await assert.rejects(dev.write(0, Buffer.alloc(1)), isBlockIoError('unavailable'));
    await assert.rejects(dev.flush(), isBlockIoError('unavailable'));
    await assert.rejects(dev.allocation(0, 1), isBlockIoError('unavailable'));
    const reopened = await FileBlockDevice.open(dev.path, { readOnly: true });
    t.after(() => reopened.close());
    assert.deepEqual(await reopened.read(0, 512 * KiB), pattern(512 * KiB, 5));
  });

  it("refuses writes and discards when opened read only, and a missing file as 'unavailable'", async (t) => {
    const dir = tempDir(t);
    const writable = await device(t, 64 * KiB, dir);
    const dev = await FileBlockDevice.open(writable.path, { readOnly: true });
    t.after(() => dev.close());
    await assert.rejects(dev.write(0, Buffer.alloc(1)), isBlockIoError('unavailable'));
    await assert.rejects(dev.discard(0, 1), isBlockIoError('unavailable'));
    assert.deepEqual(await dev.read(0, 4), Buffer.alloc(4));
    await assert.rejects(FileBlockDevice.open(join(dir, 'missing.img')), isBlockIoError('unavailable'));
    await assert.rejects(FileBlockDevice.open(dir), isBlockIoError('unavailable'));
  });

  it("reports a full filesystem as 'no-space', and discard makes room again", async (t) => {
    // One cleanup, in order: close the file, unmount, remove the mount point (after hooks of
    // node:test run in the order they were added, so helpers are not mixed in here).
    const mountPoint = mkdtempSync(join(tmpdir(), 'tandem-tmpfs-'));
    const opened: FileBlockDevice[] = [];
    let mounted = false;
    t.after(async () => {
      for (const dev of opened) await dev.close();
      if (mounted) execFileSync('umount', [mountPoint], { stdio: 'ignore' });
      rmSync(mountPoint, { recursive: true, force: true });
    });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
      mounted = true;
    } catch {
      t.skip('cannot mount a tmpfs here (not root?)');
      return;
    }
    const path = join(mountPoint, 'volume.img');
    await createImageFile(path, 4 * MiB, 'thin');
    const dev = await FileBlockDevice.open(path);
    opened.push(dev);

    let failure: unknown;
    let written = 0;
    for (; written < 4 * MiB; written += 256 * KiB) {
      try {
        await dev.write(written, pattern(256 * KiB, 1));
      } catch (error) {
        failure = error;
        break;
      }
    }
    assert.ok(written < 4 * MiB, 'a 1 MiB tmpfs cannot hold 4 MiB');
    assert.ok(failure instanceof BlockIoError);
    assert.equal(failure.kind, 'no-space');
    assert.equal(failure.errno, 'ENOSPC');
    // A small write runs inline on the event loop (inline-io-policy.ts): the same error, mapped the same.
    await assert.rejects(dev.write(written + 256 * KiB, pattern(8 * KiB, 3)), isBlockIoError('no-space'));

    await dev.discard(0, 512 * KiB);
    await dev.write(written, pattern(256 * KiB, 2));
    assert.deepEqual(await dev.read(written, 256 * KiB), pattern(256 * KiB, 2));
  });
});
