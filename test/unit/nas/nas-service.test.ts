import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTandemError } from '../../../src/lib/errors.js';
import { storeSnapshot } from '../../helpers/services.js';
import { makeNas } from './nas-fixture.js';

const MiB = 1024 * 1024;
const code = (c: string) => (error: unknown) => isTandemError(error) && error.code === c;

/** Store rows the NAS side keeps, plus the volume manager's, to show a refusal changed nothing. */
const nasState = (f: Awaited<ReturnType<typeof makeNas>>): string =>
  JSON.stringify({
    core: storeSnapshot(f.repos),
    shares: f.repos.nas.shares(),
    settings: f.repos.nas.settings(),
  });

test('shares: create, show, list, comment, delete', async (t) => {
  const f = await makeNas(t);
  const volume = await f.volumes.create({ name: 'data', type: 'nas', size: 64 * MiB });
  const office = await f.nas.createShare({ name: 'office', volume: 'data', comment: 'Office files' });
  assert.deepEqual(office, {
    name: 'office',
    comment: 'Office files',
    volume: 'data',
    relativePath: 'office',
    path: join(volume.path, 'office'),
    dataReplication: null,
  });
  assert.ok(existsSync(office.path));
  const deep = await f.nas.createShare({ name: 'deep', volume: 'data', path: 'projects//2026/' });
  assert.equal(deep.relativePath, 'projects/2026');
  assert.deepEqual(
    f.nas.shares().map((s) => s.name),
    ['deep', 'office'],
  );
  assert.equal((await f.nas.updateShare('office', { comment: 'new words' })).comment, 'new words');
  await f.nas.deleteShare('office');
  assert.throws(() => f.nas.share('office'), code('share-not-found'));
  assert.ok(existsSync(office.path), 'deleting a share keeps its files');
});

test('bad share input is refused and changes nothing', async (t) => {
  const f = await makeNas(t);
  const volume = await f.volumes.create({ name: 'data', type: 'nas', size: 64 * MiB });
  await f.volumes.create({ name: 'blocks', type: 'iscsi', size: 4 * MiB });
  await f.nas.createShare({ name: 'office', volume: 'data' });
  mkdirSync(join(f.dir, 'elsewhere'));
  symlinkSync(join(f.dir, 'elsewhere'), join(volume.path, 'escape'));
  const before = nasState(f);
  const listing = readdirSync(volume.path).sort();
  const cases: [Parameters<typeof f.nas.createShare>[0], string][] = [
    [{ name: '../x', volume: 'data' }, 'bad-name'],
    [{ name: 'a/b', volume: 'data' }, 'bad-name'],
    [{ name: 'a;rm', volume: 'data' }, 'bad-name'],
    [{ name: 'x', volume: 'data', path: '../../etc' }, 'bad-share-path'],
    [{ name: 'x', volume: 'data', path: '/etc' }, 'bad-share-path'],
    [{ name: 'x', volume: 'data', path: 'escape' }, 'share-path-unsafe'],
    [{ name: 'x', volume: 'data', path: 'escape/inner' }, 'share-path-unsafe'],
    [{ name: 'x', volume: 'data', comment: 'two\nlines' }, 'bad-comment'],
    [{ name: 'office', volume: 'data', path: 'other' }, 'share-exists'],
    [{ name: 'x', volume: 'data', path: 'office/inner' }, 'share-overlap'],
    [{ name: 'x', volume: 'data', path: '.' }, 'share-overlap'],
    [{ name: 'x', volume: 'blocks' }, 'not-a-nas-volume'],
    [{ name: 'x', volume: 'nope' }, 'volume-not-found'],
  ];
  for (const [input, expected] of cases) {
    await assert.rejects(f.nas.createShare(input), code(expected), JSON.stringify(input));
  }
  assert.equal(nasState(f), before);
  assert.deepEqual(readdirSync(volume.path).sort(), listing);
  assert.deepEqual(readdirSync(join(f.dir, 'elsewhere')), [], 'nothing made through the symlink');
});

test('data replication access: ID and password required, password never shown', async (t) => {
  const f = await makeNas(t);
  await f.volumes.create({ name: 'data', type: 'nas', size: 64 * MiB });
  await f.nas.createShare({ name: 'office', volume: 'data' });
  const before = nasState(f);
  await assert.rejects(
    f.nas.setShareReplication('office', { enabled: true }),
    code('replication-access-incomplete'),
  );
  await assert.rejects(
    f.nas.setShareReplication('office', { enabled: true, id: 'a:b', password: 'long enough pw' }),
    code('bad-name'),
  );
  await assert.rejects(
    f.nas.setShareReplication('office', { enabled: true, id: 'alice', password: 'short' }),
    code('bad-password'),
  );
  assert.equal(nasState(f), before);
  const on = await f.nas.setShareReplication('office', {
    enabled: true,
    id: 'alice',
    password: 'long enough pw',
  });
  assert.deepEqual(on.dataReplication, { enabled: true, id: 'alice' });
  assert.ok(!JSON.stringify(on).includes('long enough pw'));
  // Turned off and on again without repeating the secret: it was kept.
  await f.nas.setShareReplication('office', { enabled: false });
  const again = await f.nas.setShareReplication('office', { enabled: true });
  assert.deepEqual(again.dataReplication, { enabled: true, id: 'alice' });
  assert.ok(!f.log().includes('long enough pw'), 'the password is never logged');
});

test('settings: validated, saved, defaults until changed', async (t) => {
  const f = await makeNas(t);
  assert.deepEqual(f.nas.settings(), {
    localBackup: false,
    agent: { enabled: false, port: 873, address: '0.0.0.0', allowedHosts: [], maxConnections: 10 },
  });
  const before = nasState(f);
  await assert.rejects(f.nas.updateSettings({ agent: { port: 0 } }), code('bad-port'));
  await assert.rejects(f.nas.updateSettings({ agent: { address: 'example.com' } }), code('bad-address'));
  await assert.rejects(f.nas.updateSettings({ agent: { allowedHosts: ['a;b'] } }), code('bad-allowed-hosts'));
  await assert.rejects(f.nas.updateSettings({ agent: { maxConnections: 0 } }), code('bad-max-connections'));
  assert.equal(nasState(f), before);
  const saved = await f.nas.updateSettings({
    localBackup: true,
    agent: { port: 10873, address: '127.0.0.1', allowedHosts: ['192.0.2.0/24'], maxConnections: 3 },
  });
  assert.deepEqual(saved, {
    localBackup: true,
    agent: {
      enabled: false,
      port: 10873,
      address: '127.0.0.1',
      allowedHosts: ['192.0.2.0/24'],
      maxConnections: 3,
    },
  });
  assert.ok(f.nas.localBackupEnabled());
  assert.equal(f.nas.agentStatus().running, false);
});

test('a NAS volume with shares is in use; forced deletion takes the shares along', async (t) => {
  const f = await makeNas(t);
  await f.volumes.create({ name: 'data', type: 'nas', size: 64 * MiB });
  await f.nas.createShare({ name: 'office', volume: 'data' });
  await assert.rejects(f.volumes.delete('data'), code('volume-in-use'));
  await f.volumes.delete('data', { force: true });
  assert.deepEqual(f.nas.shares(), []);
});
