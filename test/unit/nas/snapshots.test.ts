// NAS snapshots in each mode this machine offers: copy on the temp dir's filesystem (ext4 here), and,
// when we are root with mkfs.btrfs, reflink and btrfs subvolume snapshots on a btrfs loop filesystem.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  closeSync,
  writeSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTandemError } from '../../../src/lib/errors.js';
import { parseBtrfsDuExclusive, pathsWithoutImmutable } from '../../../src/nas/snapshot-disk.js';
import { TRASH_DIR } from '../../../src/nas/snapshot-trash.js';
import { canMountBtrfs, mountBtrfs } from '../../helpers/btrfs-loop.js';
import { makeNas, type NasFixture } from './nas-fixture.js';

const MiB = 1024 * 1024;
const code = (c: string) => (error: unknown) => isTandemError(error) && error.code === c;

/** A tree with what a copy must keep: modes, times, symlinks, hard links, holes, unicode names. */
function fillTree(root: string): void {
  mkdirSync(join(root, 'docs', 'sub dir'), { recursive: true });
  writeFileSync(join(root, 'docs', 'report.txt'), 'numbers\n');
  chmodSync(join(root, 'docs', 'report.txt'), 0o640);
  utimesSync(
    join(root, 'docs', 'report.txt'),
    new Date('2020-01-02T03:04:05Z'),
    new Date('2020-01-02T03:04:05Z'),
  );
  linkSync(join(root, 'docs', 'report.txt'), join(root, 'docs', 'hard.txt'));
  symlinkSync('/etc/passwd', join(root, 'docs', 'outside-link'));
  writeFileSync(join(root, 'docs', 'sub dir', 'ünïcode €.txt'), 'unicode\n');
  const fd = openSync(join(root, 'sparse.img'), 'w');
  writeSync(fd, 'end', 20 * MiB);
  closeSync(fd);
}

function checkTree(root: string): void {
  assert.equal(readFileSync(join(root, 'docs', 'report.txt'), 'utf8'), 'numbers\n');
  const report = statSync(join(root, 'docs', 'report.txt'));
  assert.equal(report.mode & 0o777, 0o640);
  assert.equal(report.mtime.toISOString(), '2020-01-02T03:04:05.000Z');
  assert.equal(statSync(join(root, 'docs', 'hard.txt')).ino, report.ino, 'hard link kept');
  assert.ok(lstatSync(join(root, 'docs', 'outside-link')).isSymbolicLink());
  assert.equal(readlinkSync(join(root, 'docs', 'outside-link')), '/etc/passwd');
  assert.equal(readFileSync(join(root, 'docs', 'sub dir', 'ünïcode €.txt'), 'utf8'), 'unicode\n');
  const sparse = statSync(join(root, 'sparse.img'));
  assert.equal(sparse.size, 20 * MiB + 3);
  assert.ok(sparse.blocks * 512 < MiB, `sparse file kept its hole (${sparse.blocks * 512} bytes allocated)`);
}

async function exerciseMode(
  f: NasFixture,
  pool: string | undefined,
  expected: string,
  prepare: (path: string) => void = () => undefined,
): Promise<void> {
  const volume = await f.volumes.create({
    name: 'data',
    type: 'nas',
    size: 64 * MiB,
    ...(pool ? { pool } : {}),
  });
  prepare(volume.path);
  fillTree(volume.path);
  const snap = await f.nas.createSnapshot('data', { name: 'first' });
  assert.equal(snap.mode, expected);
  assert.ok(!snap.path.startsWith(`${volume.path}/`), 'the snapshot lives outside the volume and its shares');
  assert.match(snap.path, /\/nas-snapshots\/data\/first$/);
  checkTree(snap.path);
  // Read-only, for root too.
  assert.throws(() => writeFileSync(join(snap.path, 'new.txt'), 'x'), /EPERM|EROFS|EACCES/);
  assert.throws(() => unlinkSync(join(snap.path, 'docs', 'report.txt')), /EPERM|EROFS|EACCES/);
  // Deep down too (one recursive chattr reached every file).
  assert.throws(
    () => writeFileSync(join(snap.path, 'docs', 'sub dir', 'ünïcode €.txt'), 'x'),
    /EPERM|EROFS|EACCES/,
  );
  // Frozen: later changes to the volume do not show.
  writeFileSync(join(volume.path, 'docs', 'report.txt'), 'changed\n');
  assert.equal(readFileSync(join(snap.path, 'docs', 'report.txt'), 'utf8'), 'numbers\n');
  assert.deepEqual(
    f.nas.snapshots('data').map((s) => [s.name, s.mode]),
    [['first', expected]],
  );
  await f.nas.deleteSnapshot('data', 'first');
  assert.ok(!existsSync(snap.path));
  assert.deepEqual(f.nas.snapshots('data'), []);
  // Removed from disk in the background: nothing is left in the pool's trash afterwards.
  await f.nas.trashSwept();
  const trash = join(snap.path, '..', '..', '..', TRASH_DIR);
  assert.deepEqual(existsSync(trash) ? readdirSync(trash) : [], [], 'the trash was swept');
}

test('copy mode keeps everything, is read-only and costs its full size', async (t) => {
  const f = await makeNas(t);
  await exerciseMode(f, undefined, 'copy');

  const snap = await f.nas.createSnapshot('data');
  assert.match(snap.name, /^snap-\d{8}-\d{6}$/);
  const second = await f.nas.createSnapshot('data');
  assert.notEqual(second.name, snap.name, 'default names never collide');
  assert.ok(snap.bytes > 0 && snap.bytes < 2 * MiB, `cost ${snap.bytes}`);
  const view = await f.volumes.show('data');
  assert.equal(view.snapshotUsed, snap.bytes + second.bytes);
  const listed = await f.nas.volumeSnapshots('data');
  assert.equal(listed.used, snap.bytes + second.bytes);
  assert.equal(listed.reserve, 0);
});

