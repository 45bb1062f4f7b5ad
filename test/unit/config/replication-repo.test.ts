import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { LATEST_VERSION, MIGRATIONS } from '../../../src/config/migrations.js';
import { createRepositories, type Repositories } from '../../../src/config/repositories/index.js';
import {
  REPLICATION_NODE_NAME_KEY,
  type PairingRecord,
  type ReplicationTaskRecord,
} from '../../../src/config/repositories/replication-repo.js';
import { openStore } from '../../../src/config/store.js';
import { TandemError } from '../../../src/lib/errors.js';
import { tempDir } from '../../helpers/temp-dir.js';

const NOW = '2026-11-02T10:00:00.000Z';

function makeRepos(t: TestContext): Repositories {
  const db = openStore(join(tempDir(t), 'tandem.db'));
  t.after(() => db.close());
  const repos = createRepositories(db);
  repos.pools.insert({
    id: 'p1',
    name: 'default',
    path: '/srv/pool',
    capacityLimit: null,
    isDefault: true,
    createdAt: NOW,
  });
  for (const id of ['v1', 'v2', 'v3']) addVolume(repos, id);
  return repos;
}

function addVolume(repos: Repositories, id: string): void {
  repos.volumes.insert({
    id,
    name: `name-${id}`,
    poolId: 'p1',
    type: 'iscsi',
    size: 2 ** 30,
    provisioning: 'thin',
    ioType: 'block',
    replication: true,
    worm: false,
    snapshotReserve: 0,
    createdAt: NOW,
  });
}

const task = (overrides: Partial<ReplicationTaskRecord> = {}): ReplicationTaskRecord => ({
  name: 't1',
  direction: 'source',
  volumeId: 'v1',
  remoteVolume: 'remote1',
  peerAddress: '192.0.2.20:7789',
  enabled: false,
  rateMode: 'dynamic',
  rateBytes: 100 * 2 ** 20,
  createdAt: NOW,
  ...overrides,
});

const pairing = (
  overrides: Partial<Omit<PairingRecord, 'updatedAt'>> = {},
): Omit<PairingRecord, 'updatedAt'> => ({
  nodeName: 'node-a',
  peerName: 'node-b',
  secret: 'a-long-shared-secret-0123456789',
  tls: true,
  tlsCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  tlsKey: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
  peerFingerprint: 'ab'.repeat(32),
  ...overrides,
});

