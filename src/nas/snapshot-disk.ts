// The on-disk side of NAS snapshots: freeze a volume directory into a snapshot directory in one of
// the three modes, make it read-only, measure what it costs, and remove it again. Programs run with
// argument arrays; every path handed to them is absolute, so none can be taken for an option.
import { lstat, rm } from 'node:fs/promises';
import { TandemError, messageOf } from '../lib/errors.js';
import { runProgram, runProgramChecked } from '../lib/run-program.js';
import { directoryUsage } from '../storage/backends/directory.js';
import type { NasSnapshotMode } from './contract.js';
import { isBtrfs, isBtrfsSubvolume } from './snapshot-mode.js';

/**
 * Copies `volumeDir` to `snapshotDir` (which must not exist; its parent must). btrfs: a read-only
 * subvolume snapshot. reflink/copy: `cp -a` (symlinks, hard links, modes, owners, times, xattrs and
 * holes of sparse files are kept) with --reflink=always or --reflink=auto.
 */
export async function freezeDirectory(
  mode: NasSnapshotMode,
  volumeDir: string,
  snapshotDir: string,
): Promise<void> {
  if (mode === 'btrfs') {
    await runProgramChecked('btrfs', ['subvolume', 'snapshot', '-r', volumeDir, snapshotDir]);
    return;
  }
  const reflink = mode === 'reflink' ? '--reflink=always' : '--reflink=auto';
  const result = await runProgram('cp', ['-a', reflink, '--sparse=auto', '-T', volumeDir, snapshotDir]);
  if (result.code !== 0) {
    await removeSnapshotDirectory(snapshotDir).catch(() => undefined);
    throw new TandemError(
      'internal',
      'snapshot-copy-failed',
      `copying the volume failed: ${result.stderr.trim()}`,
    );
  }
}

/**
 * Makes a reflink/copy snapshot read-only with the immutable flag (chattr +i), which stops root
 * as well and leaves the files' own modes as they were (replication copies those). Returns false when
 * the filesystem has no such flag; the snapshot is then only as read-only as its modes.
 *
 * One `chattr -R` for the whole tree (not a walk in Node and a run per batch). chattr exits non-zero
 * for entries that cannot carry the flag at all (symlinks, fifos, device nodes), so a non-zero exit is
 * checked with one `lsattr -R`: every entry it can read flags of must carry `i`.
 */
export async function makeImmutable(root: string): Promise<boolean> {
  // The root alone first: if it cannot take the flag, the filesystem has none.
  if ((await runProgram('chattr', ['+i', root])).code !== 0) return false;
  // Setting `i` on a file with dirty pages makes ext4 write them out and wait, file by file: 10,000
  // small serial waits (2.7 s here for a fresh 80 MiB copy). One syncfs first writes the whole copy
  // out in one batch (0.6 s), and chattr then finds nothing to flush (0.25 s).
  await runProgram('sync', ['-f', root]);
  const result = await runProgram('chattr', ['-R', '-f', '+i', root]);
  if (result.code === 0) return true;
  const listing = await runProgram('lsattr', ['-R', '-a', root]);
  const unflagged = pathsWithoutImmutable(listing.stdout);
  if (unflagged.length > 0) {
    throw new TandemError(
      'internal',
      'snapshot-readonly-failed',
      `chattr could not make ${unflagged.length} entries immutable, e.g. ${unflagged[0] ?? '?'}: ${result.stderr.trim()}`,
    );
  }
  return true;
}

/**
 * The paths in `lsattr -R -a` output whose flags lack `i`. Its lines are "FLAGS PATH"; directory
 * headers ("PATH:") and blank lines are skipped, as are "." and ".." entries (-a lists them; they are
 * the directory itself and its parent, flagged or checked on their own lines).
 */
export function pathsWithoutImmutable(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^([-a-zA-Z]+) (.+)$/.exec(line);
    if (!match) continue;
    const [, flags = '', path = ''] = match;
    if (path.endsWith('/.') || path.endsWith('/..')) continue;
    if (!flags.includes('i')) out.push(path);
  }
  return out;
}

/** Removes a snapshot directory of any mode; a missing one is fine. */
export async function removeSnapshotDirectory(snapshotDir: string): Promise<void> {
  try {
    await lstat(snapshotDir);
  } catch {
    return;
  }
  if (await isBtrfsSubvolume(snapshotDir)) {
    await runProgramChecked('btrfs', ['subvolume', 'delete', snapshotDir]);
    return;
  }
  // Clear the immutable flags first; -f because symlinks cannot carry them.
  await runProgram('chattr', ['-R', '-f', '-i', snapshotDir]);
  try {
    await rm(snapshotDir, { recursive: true, force: true });
  } catch (error) {
    throw new TandemError(
      'internal',
      'snapshot-remove-failed',
      `removing ${snapshotDir} failed: ${messageOf(error)}`,
    );
  }
}

/** Bytes allocated under `root`, each inode once (the volume manager's own measure). */
export const treeUsage = directoryUsage;

/**
 * What a snapshot costs in the pool. copy: all its blocks. btrfs and reflink on btrfs: its exclusive
 * bytes from `btrfs filesystem du` (blocks no longer shared with the volume). reflink elsewhere: the
 * sharing cannot be measured cheaply, so 0 (shared until changed).
 */
export async function snapshotCost(mode: NasSnapshotMode, snapshotDir: string): Promise<number> {
  if (mode === 'copy') return treeUsage(snapshotDir);
  if (!(await isBtrfs(snapshotDir))) return 0;
  const result = await runProgram('btrfs', ['filesystem', 'du', '-s', '--raw', snapshotDir]);
  return result.code === 0 ? parseBtrfsDuExclusive(result.stdout) : 0;
}

/** `btrfs filesystem du -s --raw` prints a header and "Total Exclusive Set-shared Filename". */
export function parseBtrfsDuExclusive(text: string): number {
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+|-)\s+\S/.exec(line);
    if (match) return Number(match[2]);
  }
  return 0;
}
