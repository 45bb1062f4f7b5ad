import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LATEST_VERSION, MIGRATIONS, type Migration } from '../../../src/config/migrations.js';
import { openStore, StoreError } from '../../../src/config/store.js';
import { tempDir } from '../../helpers/temp-dir.js';

const digest = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function expectStoreError(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected StoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('config store', () => {
  it('creates a new store 0600 at the latest schema version, in WAL mode', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const db = openStore(path);
    assert.equal(db.pragma('user_version', { simple: true }), LATEST_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((r) => r.name);
    for (const table of [
      'meta',
      'accounts',
      'pools',
      'volumes',
      'targets',
      'luns',
      'chap_users',
      'initiator_acl',
    ]) {
      assert.ok(tables.includes(table), `table ${table} exists`);
    }
    db.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('applies only the migrations a store is missing, in order, each with its version bump', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const first: Migration[] = [
      {
        version: 1,
        description: 'one',
        sql: 'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE a (x INTEGER);',
      },
    ];
    openStore(path, { migrations: first }).close();
    const more: Migration[] = [
      ...first,
      { version: 2, description: 'two', sql: 'ALTER TABLE a ADD COLUMN y INTEGER;' },
      { version: 3, description: 'three', sql: 'CREATE TABLE b (z TEXT);' },
    ];
    const db = openStore(path, { migrations: more });
    assert.equal(db.pragma('user_version', { simple: true }), 3);
    const columns = (db.prepare('PRAGMA table_info(a)').all() as { name: string }[]).map((c) => c.name);
    assert.deepEqual(columns, ['x', 'y']);
    db.close();
  });

  it('rolls back a failing migration and leaves the store at the previous version', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const base: Migration[] = [
      {
        version: 1,
        description: 'one',
        sql: 'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);',
      },
    ];
    openStore(path, { migrations: base }).close();
    const broken: Migration[] = [
      ...base,
      { version: 2, description: 'bad', sql: 'CREATE TABLE c (x); THIS IS NOT SQL;' },
    ];
    assert.throws(() => openStore(path, { migrations: broken }));
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('user_version', { simple: true }), 1);
    assert.deepEqual(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'c'").all(), []);
    raw.close();
  });

  it('refuses a store from a newer version and leaves it untouched', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    openStore(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${LATEST_VERSION + 5}`);
    raw.pragma('journal_mode = DELETE');
    raw.close();
    const before = digest(path);
    expectStoreError(() => openStore(path), 'store-too-new', /newer than this Tandem.*left untouched/);
    assert.equal(digest(path), before);
  });

  it('refuses a file that is not a database and leaves it untouched', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    writeFileSync(path, 'this is not an SQLite database, just some text that got here somehow\n'.repeat(100));
    const before = digest(path);
    expectStoreError(() => openStore(path), 'store-corrupt', /cannot be read.*left untouched/);
    assert.equal(digest(path), before);
  });

  it('refuses a damaged database and leaves it untouched', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const db = openStore(path);
    const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (let i = 0; i < 2000; i += 1) insert.run(`key-${i}`, 'x'.repeat(200));
    db.pragma('journal_mode = DELETE');
    db.close();
    // Scribble over the middle of the file: the header survives, the b-tree pages do not.
    const bytes = readFileSync(path);
    for (let i = 8192; i < 8192 + 4096 * 8; i += 1) bytes[i] = (i * 7) & 0xff;
    writeFileSync(path, bytes);
    const before = digest(path);
    assert.throws(
      () => openStore(path),
      (error: unknown) =>
        error instanceof StoreError && error.code === 'store-corrupt' && /untouched/.test(error.message),
    );
    assert.equal(digest(path), before);
  });

  it('lets only one opener hold the store', (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const first = openStore(path);
    expectStoreError(() => openStore(path), 'store-in-use', /in use by another Tandem daemon/);
    first.close();
    openStore(path).close();
  });

  it('has migrations numbered 1..N without gaps', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_m, i) => i + 1),
    );
  });
});
