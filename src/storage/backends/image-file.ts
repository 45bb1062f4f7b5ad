// The backing store of block volumes in a pool: one regular file per volume. Thin files are sparse
// (ftruncate); thick files have every block allocated up front (fallocate), so a thick volume can
// never hit a full pool later.
import { open, rm, stat } from 'node:fs/promises';
import { noSpace, TandemError } from '../../lib/errors.js';
import { runProgram } from '../../lib/run-program.js';
import type { Provisioning } from '../../config/repositories/volumes-repo.js';

async function allocate(path: string, offset: number, length: number): Promise<void> {
  if (length <= 0) return;
  const result = await runProgram('fallocate', [
    '--offset',
    String(offset),
    '--length',
    String(length),
    path,
  ]);
  if (result.code !== 0) {
    const said = result.stderr.trim();
    if (/no space/i.test(said))
      throw noSpace('pool-full', `not enough space in the pool to preallocate ${path}`);
    throw new TandemError(
      'internal',
      'preallocate-failed',
      `cannot preallocate ${path}: ${said || 'fallocate failed'}`,
    );
  }
}

/** Creates a new image file; fails if one exists. On any failure the file is removed again. */
export async function createImageFile(path: string, size: number, provisioning: Provisioning): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.truncate(size);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (provisioning === 'thick') await allocate(path, 0, size);
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
}

/** Grows an image file to `newSize`; the new tail is preallocated for thick volumes. */
export async function growImageFile(
  path: string,
  oldSize: number,
  newSize: number,
  provisioning: Provisioning,
): Promise<void> {
  if (provisioning === 'thick') await allocate(path, oldSize, newSize - oldSize);
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(newSize);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function removeImageFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Bytes the file really occupies on disk (less than its size when thin). */
export async function allocatedBytes(path: string): Promise<number> {
  try {
    const stats = await stat(path);
    return stats.blocks * 512;
  } catch {
    return 0;
  }
}
