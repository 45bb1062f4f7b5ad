// Setting aside a file or directory that no volume owns: one rename into the pool's orphans folder
// (`POOL/orphans/<UTC time>-<name>`), on the same filesystem, so it works for image files, directories
// and btrfs subvolumes alike and copies nothing. Nothing is ever deleted here: what is set aside
// stays there for an administrator to look at and remove.
import { lstat, mkdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDirectory } from '../storage/filesystem.js';

export const ORPHANS_DIR = 'orphans';

/** `2026-03-01T10:20:30.123Z` as `20260301T102030Z`: sortable, and safe in a file name. */
export function orphanStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/**
 * Moves `path` into `poolPath`'s orphans folder as `<stamp>-<name>` (`name` is the path's own by
 * default; `-2`, `-3`, ... is appended when taken) and makes both directories durable. Returns where
 * it went. Throws when the move is impossible; then `path` is where it was. Callers run one at a time
 * (the volume mutex, or start-up before the API serves), so a free name stays free until the rename.
 */
export async function setAside(
  poolPath: string,
  path: string,
  at: Date,
  name: string = basename(path),
): Promise<string> {
  const dir = join(poolPath, ORPHANS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const base = `${orphanStamp(at)}-${name}`;
  for (let n = 1; ; n += 1) {
    const target = join(dir, n === 1 ? base : `${base}-${String(n)}`);
    if (await exists(target)) continue;
    await rename(path, target);
    await syncDirectory(dirname(path));
    await syncDirectory(dir);
    return target;
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
