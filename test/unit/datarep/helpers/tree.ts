// Builds a test tree with the hard cases (unicode, spaces, symlinks, hard links, sparse files, odd
// permissions) and describes a tree so two can be compared: names, types, modes, sizes, contents, link
// targets, which names share an inode, and allocated blocks of sparse files.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  ftruncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export function buildHardTree(root: string): void {
  mkdirSync(join(root, 'dir with spaces', 'ünïcödé ☃'), { recursive: true });
  writeFileSync(join(root, 'plain.txt'), 'hello\n');
  writeFileSync(join(root, 'dir with spaces', 'file name with spaces.txt'), 'spaces\n');
  writeFileSync(join(root, 'dir with spaces', 'ünïcödé ☃', '日本語ファイル.txt'), 'unicode\n');
  writeFileSync(join(root, 'secret.bin'), Buffer.alloc(4096, 7), { mode: 0o600 });
  chmodSync(join(root, 'secret.bin'), 0o600);
  writeFileSync(join(root, 'script.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'script.sh'), 0o755);
  mkdirSync(join(root, 'locked'), { mode: 0o700 });
  chmodSync(join(root, 'locked'), 0o700);
  writeFileSync(join(root, 'locked', 'readonly.txt'), 'ro\n');
  chmodSync(join(root, 'locked', 'readonly.txt'), 0o444);
  symlinkSync('plain.txt', join(root, 'link-to-plain'));
  symlinkSync('../../no/such/target', join(root, 'dangling-link'));
  symlinkSync('dir with spaces/ünïcödé ☃', join(root, 'link to dir'));
  writeFileSync(join(root, 'hard-a'), 'shared inode\n');
  linkSync(join(root, 'hard-a'), join(root, 'dir with spaces', 'hard-b'));
  // 64 MiB apparent size, 4 KiB of data at the end.
  const fd = openSync(join(root, 'sparse.img'), 'w');
  ftruncateSync(fd, 64 * 1024 * 1024);
  writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 64 * 1024 * 1024 - 4096);
  closeSync(fd);
}

export interface EntryFacts {
  readonly type: 'file' | 'dir' | 'symlink';
  readonly mode: number;
  readonly size: number;
  readonly hash: string | null;
  readonly target: string | null;
}

export interface TreeFacts {
  readonly entries: Record<string, EntryFacts>;
  /** Groups of names that share an inode (only groups of two or more), sorted. */
  readonly hardLinkGroups: string[][];
  /** Allocated bytes per regular file. */
  readonly allocated: Record<string, number>;
}

export function describeTree(root: string): TreeFacts {
  const entries: Record<string, EntryFacts> = {};
  const inodes = new Map<number, string[]>();
  const allocated: Record<string, number> = {};
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      const st = lstatSync(path);
      if (st.isSymbolicLink()) {
        entries[rel] = { type: 'symlink', mode: 0, size: 0, hash: null, target: readlinkSync(path) };
      } else if (st.isDirectory()) {
        entries[rel] = { type: 'dir', mode: st.mode & 0o7777, size: 0, hash: null, target: null };
        walk(path, rel);
      } else {
        entries[rel] = {
          type: 'file',
          mode: st.mode & 0o7777,
          size: st.size,
          hash: createHash('sha256').update(readFileSync(path)).digest('hex'),
          target: null,
        };
        inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
        allocated[rel] = st.blocks * 512;
      }
    }
  };
  walk(root, '');
  const hardLinkGroups = [...inodes.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort();
  return { entries, hardLinkGroups, allocated };
}
