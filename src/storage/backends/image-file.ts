// The backing store of block volumes in a pool: one regular file per volume. Thin files are sparse
// (ftruncate); thick files have every block allocated up front (fallocate), so a thick volume can
// never hit a full pool later. A new file is built under a staging name (`.creating.<hex>.<final>`,
// which no volume can own: names never start with a dot) and linked into place only when complete,
// so the final name never shows a half-allocated file; a staging file left by a crash is unowned.
import { randomBytes } from 'node:crypto';
import { link, open, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { noSpace, TandemError } from '../../lib/errors.js';
import { runProgram } from '../../lib/run-program.js';
import type { Provisioning } from '../../config/repositories/volumes-repo.js';
import { syncDirectory } from '../filesystem.js';

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

const STAGING_PATTERN = /^\.creating\.[0-9a-f]{8}\.(.+)$/;

/** The final file name a staging file was being built for, or null when `entry` is not one. */
export function stagedImageName(entry: string): string | null {
  return STAGING_PATTERN.exec(entry)?.[1] ?? null;
}

/** Creates a new image file at `path`; fails (EEXIST) if one exists. The file is built in full under
 * a staging name and synced, then hard-linked to `path` (which never replaces an existing file), the
 * staging name unlinked and the directory synced. On any failure nothing is left. */
export async function createImageFile(path: string, size: number, provisioning: Provisioning): Promise<void> {
  const staging = join(dirname(path), `.creating.${randomBytes(4).toString('hex')}.${basename(path)}`);
  try {
    const handle = await open(staging, 'wx', 0o600);
    try {
      await handle.truncate(size);
      if (provisioning === 'thick') await allocate(staging, 0, size);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(staging, path);
  } catch (error) {
    await rm(staging, { force: true });
    throw error;
  }
  await unlink(staging);
  await syncDirectory(dirname(path));
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
