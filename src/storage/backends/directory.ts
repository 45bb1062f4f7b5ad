// The backing store of NAS volumes: a directory in the pool. Its size is a quota that the volume
// manager accounts; usage is measured by walking the tree.
import { lstat, mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runProgram } from '../../lib/run-program.js';
import { syncDirectory } from '../filesystem.js';

const BTRFS_SUPER_MAGIC = 0x9123683e;

/** On btrfs the directory is a subvolume, so NAS snapshots of it are instant btrfs snapshots. Fails
 * (EEXIST) when `path` exists; the new entry is durable when this returns. */
export async function createVolumeDirectory(path: string): Promise<void> {
  let made = false;
  if ((await statfs(dirname(path))).type === BTRFS_SUPER_MAGIC) {
    const result = await runProgram('btrfs', ['subvolume', 'create', path]).catch(() => null);
    made = result?.code === 0;
  }
  if (!made) await mkdir(path, { mode: 0o755 });
  await syncDirectory(dirname(path));
}

export async function removeVolumeDirectory(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Bytes allocated by everything under `path` (not `path` itself), not following symlinks; a file
 * with several hard links is counted once. */
export async function directoryUsage(path: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const pending = [path];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const child = join(dir, entry);
      try {
        const stats = await lstat(child);
        if (stats.nlink > 1 && !stats.isDirectory()) {
          const key = `${String(stats.dev)}:${String(stats.ino)}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += stats.blocks * 512;
        if (stats.isDirectory()) pending.push(child);
      } catch {
        // A file removed while we walk simply does not count.
      }
    }
  }
  return total;
}
