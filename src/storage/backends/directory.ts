// The backing store of NAS volumes: a directory in the pool. Its size is a quota that the volume
// manager accounts; usage is measured by walking the tree.
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export async function createVolumeDirectory(path: string): Promise<void> {
  await mkdir(path, { mode: 0o755 });
}

export async function removeVolumeDirectory(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Bytes allocated by everything under `path`, not following symlinks. */
export async function directoryUsage(path: string): Promise<number> {
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
        total += stats.blocks * 512;
        if (stats.isDirectory()) pending.push(child);
      } catch {
        // A file removed while we walk simply does not count.
      }
    }
  }
  return total;
}
