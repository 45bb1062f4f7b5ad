// Management accounts (the admin). Only password hashes are stored.
import type { Db } from '../store.js';

export interface AccountRecord {
  readonly name: string;
  readonly passwordHash: string;
  readonly createdAt: string;
}

export class AccountsRepo {
  constructor(private readonly db: Db) {}

  byName(name: string): AccountRecord | undefined {
    const row = this.db
      .prepare('SELECT name, password_hash, created_at FROM accounts WHERE name = ?')
      .get(name) as { name: string; password_hash: string; created_at: string } | undefined;
    return row && { name: row.name, passwordHash: row.password_hash, createdAt: row.created_at };
  }

  insert(account: AccountRecord): void {
    this.db
      .prepare('INSERT INTO accounts (name, password_hash, created_at) VALUES (?, ?, ?)')
      .run(account.name, account.passwordHash, account.createdAt);
  }

  setPasswordHash(name: string, passwordHash: string): void {
    this.db.prepare('UPDATE accounts SET password_hash = ? WHERE name = ?').run(passwordHash, name);
  }
}
