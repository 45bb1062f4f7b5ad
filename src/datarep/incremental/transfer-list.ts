// Turns a change list (volume-relative paths, see change-list.ts) into rsync's --files-from list for one
// share of the new snapshot. Needs the snapshot on disk: which paths are directories, which trees to
// walk, and whether a file has other hard links (rsync can only keep a hard link whose every name it
// transfers, so such a change needs the whole tree).
import type { BigIntStats, Dirent } from 'node:fs';
import { lstatSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeList } from './change-list.js';

/** Why the run has to look at the whole tree instead. */
export class NeedsFullTransfer extends Error {}

/**
 * The list, relative to the share's directory in the snapshot: a directory to compare entry by entry
 * ends with "/" ("." is the share itself, which rsync also reads as its contents). A path that is not in
 * the snapshot stays in the list: rsync deletes it on the destination (--delete-missing-args) or skips it.
 */
export async function transferList(
  changes: ChangeList,
  snapshotRoot: string,
  shareRelative: string,
  baseRoot?: string,
): Promise<string[]> {
  if (changes.hardLinks) throw new NeedsFullTransfer('the changes include a new hard link');
  const share = shareRelative.replace(/^\/+|\/+$/g, '');
  const inShare = (path: string): string | undefined => {
    if (share === '') return path === '' ? '.' : path;
    if (path === share) return '.';
    return path.startsWith(`${share}/`) ? path.slice(share.length + 1) : undefined;
  };
  const isAncestorOfShare = (path: string): boolean =>
    share !== '' && (path === '' || share.startsWith(`${path}/`));
  const shareDir = share === '' ? snapshotRoot : join(snapshotRoot, share);
  // Synchronous stats of cached metadata take microseconds, the thread pool's tens; yield now and then
  // so a long list does not hold the event loop (the iSCSI target shares it).
  let statted = 0;
  const statIn = async (dir: string, relative: string): Promise<BigIntStats | undefined> => {
    if (++statted % 512 === 0) await new Promise((resolve) => setImmediate(resolve));
    try {
      return lstatSync(relative === '.' ? dir : join(dir, relative), { bigint: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  };
  const stat = (relative: string): Promise<BigIntStats | undefined> => statIn(shareDir, relative);
  /**
   * A path that is not in the snapshot: itself when its directory is there (rsync then deletes or skips
   * it), else its nearest ancestor that is a file now (rsync cannot name a path below a file, and
   * transferring that file replaces the whole old directory on the destination).
   */
  const missing = async (relative: string): Promise<string> => {
    let path = relative;
    for (;;) {
      const slash = path.lastIndexOf('/');
      if (slash < 0) return path;
      const parent = path.slice(0, slash);
      const stats = await stat(parent);
      if (stats?.isDirectory()) return path;
      if (stats) return parent;
      path = parent;
    }
  };
  const baseShareDir = baseRoot === undefined ? undefined : share === '' ? baseRoot : join(baseRoot, share);
  /**
   * True when the path is the same inode with the same change time in the base as `now`: nothing rsync
   * copies differs (any write, chmod, chown, xattr or rename moves the ctime). This drops the entries
   * a read makes (btrfs sends the atime update; rsync does not copy atimes).
   */
  const unchangedSinceBase = async (relative: string, now: BigIntStats): Promise<boolean> => {
    if (baseShareDir === undefined || relative === '.') return false;
    const before = await statIn(baseShareDir, relative);
    return (
      before !== undefined &&
      before.ino === now.ino &&
      before.ctimeNs === now.ctimeNs &&
      before.mtimeNs === now.mtimeNs &&
      before.size === now.size &&
      before.mode === now.mode &&
      before.nlink === now.nlink
    );
  };
  const checkLinks = (relative: string, stats: BigIntStats): void => {
    if (stats.isFile() && stats.nlink > 1) {
      throw new NeedsFullTransfer(`${relative} has ${stats.nlink} hard links`);
    }
  };

  const list = new Set<string>();
  for (const path of changes.trees) {
    if (isAncestorOfShare(path)) throw new NeedsFullTransfer('the share directory itself was replaced');
    const relative = inShare(path);
    if (relative === undefined) continue;
    if (relative === '.') throw new NeedsFullTransfer('the share directory itself was replaced');
    const stats = await stat(relative);
    if (stats?.isDirectory()) await addTree(relative, join(shareDir, relative), list);
    else if (stats) {
      checkLinks(relative, stats);
      list.add(relative);
    } else list.add(await missing(relative));
  }
  for (const path of changes.contents) {
    const relative = inShare(path);
    if (relative === undefined) continue;
    const stats = await stat(relative);
    if (stats) list.add(stats.isDirectory() ? contentsOf(relative) : relative);
    else list.add(await missing(relative));
  }
  for (const path of changes.entries) {
    const relative = inShare(path);
    if (relative === undefined) continue;
    const stats = await stat(relative);
    if (stats) {
      if (await unchangedSinceBase(relative, stats)) continue;
      checkLinks(relative, stats);
      list.add(relative);
    } else list.add(await missing(relative));
  }
  // Writing an entry of the share's top level changes the destination's top directory; rsync restores
  // the times of the directories above a listed path, but not of the top one unless it is listed.
  if ([...list].some((path) => !path.replace(/\/$/, '').includes('/'))) list.add('.');
  return [...list].sort();
}

const contentsOf = (relative: string): string => (relative === '.' ? '.' : `${relative}/`);

/** Every directory of a tree, for its contents; every file in it checked for other hard links. */
async function addTree(relative: string, absolute: string, list: Set<string>): Promise<void> {
  list.add(contentsOf(relative));
  let entries: Dirent[];
  try {
    entries = await readdir(absolute, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const childRelative = `${relative}/${entry.name}`;
    const childAbsolute = join(absolute, entry.name);
    if (entry.isDirectory()) await addTree(childRelative, childAbsolute, list);
    else if (entry.isFile()) {
      const stats = await lstat(childAbsolute);
      if (stats.nlink > 1) throw new NeedsFullTransfer(`${childRelative} has ${stats.nlink} hard links`);
    }
  }
}
