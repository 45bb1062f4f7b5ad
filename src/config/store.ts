// The node's configuration store: one SQLite file in the data dir, owned by exactly one daemon.
//
// Invariants:
// - The daemon holds SQLite's EXCLUSIVE lock for as long as the store is open (locking_mode=EXCLUSIVE
//   plus a first write), so a second daemon on the same data dir fails at open with "in use". The
//   kernel drops the lock when the process dies, so a crash never leaves a stale lock behind.
// - A store that is corrupt or from a newer version is refused before anything is written to it.
// - The file is created 0600: it holds CHAP secrets and password hashes.
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync } from 'node:fs';
import { TandemError, messageOf } from '../lib/errors.js';
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends TandemError {
  constructor(code: string, message: string) {
    super('unavailable', code, message);
  }
}

export interface OpenStoreOptions {
  /** Migrations to apply; tests pass their own lists. */
  readonly migrations?: readonly Migration[];
}

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Opens (creating if missing) and migrates the store at `path`; throws StoreError with a clear message. */
export function openStore(path: string, options: OpenStoreOptions = {}): Db {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));

  const db = new Database(path);
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('busy_timeout = 0');
    checkIntegrity(db, path);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > latest) {
      throw new StoreError(
        'store-too-new',
        `config store ${path} is at schema version ${version}, newer than this Tandem (${latest}); ` +
          'run a newer Tandem or restore a backup; the store was left untouched',
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // The first write takes the exclusive lock that keeps every other daemon out.
    migrate(db, migrations, version);
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('opened_at', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(new Date().toISOString());
    return db;
  } catch (error) {
    db.close();
    throw translateOpenError(error, path);
  }
}

function checkIntegrity(db: Db, path: string): void {
  let rows: { quick_check: string }[];
  try {
    rows = db.pragma('quick_check') as { quick_check: string }[];
  } catch (error) {
    const code = sqliteCode(error);
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw error;
    throw new StoreError(
      'store-corrupt',
      `config store ${path} cannot be read (${messageOf(error)}); it was left untouched: restore it from a backup or move it away`,
    );
  }
  const problems = rows.map((row) => row.quick_check).filter((text) => text !== 'ok');
  if (problems.length > 0) {
    throw new StoreError(
      'store-corrupt',
      `config store ${path} is damaged (${problems.slice(0, 3).join('; ')}); it was left untouched: restore it from a backup`,
    );
  }
}

function migrate(db: Db, migrations: readonly Migration[], from: number): void {
  const pending = migrations.filter((m) => m.version > from).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}

function translateOpenError(error: unknown, path: string): TandemError {
  if (error instanceof TandemError) return error;
  const code = sqliteCode(error);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new StoreError(
      'store-in-use',
      `config store ${path} is in use by another Tandem daemon; stop it first (one daemon per data dir)`,
    );
  }
  return new StoreError('store-open-failed', `cannot open config store ${path}: ${messageOf(error)}`);
}

export { LATEST_VERSION };
