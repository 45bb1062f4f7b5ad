// Incremental runs against the real thing: a btrfs loop filesystem, `btrfs send --no-data` and rsync.
// Random rounds of changes (creates, edits, deletes, renames of files and directories, swaps, type
// changes, modes, times, symlinks, the odd hard link, names that look like btrfs's orphan names), then a
// snapshot, the change list against the previous snapshot, an rsync of just that list, and a checksum
// comparison of the whole destination with the snapshot. The seed is in every failure message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { planIncremental } from '../../../src/datarep/incremental/plan.js';
import { transferFlags } from '../../../src/datarep/rsync-command.js';
import { canMountBtrfs, mountBtrfs } from '../../helpers/btrfs-loop.js';

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
}

const NAMES = ['a', 'b', 'c d', 'ünï ☃', '日本', 'o1-1-0', 'x.txt', 'new', 'deep'];

/** Every path under root (relative), directories included, symlinks not followed. */
function walk(root: string, relative = ''): { path: string; dir: boolean; file: boolean }[] {
  const out: { path: string; dir: boolean; file: boolean }[] = [];
  for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    out.push({ path, dir: entry.isDirectory(), file: entry.isFile() });
    if (entry.isDirectory()) out.push(...walk(root, path));
  }
  return out;
}

/**
 * One random change. With `pastDirs` (runs without --delete) nothing but a directory is ever made where
 * a directory once was: the destination still holds that directory, and no rsync can put a file in its
 * place without deleting (it exits 23, and with -H may then skip the file's other names as well).
 */
function mutate(root: string, random: () => number, pastDirs?: Set<string>): void {
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
  const all = walk(root);
  const dirs = ['', ...all.filter((e) => e.dir).map((e) => e.path)];
  // Regular files only: a write, chmod or utimes through a symlink would reach its target.
  const files = all.filter((e) => e.file).map((e) => e.path);
  const links = all.filter((e) => !e.dir && !e.file).map((e) => e.path);
  for (const d of dirs) pastDirs?.add(d);
  const at = (path: string): string => join(root, path);
  // A name to create or rename onto; never an existing symlink, which a write would follow.
  const fresh = (): string => {
    const dir = pick(dirs) ?? '';
    let path = dir === '' ? (pick(NAMES) ?? 'n') : `${dir}/${pick(NAMES) ?? 'n'}`;
    while (lstatSync(at(path), { throwIfNoEntry: false })?.isSymbolicLink() === true) path += '-f';
    return path;
  };
  const freshFile = (): string => {
    const path = fresh();
    if (pastDirs?.has(path) === true) throw Object.assign(new Error('was a directory'), { code: 'EEXIST' });
    return path;
  };
  const bytes = (): Buffer =>
    Buffer.from(Array.from({ length: Math.floor(random() * 5000) }, () => random() * 256));
  const file = pick(files);
  const dir = pick(dirs.slice(1));
  const op = Math.floor(random() * 18);
  try {
    if (op === 0 || op === 1) writeFileSync(at(freshFile()), bytes());
    else if (op === 2 && file) writeFileSync(at(file), bytes());
    else if (op === 3 && file) appendFileSync(at(file), bytes());
    else if (op === 4 && file) truncateSync(at(file), Math.floor(random() * 100));
    else if (op === 5 && file) rmSync(at(random() < 0.2 ? (pick(links) ?? file) : file));
    else if (op === 6 && file) renameSync(at(random() < 0.2 ? (pick(links) ?? file) : file), at(freshFile()));
    else if (op === 7) mkdirSync(at(fresh()), { recursive: true });
    else if (op === 8 && dir) renameSync(at(dir), at(fresh()));
    else if (op === 9 && dir) {
      const other = pick(dirs.slice(1));
      if (other && other !== dir && !other.startsWith(`${dir}/`) && !dir.startsWith(`${other}/`)) {
        renameSync(at(dir), at('swap-tmp'));
        renameSync(at(other), at(dir));
        renameSync(at('swap-tmp'), at(other));
      }
    } else if (op === 10 && dir) rmSync(at(dir), { recursive: true });
    else if (op === 11) {
      const target = pick([...files, ...dirs.slice(1)]);
      if (target) chmodSync(at(target), pick([0o600, 0o644, 0o755, 0o700]) ?? 0o644);
    } else if (op === 12) symlinkSync(pick(['a', 'b/c d', 'no/such', 'deep/x.txt']) ?? 'x', at(freshFile()));
    else if (op === 13 && file) {
      writeFileSync(at('replace-tmp'), bytes());
      renameSync(at('replace-tmp'), at(file));
    } else if (op === 14) {
      const target = pick([...files, ...dirs]);
      if (target !== undefined) {
        const when = new Date(Date.UTC(2020, 0, 1 + Math.floor(random() * 300)));
        utimesSync(at(target), when, when);
      }
    } else if (op === 15 && file && random() < 0.3) linkSync(at(file), at(freshFile()));
    // A read: only the atime moves (relatime), which btrfs sends and the list must drop or copy right.
    else if (op === 17 && file) readFileSync(at(file));
    else if (op === 16 && file) {
      rmSync(at(file));
      mkdirSync(at(file));
      writeFileSync(at(`${file}/inside`), bytes());
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!['ENOENT', 'EEXIST', 'ENOTEMPTY', 'EINVAL', 'EISDIR', 'ENOTDIR'].includes(code)) throw error;
  }
}

