// Where a share's directory is on disk, made and checked so that nothing a user typed (or a client
// pushed) can make it point outside its volume: every existing component is checked with lstat (no
// symlinks, only directories), and the result is compared with its realpath.
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { invalid } from '../lib/errors.js';

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** True when `child` is `parent` or lies under it (both absolute and normalised). */
export function isInsideOrSame(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** Two relative share paths of one volume overlap when one is the other or lies inside it. */
export function pathsOverlap(a: string, b: string): boolean {
  if (a === '' || b === '') return true;
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * Checks the share directory `relativePath` (already normalised) under `volumeRoot`: no component may
 * be a symlink or anything but a directory. With `create`, missing components are made (0755);
 * without it a missing directory is an error. Returns the absolute path.
 */
export async function secureShareDirectory(
  volumeRoot: string,
  relativePath: string,
  options: { readonly create: boolean },
): Promise<string> {
  const rootStats = await lstat(volumeRoot).catch((error: unknown) => {
    throw invalid(
      'share-path-unsafe',
      `the volume directory ${volumeRoot} is missing (${errnoOf(error) ?? 'error'})`,
    );
  });
  if (rootStats.isSymbolicLink() || !rootStats.isDirectory()) {
    throw invalid('share-path-unsafe', `the volume directory ${volumeRoot} is not a plain directory`);
  }
  let current = volumeRoot;
  for (const part of relativePath === '' ? [] : relativePath.split('/')) {
    current = join(current, part);
    let stats;
    try {
      stats = await lstat(current);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
      if (!options.create) {
        throw invalid('share-path-missing', `the share directory ${relativePath} is missing in its volume`);
      }
      await mkdir(current, { mode: 0o755 });
      stats = await lstat(current);
    }
    if (stats.isSymbolicLink()) {
      throw invalid(
        'share-path-unsafe',
        `"${relativePath}" passes through a symbolic link (${current}); a share must stay inside its volume`,
      );
    }
    if (!stats.isDirectory()) {
      throw invalid('share-path-unsafe', `"${relativePath}": ${current} exists and is not a directory`);
    }
  }
  // Belt and braces: the resolved path must still be the one we walked, inside the volume.
  const [realRoot, realShare] = await Promise.all([realpath(volumeRoot), realpath(current)]);
  const expected = relativePath === '' ? realRoot : join(realRoot, relativePath);
  if (realShare !== expected || !isInsideOrSame(realShare, realRoot)) {
    throw invalid('share-path-unsafe', `"${relativePath}" resolves outside its volume (${realShare})`);
  }
  return current;
}
