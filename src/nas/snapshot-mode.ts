// Which way a NAS volume can be frozen, decided from its pool's filesystem:
//   btrfs   the volume directory is a btrfs subvolume: `btrfs subvolume snapshot -r` (instant, shared);
//   reflink the filesystem clones file extents (FICLONE: btrfs, XFS with reflink, bcachefs ...):
//           a copy of the tree whose files share their blocks until changed;
//   copy    anything else: a full copy.
import { constants } from 'node:fs';
import { copyFile, mkdtemp, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NasSnapshotMode } from './contract.js';

export const BTRFS_SUPER_MAGIC = 0x9123683e;
/** The root directory of every btrfs subvolume has this inode number. */
export const BTRFS_SUBVOLUME_ROOT_INODE = 256;

export async function isBtrfs(path: string): Promise<boolean> {
  return (await statfs(path)).type === BTRFS_SUPER_MAGIC;
}

/** True when `path` is the root of a btrfs subvolume. */
export async function isBtrfsSubvolume(path: string): Promise<boolean> {
  if (!(await isBtrfs(path))) return false;
  return (await stat(path)).ino === BTRFS_SUBVOLUME_ROOT_INODE;
}

/** Tries a forced clone of a small file in `dir`; true when the filesystem supports FICLONE. */
export async function probeReflink(dir: string): Promise<boolean> {
  const probeDir = await mkdtemp(join(dir, '.reflink-probe-'));
  try {
    const source = join(probeDir, 'a');
    await writeFile(source, 'reflink probe\n');
    await copyFile(source, join(probeDir, 'b'), constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await rm(probeDir, { recursive: true, force: true });
  }
}

/** Picks the mode per volume; the reflink probe runs once per directory it is asked about (the
 * pool's snapshot directory), as a filesystem's features do not change under a running daemon. */
export class SnapshotModeProbe {
  private readonly reflink = new Map<string, Promise<boolean>>();

  async modeFor(volumeDir: string, snapshotDir: string): Promise<NasSnapshotMode> {
    if (await isBtrfsSubvolume(volumeDir)) return 'btrfs';
    let probe = this.reflink.get(snapshotDir);
    if (probe === undefined) {
      probe = probeReflink(snapshotDir);
      this.reflink.set(snapshotDir, probe);
    }
    return (await probe) ? 'reflink' : 'copy';
  }
}