test('a copy snapshot that would overflow the snapshot reserve is refused, nothing made', async (t) => {
  const f = await makeNas(t);
  const volume = await f.volumes.create({
    name: 'data',
    type: 'nas',
    size: 64 * MiB,
    snapshotReserve: 3 * MiB,
  });
  writeFileSync(join(volume.path, 'two-mib.bin'), Buffer.alloc(2 * MiB, 1));
  const first = await f.nas.createSnapshot('data', { name: 'fits' });
  assert.ok(first.bytes >= 2 * MiB);
  await assert.rejects(f.nas.createSnapshot('data', { name: 'overflows' }), code('snapshot-reserve-full'));
  assert.deepEqual(
    f.nas.snapshots('data').map((s) => s.name),
    ['fits'],
  );
  assert.ok(!existsSync(join(first.path, '..', 'overflows')));
  const listed = await f.nas.volumeSnapshots('data');
  assert.equal(listed.reserve, 3 * MiB);
});

test('bad snapshot requests are refused', async (t) => {
  const f = await makeNas(t);
  await f.volumes.create({ name: 'data', type: 'nas', size: 64 * MiB });
  await f.volumes.create({ name: 'blocks', type: 'iscsi', size: 4 * MiB });
  await assert.rejects(f.nas.createSnapshot('blocks'), code('not-a-nas-volume'));
  await assert.rejects(f.nas.createSnapshot('data', { name: '../x' }), code('bad-name'));
  await assert.rejects(f.nas.createSnapshot('nope'), code('volume-not-found'));
  await assert.rejects(f.nas.deleteSnapshot('data', 'never'), code('snapshot-not-found'));
  await f.nas.createSnapshot('data', { name: 'one' });
  await assert.rejects(f.nas.createSnapshot('data', { name: 'one' }), code('snapshot-exists'));
});

test('deleting a volume removes its snapshots', async (t) => {
  const f = await makeNas(t);
  await f.volumes.create({ name: 'data', type: 'nas', size: 64 * MiB });
  const snap = await f.nas.createSnapshot('data', { name: 'one' });
  await f.volumes.delete('data');
  // The cleanup follows the change feed; wait for it.
  for (let i = 0; i < 50 && existsSync(snap.path); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(!existsSync(snap.path));
});

test('btrfs du output: the exclusive column', () => {
  const text = '     Total   Exclusive  Set shared  Filename\n  20971520     4096   20967424  /p/snap\n';
  assert.equal(parseBtrfsDuExclusive(text), 4096);
  assert.equal(parseBtrfsDuExclusive('garbage'), 0);
});

test('lsattr output: the entries that lack the immutable flag', () => {
  const text = [
    '----i---------e------- /s/.hidden',
    '----i---------e------- /s/.',
    '--------------e------- /s/..',
    '',
    '/s/d1:',
    '----i---------e------- /s/d1/.',
    '--------------e------- /s/d1/a file',
    '----i---------e------- /s/d1/..',
  ].join('\n');
  assert.deepEqual(pathsWithoutImmutable(text), ['/s/d1/a file']);
  assert.deepEqual(pathsWithoutImmutable(''), []);
});

test(
  'btrfs pool: reflink for a plain directory, subvolume snapshots for a subvolume',
  { skip: canMountBtrfs === true ? false : canMountBtrfs },
  async (t) => {
    const f = await makeNas(t);
    const mountPoint = mountBtrfs(t);
    if (mountPoint === undefined) return;
    await f.pools.create({ name: 'fast', path: join(mountPoint, 'pool') });

    // A NAS volume made on btrfs is a subvolume; a plain directory in its place shows the reflink mode.
    const created = await f.volumes.create({ name: 'sub', type: 'nas', size: 64 * MiB, pool: 'fast' });
    assert.equal(statSync(created.path).ino, 256, 'created as a btrfs subvolume');
    await f.volumes.delete('sub');
    await exerciseMode(f, 'fast', 'reflink', (path) => {
      rmSync(path, { recursive: true });
      mkdirSync(path);
    });
    await f.volumes.delete('data');
    for (let i = 0; i < 50 && existsSync(join(mountPoint, 'pool', 'nas-snapshots', 'data')); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }

    const volume = await f.volumes.create({ name: 'sub', type: 'nas', size: 64 * MiB, pool: 'fast' });
    writeFileSync(join(volume.path, 'big.bin'), Buffer.alloc(4 * MiB, 3));
    spawnSync('sync');
    const snap = await f.nas.createSnapshot('sub', { name: 'frozen' });
    assert.equal(snap.mode, 'btrfs');
    assert.equal(readFileSync(join(snap.path, 'big.bin')).length, 4 * MiB);
    assert.throws(() => writeFileSync(join(snap.path, 'new.txt'), 'x'), /EROFS|EPERM/);
    assert.ok(snap.bytes < MiB, `a fresh btrfs snapshot shares its blocks (${snap.bytes} exclusive)`);
    // Measured on list, not when made: it grows as the volume moves away from it.
    writeFileSync(join(volume.path, 'big.bin'), Buffer.alloc(4 * MiB, 4));
    spawnSync('sync');
    const listed = await f.nas.volumeSnapshots('sub');
    assert.ok(listed.used >= 4 * MiB, `the snapshot now holds the old blocks alone (${listed.used})`);
    await f.nas.deleteSnapshot('sub', 'frozen');
    assert.ok(!existsSync(snap.path));
    await f.volumes.delete('sub');
  },
);
