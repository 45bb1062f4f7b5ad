// From the commands of a btrfs send stream (base snapshot -> new snapshot) to what rsync must look at:
// the paths that may differ between the two snapshots. The stream describes how to turn the base into
// the new tree step by step, with intermediate names (a new inode is made under an orphan name such as
// "o261-7-0" in the root and renamed into place; a directory may be renamed after its entries were
// touched), so every recorded path is carried forward through each later rename to its final name.
//
// The list errs on the side of more: a path listed needlessly costs rsync a stat, a path missed is a
// file the backup lacks. Every path a command names is listed; a directory whose entries were added,
// removed or renamed is listed for its contents ("dir/": rsync compares every entry and, with --delete,
// removes what the source no longer has); a renamed or new directory is listed as a whole tree.
import { SendStreamError, type SendCommand } from './send-stream.js';

export interface ChangeList {
  /** Paths to list as themselves (a file, a link, a directory's own attributes). */
  readonly entries: ReadonlySet<string>;
  /** Directories whose immediate entries must be compared. */
  readonly contents: ReadonlySet<string>;
  /** Directories (if they are ones in the new snapshot) whose whole subtree must be listed. */
  readonly trees: ReadonlySet<string>;
  /** True when the stream made a hard link: the caller then copies the whole tree (see below). */
  readonly hardLinks: boolean;
}

/** Above this many commands an incremental list saves nothing worth its risk: copy the whole tree. */
export const MAX_COMMANDS = 200_000;
/** Renames carry every recorded path forward; past this much work the list is not worth building. */
const MAX_RENAME_WORK = 20_000_000;

type Kind = 'entry' | 'contents' | 'tree';

/** Names btrfs send gives inodes between two places: "o<inode>-<generation>-<n>", in the root only. */
const ORPHAN = /^o\d+-\d+-\d+$/;
const isOrphan = (path: string): boolean => ORPHAN.test(path);

const parentOf = (path: string): string => {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
};

const CREATES = new Set(['mkfile', 'mkdir', 'mknod', 'mkfifo', 'mksock', 'symlink']);
const REMOVES = new Set(['unlink', 'rmdir']);
const CHANGES = new Set([
  'setXattr',
  'removeXattr',
  'write',
  'clone',
  'truncate',
  'chmod',
  'chown',
  'utimes',
  'updateExtent',
  'fallocate',
  'fileattr',
  'encodedWrite',
  'enableVerity',
]);

export function changeListOf(commands: readonly SendCommand[]): ChangeList {
  if (commands.length > MAX_COMMANDS) {
    throw new SendStreamError(`${commands.length} changes: more than an incremental list is for`);
  }
  // Paths recorded so far, each carried forward by later renames.
  const recorded: { path: string; kind: Kind }[] = [];
  const record = (path: string, kind: Kind): void => {
    recorded.push({ path, kind });
  };
  /** A directory whose entry set changed; an orphan's parent (the root) only holds it in passing. */
  const touchParent = (path: string): void => {
    if (!isOrphan(path)) record(parentOf(path), 'contents');
  };
  let hardLinks = false;
  let seenHeader = false;
  let renameWork = 0;
  for (const c of commands) {
    const { command } = c;
    if (command === 'subvol' || command === 'snapshot') {
      if (seenHeader) throw new SendStreamError('a second subvolume in one stream');
      seenHeader = true;
      continue;
    }
    if (command === 'end') break;
    const path = c.path;
    if (path === undefined) throw new SendStreamError(`${command} without a path`);
    if (CREATES.has(command)) {
      record(path, command === 'mkdir' ? 'tree' : 'entry');
      touchParent(path);
    } else if (REMOVES.has(command)) {
      record(path, 'entry');
      touchParent(path);
    } else if (command === 'rename') {
      const to = c.pathTo;
      if (to === undefined) throw new SendStreamError('rename without a new name');
      renameWork += recorded.length;
      if (renameWork > MAX_RENAME_WORK) throw new SendStreamError('too many renames for a change list');
      for (const r of recorded) {
        if (r.path === path) r.path = to;
        else if (r.path.startsWith(`${path}/`)) r.path = to + r.path.slice(path.length);
      }
      // The old name: gone from its directory (or now another object's); the new one: a whole tree
      // if it is a directory, since its entries are new at this place.
      record(path, 'entry');
      touchParent(path);
      record(to, 'tree');
      touchParent(to);
    } else if (command === 'link') {
      hardLinks = true;
      record(path, 'entry');
      touchParent(path);
      if (c.pathLink !== undefined) record(c.pathLink, 'entry');
    } else if (CHANGES.has(command)) {
      record(path, 'entry');
    } else {
      throw new SendStreamError(`unexpected ${command} command`);
    }
  }
  const sets: Record<Kind, Set<string>> = { entry: new Set(), contents: new Set(), tree: new Set() };
  for (const r of recorded) sets[r.kind].add(r.path);
  return { entries: sets.entry, contents: sets.contents, trees: sets.tree, hardLinks };
}