/** Removes non-directories that a directory rename brought to where a directory once was (see mutate). */
function clearPastDirectories(root: string, pastDirs: Set<string> | undefined): void {
  if (!pastDirs) return;
  for (const entry of walk(root)) {
    if (!entry.dir && pastDirs.has(entry.path)) rmSync(join(root, entry.path));
  }
}

function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** What rsync would still change to make `destination` equal to `source`: nothing, when equal. */
function differences(source: string, destination: string, withDelete = true): string {
  return run('rsync', [
    '-naHAXSc',
    '--numeric-ids',
    ...(withDelete ? ['--delete'] : []),
    '--out-format=%i %n',
    `${source}/`,
    `${destination}/`,
  ]).trim();
}

for (const deleteExtraneous of [true, false]) {
  test(
    `incremental runs leave the destination equal to each snapshot (delete ${deleteExtraneous ? 'on' : 'off'})`,
    { skip: canMountBtrfs === true ? false : canMountBtrfs },
    async (t) => {
      const mount = mountBtrfs(t, '512M');
      if (mount === undefined) return;
      const seed = Number(process.env.TANDEM_TEST_SEED ?? Date.now() % 1_000_000);
      const random = seeded(seed + (deleteExtraneous ? 0 : 1));
      const volume = join(mount, 'vol');
      const destination = join(mount, 'dst');
      // Without --delete the destination keeps what the source lost, so it is compared with a second one
      // kept by a plain rsync with the same flags: the incremental list must give exactly its result.
      const plainDestination = join(mount, 'plain');
      run('btrfs', ['subvolume', 'create', volume]);
      mkdirSync(join(volume, 'share'));
      mkdirSync(join(volume, 'other'));
      mkdirSync(destination);
      mkdirSync(plainDestination);
      const pastDirs = deleteExtraneous ? undefined : new Set<string>();
      for (let i = 0; i < 40; i++) mutate(join(volume, 'share'), random, pastDirs);
      clearPastDirectories(join(volume, 'share'), pastDirs);

      let base: string | undefined;
      let incremental = 0;
      const rounds = 30;
      for (let round = 0; round < rounds; round++) {
        const snapshot = join(mount, `snap-${round}`);
        run('btrfs', ['subvolume', 'snapshot', '-r', volume, snapshot]);
        const plan = base
          ? await planIncremental({ baseSnapshot: base, newSnapshot: snapshot, shareRelative: 'share' })
          : { kind: 'full' as const, reason: 'first run' };
        const listFile = join(mount, 'list');
        if (plan.kind === 'incremental') {
          incremental++;
          writeFileSync(listFile, plan.paths.map((p) => `${p}\0`).join(''));
        }
        const flags = (filesFrom?: string): string[] =>
          transferFlags({
            deleteExtraneous,
            bandwidthLimit: null,
            compress: false,
            ...(filesFrom === undefined ? {} : { filesFrom }),
          }).filter((f) => !f.startsWith('--info') && !f.startsWith('--contimeout'));
        const source = `${join(snapshot, 'share')}/`;
        run('rsync', [
          ...flags(plan.kind === 'incremental' ? listFile : undefined),
          '--',
          source,
          `${destination}/`,
        ]);
        run('rsync', [...flags(), '--', source, `${plainDestination}/`]);
        const what = `seed ${seed}, round ${round} (${plan.kind === 'incremental' ? `list: ${plan.paths.join(' | ')}` : plan.reason})`;
        assert.equal(differences(plainDestination, destination), '', what);
        assert.equal(differences(join(snapshot, 'share'), destination, deleteExtraneous), '', what);
        if (base) run('btrfs', ['subvolume', 'delete', base]);
        base = snapshot;
        const changes = 1 + Math.floor(random() * 12);
        for (let i = 0; i < changes; i++) mutate(join(volume, 'share'), random, pastDirs);
        clearPastDirectories(join(volume, 'share'), pastDirs);
        if (random() < 0.3) writeFileSync(join(volume, 'other', 'noise'), String(random()));
      }
      // Hard links make some rounds copy the whole tree; most must have been incremental, or the test
      // would prove nothing about the change list.
      assert.ok(
        incremental >= rounds / 2,
        `seed ${seed}: only ${incremental} of ${rounds - 1} rounds were incremental`,
      );
    },
  );
}
