// NAS shares, snapshots and settings through the real CLI and daemon, and bad input refused with
// nothing changed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NasSnapshotView, ShareView } from '../../src/nas/contract.js';
import type { VolumeSnapshotsView } from '../../src/nas/nas-service.js';
import type { VolumeView } from '../../src/volumes/volume-service.js';
import { api, cliJson, runCli, startDaemon } from '../helpers/daemon.js';

const ADMIN_PASSWORD = 'nas-e2e-admin-password';

test('NAS shares and snapshots through the CLI', { timeout: 180_000 }, async (t) => {
  // Snapshots are immutable (chattr +i): clear that before the directory goes.
  const root = mkdtempSync(join(tmpdir(), 'tandem-nas-e2e-'));
  t.after(() => {
    spawnSync('chattr', ['-R', '-f', '-i', root]);
    rmSync(root, { recursive: true, force: true });
  });
  const data = join(root, 'node');
  const daemon = await startDaemon(t, data, {
    args: ['--replication', '127.0.0.1:0'],
    env: { TANDEM_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  const tandem = (args: string[]) => runCli(['--data', data, ...args]);
  const json = <T>(args: string[]) => cliJson<T>(['--data', data, ...args]);

  const volume = await json<VolumeView>(['volume', 'create', 'files', '--type', 'nas', '--size', '32MiB']);
  const office = await json<ShareView>([
    'nas',
    'share',
    'create',
    'office',
    '--volume',
    'files',
    '--comment',
    'Office',
  ]);
  assert.equal(office.path, join(volume.path, 'office'));
  const table = await tandem(['nas', 'share', 'list']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /office\s+│\s+files\s+│\s+office\s+│\s+off\s+│\s+Office/);

  await t.test('bad input is refused and changes nothing', async () => {
    mkdirSync(join(root, 'outside'));
    symlinkSync(join(root, 'outside'), join(volume.path, 'escape'));
    const sharesBefore = await json<ShareView[]>(['nas', 'share', 'list']);
    const filesBefore = readdirSync(volume.path).sort();
    const attempts: [string[], RegExp][] = [
      [['nas', 'share', 'create', '../x', '--volume', 'files'], /must not contain "\.\."/],
      [['nas', 'share', 'create', 'a/b', '--volume', 'files'], /may only use letters/],
      [['nas', 'share', 'create', 'a;rm', '--volume', 'files'], /may only use letters/],
      [
        ['nas', 'share', 'create', 'x', '--volume', 'files', '--path', '../../etc'],
        /must stay inside the volume/,
      ],
      [['nas', 'share', 'create', 'x', '--volume', 'files', '--path', '/etc'], /not absolute/],
      [['nas', 'share', 'create', 'x', '--volume', 'files', '--path', 'escape'], /symbolic link/],
      [['nas', 'share', 'create', 'x', '--volume', 'files', '--path', 'escape/deeper'], /symbolic link/],
      [['nas', 'share', 'create', 'x', '--volume', 'files', '--path', 'office/inner'], /must not nest/],
      [['nas', 'share', 'create', 'x', '--volume', 'nope'], /does not exist/],
      [['nas', 'snapshot', 'create', 'files', '--name', '../up'], /must not contain "\.\."/],
      [['nas', 'settings', 'set', '--agent-port', '70000'], /whole number from 1 to 65535/],
      [['nas', 'settings', 'set', '--allowed-hosts', 'a;b'], /not an IP address/],
      [['nas', 'share', 'replication', 'office', '--enable', '--id', 'alice'], /needs an ID and a password/],
    ];
    for (const [args, message] of attempts) {
      const result = await tandem(args);
      assert.notEqual(result.code, 0, `${args.join(' ')} should fail`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stdout, '', 'errors go to stderr only');
    }
    assert.deepEqual(await json<ShareView[]>(['nas', 'share', 'list']), sharesBefore);
    assert.deepEqual(readdirSync(volume.path).sort(), filesBefore);
    assert.deepEqual(readdirSync(join(root, 'outside')), []);
    assert.deepEqual((await json<VolumeSnapshotsView>(['nas', 'snapshot', 'list', 'files'])).snapshots, []);
    // Through the API: unknown fields are refused too.
    const extra = await api(daemon.apiUrl, 'POST', '/api/v1/nas/shares', {
      body: { name: 'y', volume: 'files', owner: 'root' },
      password: ADMIN_PASSWORD,
    });
    assert.equal(extra.status, 400);
  });

  await t.test('data replication access: the password is read from a file and never shown', async () => {
    const file = join(root, 'pw');
    writeFileSync(file, 'a long replication password\n', { mode: 0o600 });
    const share = await json<ShareView>([
      'nas',
      'share',
      'replication',
      'office',
      '--enable',
      '--id',
      'alice',
      '--password-file',
      file,
    ]);
    assert.deepEqual(share.dataReplication, { enabled: true, id: 'alice' });
    const viaApi = await api(daemon.apiUrl, 'GET', '/api/v1/nas/shares/office', { password: ADMIN_PASSWORD });
    assert.equal(viaApi.status, 200);
    assert.ok(!JSON.stringify(viaApi.body).includes('a long replication password'));
    const usage = await tandem(['nas', 'share', 'replication', 'office']);
    assert.equal(usage.code, 2, 'neither --enable nor --disable is a usage error');
  });

  await t.test('snapshots: create, list with mode and cost, delete; the volume shows the usage', async () => {
    writeFileSync(join(office.path, 'letter.txt'), 'Dear customer\n');
    const snap = await json<NasSnapshotView>(['nas', 'snapshot', 'create', 'files', '--name', 'monday']);
    assert.equal(snap.mode, 'copy');
    assert.ok(existsSync(join(snap.path, 'office', 'letter.txt')));
    const listed = await json<VolumeSnapshotsView>(['nas', 'snapshot', 'list', 'files']);
    assert.deepEqual(
      listed.snapshots.map((s) => s.name),
      ['monday'],
    );
    assert.equal(listed.used, snap.bytes);
    const text = await tandem(['nas', 'snapshot', 'list', 'files']);
    assert.match(text.stdout, /monday\s+│\s+copy/);
    assert.match(text.stdout, /snapshots use .* \(no reserve set\)/);
    const shown = await json<VolumeView>(['volume', 'show', 'files']);
    assert.equal(shown.snapshotUsed, snap.bytes);
    assert.equal(shown.quotaFree, shown.size - shown.used);
    const human = await tandem(['volume', 'show', 'files']);
    assert.match(human.stdout, /free \(NAS quota\)/);
    const deleted = await tandem(['nas', 'snapshot', 'delete', 'files', 'monday']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.ok(!existsSync(snap.path));
  });

  await t.test('settings and a volume with shares', async () => {
    const settings = await tandem([
      'nas',
      'settings',
      'set',
      '--local-backup',
      'on',
      '--allowed-hosts',
      '127.0.0.1,10.0.0.0/8',
    ]);
    assert.equal(settings.code, 0, settings.stderr);
    assert.match(settings.stdout, /allowed hosts\s+│\s+127\.0\.0\.1 10\.0\.0\.0\/8/);
    const inUse = await tandem(['volume', 'delete', 'files']);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stderr, /holds share\(s\) office/);
    assert.equal((await tandem(['nas', 'share', 'delete', 'office'])).code, 0);
    assert.ok(existsSync(office.path), 'files stay when a share is deleted');
  });

  assert.equal(await daemon.stop(), 0);
});