function expectTandemError(fn: () => unknown, kind: TandemError['kind'], code: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TandemError, `expected a TandemError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.equal(error.code, code);
    assert.doesNotMatch(error.message, /SQLITE_|secret-0123/);
    return true;
  });
}

describe('replication repo: migration 3', () => {
  it('adds the replication tables to a store at version 2 and keeps its data', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const old = openStore(path, { migrations: MIGRATIONS.filter((m) => m.version <= 2) });
    old.prepare("INSERT INTO meta (key, value) VALUES ('node_id', 'n-1')").run();
    old.close();
    const db = openStore(path);
    t.after(() => db.close());
    assert.equal(db.pragma('user_version', { simple: true }), LATEST_VERSION);
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((r) => r.name);
    for (const table of ['replication_volume_settings', 'replication_pairing', 'replication_tasks'])
      assert.ok(tables.includes(table), `table ${table} exists`);
    assert.equal(createRepositories(db).meta.get('node_id'), 'n-1');
  });
});

describe('replication repo: node name', () => {
  it('keeps the replication node name in the meta table', (t) => {
    const repos = makeRepos(t);
    assert.equal(repos.replication.nodeName(), undefined);
    repos.replication.setNodeName('node-a');
    repos.replication.setNodeName('node-a2');
    assert.equal(repos.replication.nodeName(), 'node-a2');
    assert.equal(repos.meta.get(REPLICATION_NODE_NAME_KEY), 'node-a2');
  });
});

describe('replication repo: volume settings', () => {
  it('sets, replaces, lists and deletes a volume’s settings', (t) => {
    const repos = makeRepos(t);
    const r = repos.replication;
    assert.equal(r.volumeSettings('v1'), undefined);
    const first = r.setVolumeSettings('v1', { mode: 'source', mirrorServer: '192.0.2.20:7789' });
    assert.deepEqual(r.volumeSettings('v1'), first);
    assert.match(first.updatedAt, /^\d{4}-\d{2}-\d{2}T/);
    r.setVolumeSettings('v1', { mode: 'destination', mirrorServer: '[2001:db8::1]:7789' });
    r.setVolumeSettings('v2', { mode: 'source', mirrorServer: '192.0.2.21:7789' });
    assert.deepEqual(
      r.allVolumeSettings().map((s) => [s.volumeId, s.mode, s.mirrorServer]),
      [
        ['v1', 'destination', '[2001:db8::1]:7789'],
        ['v2', 'source', '192.0.2.21:7789'],
      ],
    );
    assert.equal(r.deleteVolumeSettings('v1'), true);
    assert.equal(r.deleteVolumeSettings('v1'), false);
    assert.equal(r.volumeSettings('v1'), undefined);
  });

  it('refuses settings for a volume that does not exist, and a mode outside the list', (t) => {
    const r = makeRepos(t).replication;
    expectTandemError(
      () => r.setVolumeSettings('ghost', { mode: 'source', mirrorServer: '192.0.2.20:7789' }),
      'not-found',
      'no-such-volume',
    );
    expectTandemError(
      () =>
        r.setVolumeSettings('v1', {
          mode: 'mirror' as 'source',
          mirrorServer: '192.0.2.20:7789',
        }),
      'invalid',
      'replication-record-invalid',
    );
    assert.deepEqual(r.allVolumeSettings(), []);
  });

  it('forgets a volume’s settings when the volume is deleted', (t) => {
    const repos = makeRepos(t);
    repos.replication.setVolumeSettings('v2', { mode: 'source', mirrorServer: '192.0.2.20:7789' });
    repos.volumes.delete('v2');
    assert.equal(repos.replication.volumeSettings('v2'), undefined);
  });
});

describe('replication repo: pairing', () => {
  it('stores one pairing, replaces it, and deletes it', (t) => {
    const repos = makeRepos(t);
    const r = repos.replication;
    assert.equal(r.pairing(), undefined);
    const stored = r.setPairing(pairing());
    assert.deepEqual(r.pairing(), stored);
    assert.deepEqual({ ...stored, updatedAt: undefined }, { ...pairing(), updatedAt: undefined });

    const plain = r.setPairing(
      pairing({ peerName: 'node-c', tls: false, tlsCert: null, tlsKey: null, peerFingerprint: null }),
    );
    assert.deepEqual(r.pairing(), plain);
    assert.equal(
      (repos.db.prepare('SELECT COUNT(*) AS n FROM replication_pairing').get() as { n: number }).n,
      1,
      'a node has one pairing',
    );
    assert.equal(r.deletePairing(), true);
    assert.equal(r.deletePairing(), false);
    assert.equal(r.pairing(), undefined);
  });

  it('refuses a second pairing row at the SQL level', (t) => {
    const repos = makeRepos(t);
    assert.throws(
      () =>
        repos.db
          .prepare(
            `INSERT INTO replication_pairing (id, node_name, peer_name, secret, updated_at)
             VALUES (2, 'a', 'b', 'c', 'now')`,
          )
          .run(),
      /CHECK constraint failed/,
    );
  });
});

describe('replication repo: tasks', () => {
  it('inserts, finds, updates and deletes tasks', (t) => {
    const r = makeRepos(t).replication;
    r.insertTask(task());
    r.insertTask(task({ name: 'a0_reverse', direction: 'reverse', volumeId: 'v2', enabled: true }));
    assert.deepEqual(r.task('t1'), task());
    assert.deepEqual(
      r.tasks().map((x) => x.name),
      ['a0_reverse', 't1'],
    );
    assert.equal(r.taskOfVolume('v2')?.name, 'a0_reverse');
    assert.equal(r.taskOfVolume('v3'), undefined);

    r.setTaskEnabled('t1', true);
    r.setTaskRate('t1', { mode: 'fixed', bytesPerSecond: 40 * 2 ** 20 });
    assert.deepEqual(r.task('t1'), task({ enabled: true, rateMode: 'fixed', rateBytes: 40 * 2 ** 20 }));

    assert.equal(r.deleteTask('t1'), true);
    assert.equal(r.deleteTask('t1'), false);
    assert.equal(r.task('t1'), undefined);
  });

  it('refuses a taken name, a volume already in a task, a missing volume and bad values', (t) => {
    const repos = makeRepos(t);
    const r = repos.replication;
    r.insertTask(task());
    const before = JSON.stringify(r.tasks());
    expectTandemError(() => r.insertTask(task({ volumeId: 'v2' })), 'conflict', 'replication-task-exists');
    expectTandemError(() => r.insertTask(task({ name: 't2' })), 'conflict', 'volume-in-replication-task');
    expectTandemError(
      () => r.insertTask(task({ name: 't3', volumeId: 'ghost' })),
      'not-found',
      'no-such-volume',
    );
    for (const bad of [
      task({ name: 't4', volumeId: 'v3', direction: 'sideways' as 'source' }),
      task({ name: 't5', volumeId: 'v3', rateMode: 'turbo' as 'fixed' }),
      task({ name: 't6', volumeId: 'v3', rateBytes: -1 }),
    ]) {
      expectTandemError(() => r.insertTask(bad), 'invalid', 'replication-record-invalid');
    }
    expectTandemError(() => r.setTaskEnabled('ghost', true), 'not-found', 'no-such-replication-task');
    expectTandemError(
      () => r.setTaskRate('ghost', { mode: 'fixed', bytesPerSecond: 1 }),
      'not-found',
      'no-such-replication-task',
    );
    expectTandemError(
      () => r.setTaskRate('t1', { mode: 'bursty' as 'fixed', bytesPerSecond: 1 }),
      'invalid',
      'replication-record-invalid',
    );
    assert.equal(JSON.stringify(r.tasks()), before, 'refusals change nothing');
  });

  it('gives a task inserted by hand the documented defaults', (t) => {
    const repos = makeRepos(t);
    repos.db
      .prepare(
        `INSERT INTO replication_tasks (name, direction, volume_id, remote_volume, peer_address, rate_bytes,
           created_at) VALUES ('raw', 'source', 'v3', 'r', '192.0.2.1:7789', 1024, 'now')`,
      )
      .run();
    const raw = repos.replication.task('raw');
    assert.equal(raw?.enabled, false);
    assert.equal(raw.rateMode, 'dynamic');
  });

  it('drops a task with its volume', (t) => {
    const repos = makeRepos(t);
    repos.replication.insertTask(task({ volumeId: 'v3' }));
    repos.volumes.delete('v3');
    assert.equal(repos.replication.task('t1'), undefined);
  });

  it('round-trips any task record', (t) => {
    const r = makeRepos(t).replication;
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
    fc.assert(
      fc.property(
        fc.record({
          name,
          direction: fc.constantFrom('source' as const, 'reverse' as const),
          remoteVolume: name,
          peerAddress: fc.constantFrom('192.0.2.1:7789', '[::1]:1', 'localhost:65535'),
          enabled: fc.boolean(),
          rateMode: fc.constantFrom('dynamic' as const, 'fixed' as const),
          rateBytes: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          createdAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        }),
        (fields) => {
          const record: ReplicationTaskRecord = { ...fields, volumeId: 'v1' };
          r.insertTask(record);
          try {
            assert.deepEqual(r.task(record.name), record);
            assert.equal(r.taskOfVolume('v1')?.name, record.name);
          } finally {
            r.deleteTask(record.name);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
