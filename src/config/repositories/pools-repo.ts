// Pools: directories that hold volumes. One pool is the default (created in the data dir at first start).
import type { Db } from '../store.js';

export interface PoolRecord {
  readonly id: string;
  readonly name: string;
  readonly path: string;
  /** Bytes the pool may hand out; null means the size of the filesystem the pool lives on. */
  readonly capacityLimit: number | null;
  readonly isDefault: boolean;
  readonly createdAt: string;
}

interface PoolRow {
  id: string;
  name: string;
  path: string;
  capacity_limit: number | null;
  is_default: number;
  created_at: string;
}

const toRecord = (row: PoolRow): PoolRecord => ({
  id: row.id,
  name: row.name,
  path: row.path,
  capacityLimit: row.capacity_limit,
  isDefault: row.is_default === 1,
  createdAt: row.created_at,
});

export class PoolsRepo {
  constructor(private readonly db: Db) {}

  list(): PoolRecord[] {
    return (this.db.prepare('SELECT * FROM pools ORDER BY is_default DESC, name').all() as PoolRow[]).map(
      toRecord,
    );
  }

  byName(name: string): PoolRecord | undefined {
    const row = this.db.prepare('SELECT * FROM pools WHERE name = ?').get(name) as PoolRow | undefined;
    return row && toRecord(row);
  }

  byId(id: string): PoolRecord | undefined {
    const row = this.db.prepare('SELECT * FROM pools WHERE id = ?').get(id) as PoolRow | undefined;
    return row && toRecord(row);
  }

  byPath(path: string): PoolRecord | undefined {
    const row = this.db.prepare('SELECT * FROM pools WHERE path = ?').get(path) as PoolRow | undefined;
    return row && toRecord(row);
  }

  defaultPool(): PoolRecord | undefined {
    const row = this.db.prepare('SELECT * FROM pools WHERE is_default = 1').get() as PoolRow | undefined;
    return row && toRecord(row);
  }

  insert(pool: PoolRecord): void {
    this.db
      .prepare(
        'INSERT INTO pools (id, name, path, capacity_limit, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(pool.id, pool.name, pool.path, pool.capacityLimit, pool.isDefault ? 1 : 0, pool.createdAt);
  }

  setCapacityLimit(id: string, capacityLimit: number | null): void {
    this.db.prepare('UPDATE pools SET capacity_limit = ? WHERE id = ?').run(capacityLimit, id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM pools WHERE id = ?').run(id);
  }
}
