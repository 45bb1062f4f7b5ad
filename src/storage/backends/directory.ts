// The backing store of NAS volumes: a directory in the pool. Its size is a quota that the volume
// manager accounts; usage is measured by walking the tree.
import { lstat, mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runProgram } from '../../lib/run-program.js';

const BTRFS_SUPER_MAGIC = 0x9123683e;

/** On btrfs the directory is a subvolume, so NAS snapshots of it are instant btrfs snapshots. */
export async function createVolumeDirectory(path: string): Promise<void> {
  if ((await statfs(dirname(path))).type === BTRFS_SUPER_MAGIC) {
    const made = await runProgram('btrfs', ['subvolume', 'create', path]).catch(() => null);
    if (made?.code === 0) return;
  }
  await mkdir(path, { mode: 0o755 });
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
