import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../../src/lib/errors.js';
import { parseSize } from '../../../src/lib/size.js';
import { replicationMetadataBytes } from '../../../src/volumes/reserved-space.js';
import { makeServices, storeSnapshot, type TestServices } from '../../helpers/services.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

async function refused(s: TestServices, action: () => Promise<unknown>, code: string): Promise<TandemError> {
  const before = storeSnapshot(s.repos);
  const error = await action().then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TandemError, `expected a TandemError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.equal(storeSnapshot(s.repos), before, 'a refused request changes nothing');
  return error;
}

describe('volume manager: volumes', () => {
  it('creates a thin iSCSI volume as a sparse file of the exact size', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({ name: 'vol1', type: 'iscsi', size: GiB });
    assert.equal(v.size, GiB);
    assert.equal(v.provisioning, 'thin');
    assert.equal(v.ioType, 'block');
    const stats = statSync(v.path);
    assert.equal(stats.size, GiB);
    assert.ok(stats.blocks * 512 < MiB, 'a thin volume allocates (almost) nothing');
  });

  it('preallocates a thick volume', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({
      name: 'thick1',
      type: 'iscsi',
      size: 64 * MiB,
      provisioning: 'thick',
    });
    assert.ok(statSync(v.path).blocks * 512 >= 64 * MiB);
    assert.ok(v.used >= 64 * MiB);
  });

  it('creates NAS volumes as directories, with WORM', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({ name: 'office', type: 'nas', size: 10 * GiB, worm: true });
    assert.ok(statSync(v.path).isDirectory());
    assert.equal(v.worm, true);
    assert.equal(v.ioType, null);
  });

  it('accounts size, snapshot reserve and replication metadata in the pool', async (t) => {
    const s = await makeServices(t);
    const pool = s.pools.defaultPool();
    await s.pools.setCapacity(pool.name, 10 * GiB);
    await s.volumes.create({
      name: 'a',
      type: 'iscsi',
      size: 2 * GiB,
      replication: true,
      snapshotReserve: 200 * MiB,
    });
    await s.volumes.create({ name: 'b', type: 'nas', size: GiB });
    const view = await s.pools.show(pool.name);
    assert.equal(view.allocated, 3 * GiB);
    assert.equal(view.reserved.snapshots, 200 * MiB);
    assert.equal(view.reserved.replication, replicationMetadataBytes(2 * GiB));
    assert.equal(
      replicationMetadataBytes(2 * GiB),
      64 * 1024 + MiB,
      'DRBD-style 32 KiB of bitmap per GiB + 1 MiB',
    );
    assert.equal(view.free, 10 * GiB - 3 * GiB - 200 * MiB - replicationMetadataBytes(2 * GiB));
  });

  it('refuses sizes beyond free space and leaves no file behind', async (t) => {
    const s = await makeServices(t);
    await s.pools.setCapacity('default', GiB);
    const error = await refused(
      s,
      () => s.volumes.create({ name: 'big', type: 'iscsi', size: 2 * GiB }),
      'pool-no-space',
    );
    assert.equal(error.kind, 'no-space');
    assert.match(error.message, /1 GiB free/);
    assert.deepEqual(readdirSync(join(s.dir, 'pools', 'default', 'volumes')), []);
  });

  it('refuses bad names, types and attribute combinations', async (t) => {
    const s = await makeServices(t);
    await refused(s, () => s.volumes.create({ name: '../evil', type: 'iscsi', size: GiB }), 'bad-name');
    await refused(s, () => s.volumes.create({ name: 'a/b', type: 'iscsi', size: GiB }), 'bad-name');
    await refused(s, () => s.volumes.create({ name: 'x'.repeat(65), type: 'iscsi', size: GiB }), 'bad-name');
    await refused(
      s,
      () => s.volumes.create({ name: 'ok', type: 'tape' as 'iscsi', size: GiB }),
      'bad-volume-type',
    );
    await refused(s, () => s.volumes.create({ name: 'ok', type: 'iscsi', size: 0 }), 'bad-size');
    await refused(s, () => s.volumes.create({ name: 'ok', type: 'iscsi', size: 1000 }), 'bad-size');
    await refused(s, () => s.volumes.create({ name: 'ok', type: 'iscsi', size: MiB + 1 }), 'bad-size');
    await refused(
      s,
      () => s.volumes.create({ name: 'ok', type: 'nas', size: GiB, ioType: 'file' }),
      'io-type-not-iscsi',
    );
    await refused(
      s,
      () => s.volumes.create({ name: 'ok', type: 'iscsi', size: GiB, worm: true }),
      'worm-not-nas',
    );
    await refused(
      s,
      () => s.volumes.create({ name: 'ok', type: 'nas', size: GiB, provisioning: 'thick' }),
      'thick-nas',
    );
    await refused(
      s,
      () => s.volumes.create({ name: 'ok', type: 'iscsi', size: GiB, pool: 'nope' }),
      'pool-not-found',
    );
    await s.volumes.create({ name: 'dup', type: 'iscsi', size: GiB });
    await refused(s, () => s.volumes.create({ name: 'dup', type: 'nas', size: GiB }), 'volume-exists');
  });

  it('expands (grow only), keeping thick volumes preallocated', async (t) => {
    const s = await makeServices(t);
    await s.volumes.create({ name: 'v', type: 'iscsi', size: 32 * MiB, provisioning: 'thick' });
    const grown = await s.volumes.expand('v', 64 * MiB);
    assert.equal(grown.size, 64 * MiB);
    assert.equal(statSync(grown.path).size, 64 * MiB);
    assert.ok(statSync(grown.path).blocks * 512 >= 64 * MiB);
    await refused(s, () => s.volumes.expand('v', 32 * MiB), 'volume-shrink-refused');
    await refused(s, () => s.volumes.expand('v', 64 * MiB), 'volume-shrink-refused');
    await s.pools.setCapacity('default', GiB);
    await refused(s, () => s.volumes.expand('v', 2 * GiB), 'pool-no-space');
    assert.equal(statSync(grown.path).size, 64 * MiB);
  });

  it('changes attributes, with WORM one way only', async (t) => {
    const s = await makeServices(t);
    await s.volumes.create({ name: 'i', type: 'iscsi', size: GiB });
    await s.volumes.create({ name: 'n', type: 'nas', size: GiB });
    assert.equal((await s.volumes.update('i', { replication: true, ioType: 'file' })).ioType, 'file');
    assert.equal((await s.volumes.show('i')).replication, true);
    await refused(s, () => s.volumes.update('n', { ioType: 'block' }), 'io-type-not-iscsi');
    await s.volumes.update('n', { worm: true });
    await refused(s, () => s.volumes.update('n', { worm: false }), 'worm-permanent');
  });

  it('refuses to delete a volume in use unless forced; force also unmaps it', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({ name: 'lun1', type: 'iscsi', size: GiB });
    s.targets.create({ iqn: 'iqn.2026-11.com.example:t1', luns: [{ lun: 1, volume: 'lun1' }] });
    const error = await refused(s, () => s.volumes.delete('lun1'), 'volume-in-use');
    assert.match(error.message, /iqn\.2026-11\.com\.example:t1 as LUN 1/);
    await s.volumes.update('lun1', { replication: true });
    await s.volumes.delete('lun1', { force: true });
    assert.equal(existsSync(v.path), false);
    assert.deepEqual(s.targets.show('iqn.2026-11.com.example:t1').luns, []);
  });

  it('deletes an unused volume and its data', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({ name: 'gone', type: 'nas', size: GiB });
    await s.volumes.delete('gone');
    assert.equal(existsSync(v.path), false);
    await refused(s, () => s.volumes.delete('gone'), 'volume-not-found');
  });

  it('never lets two concurrent creates spend the same free space', async (t) => {
    const s = await makeServices(t);
    await s.pools.setCapacity('default', parseSize('1GiB'));
    const results = await Promise.allSettled([
      s.volumes.create({ name: 'r1', type: 'iscsi', size: 700 * MiB }),
      s.volumes.create({ name: 'r2', type: 'iscsi', size: 700 * MiB }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await s.pools.show('default')).allocated, 700 * MiB);
  });
});

describe('volume manager: pools', () => {
  it('creates pools on other directories and refuses overlaps', async (t) => {
    const s = await makeServices(t);
    const dir = join(s.dir, 'fast');
    const pool = await s.pools.create({ name: 'fast', path: dir, capacityLimit: 4 * GiB });
    assert.equal(pool.capacity, 4 * GiB);
    assert.ok(existsSync(join(dir, '.tandem-pool')));
    const v = await s.volumes.create({ name: 'onfast', type: 'iscsi', size: GiB, pool: 'fast' });
    assert.ok(v.path.startsWith(dir));
    await refused(s, () => s.pools.create({ name: 'inner', path: join(dir, 'sub') }), 'pool-overlap');
    await refused(s, () => s.pools.create({ name: 'outer', path: s.dir }), 'pool-overlap');
    await refused(s, () => s.pools.create({ name: 'rel', path: 'relative/dir' }), 'bad-pool-path');
    await refused(s, () => s.pools.create({ name: 'fast', path: join(s.dir, 'other') }), 'pool-exists');
    await refused(s, () => s.pools.create({ name: '../x', path: join(s.dir, 'other') }), 'bad-name');
  });

  it('will not delete the default pool or a pool with volumes', async (t) => {
    const s = await makeServices(t);
    await refused(s, () => s.pools.delete('default'), 'pool-is-default');
    const dir = join(s.dir, 'p2');
    mkdirSync(dir);
    await s.pools.create({ name: 'p2', path: dir });
    await s.volumes.create({ name: 'v', type: 'nas', size: GiB, pool: 'p2' });
    await refused(s, () => s.pools.delete('p2'), 'pool-in-use');
    await s.volumes.delete('v');
    await s.pools.delete('p2');
    assert.equal(existsSync(join(dir, '.tandem-pool')), false);
  });

  it('will not shrink a pool below what it has committed', async (t) => {
    const s = await makeServices(t);
    await s.volumes.create({ name: 'v', type: 'iscsi', size: GiB });
    await refused(s, () => s.pools.setCapacity('default', 512 * MiB), 'pool-capacity-too-small');
  });
});
