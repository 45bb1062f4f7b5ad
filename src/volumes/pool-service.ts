// The volume manager's pools: directories that volumes are carved from, with the accounting an
// appliance shows for a volume group (capacity, allocated, reserved areas, free).
//
// Invariants: pools never overlap (no pool directory inside another); each pool directory carries a
// marker naming its pool id, so a directory can belong to one pool of one node only; the default
// pool lives in the data dir and cannot be deleted; a pool with volumes cannot be deleted.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { ChangeFeed } from '../config/change-feed.js';
import type { PoolRecord } from '../config/repositories/pools-repo.js';
import type { Repositories } from '../config/repositories/index.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { validateName } from '../lib/names.js';
import { filesystemSpace } from '../storage/filesystem.js';
import { checkPoolPathText, checkPoolPathUsable } from './pool-path.js';
import { replicationMetadataBytes } from './reserved-space.js';
import { poolDirs } from './volume-paths.js';

export const POOL_MARKER = '.tandem-pool';
export const DEFAULT_POOL_NAME = 'default';

export interface PoolView {
  readonly name: string;
  readonly id: string;
  readonly path: string;
  readonly isDefault: boolean;
  /** Bytes the pool can hand out: its limit, or the filesystem's size. */
  readonly capacity: number;
  readonly capacityLimit: number | null;
  readonly filesystem: { readonly total: number; readonly available: number };
  /** Sum of the volumes' sizes. */
  readonly allocated: number;
  readonly reserved: { readonly snapshots: number; readonly replication: number };
  readonly free: number;
  readonly volumeCount: number;
  readonly createdAt: string;
}

export class PoolService {
  constructor(
    private readonly repos: Repositories,
    private readonly changes: ChangeFeed,
  ) {}

  async list(): Promise<PoolView[]> {
    return Promise.all(this.repos.pools.list().map((pool) => this.view(pool)));
  }

  async show(name: string): Promise<PoolView> {
    return this.view(this.get(name));
  }

  get(name: string): PoolRecord {
    const pool = this.repos.pools.byName(name);
    if (!pool) throw notFound('pool-not-found', `pool "${name}" does not exist`);
    return pool;
  }

  defaultPool(): PoolRecord {
    const pool = this.repos.pools.defaultPool();
    if (!pool) throw notFound('pool-not-found', 'there is no default pool');
    return pool;
  }

  /** Accounting for one pool, from the catalogue and the filesystem. */
  async view(pool: PoolRecord): Promise<PoolView> {
    const fs = await filesystemSpace(pool.path);
    const volumes = this.repos.volumes.inPool(pool.id);
    const allocated = volumes.reduce((sum, v) => sum + v.size, 0);
    const snapshots = volumes.reduce((sum, v) => sum + v.snapshotReserve, 0);
    const replication = volumes.reduce(
      (sum, v) => sum + (v.replication ? replicationMetadataBytes(v.size) : 0),
      0,
    );
    const capacity = pool.capacityLimit ?? fs.total;
    return {
      name: pool.name,
      id: pool.id,
      path: pool.path,
      isDefault: pool.isDefault,
      capacity,
      capacityLimit: pool.capacityLimit,
      filesystem: fs,
      allocated,
      reserved: { snapshots, replication },
      free: Math.max(0, capacity - allocated - snapshots - replication),
      volumeCount: volumes.length,
      createdAt: pool.createdAt,
    };
  }

  /** Creates the default pool in `dir` at first start; a no-op when it exists. */
  async ensureDefault(dir: string): Promise<PoolRecord> {
    const existing = this.repos.pools.defaultPool();
    if (existing) {
      await this.prepareDirectory(existing);
      return existing;
    }
    const pool: PoolRecord = {
      id: randomUUID(),
      name: DEFAULT_POOL_NAME,
      path: resolve(dir),
      capacityLimit: null,
      isDefault: true,
      createdAt: new Date().toISOString(),
    };
    await mkdir(pool.path, { recursive: true, mode: 0o700 });
    await this.claimDirectory(pool);
    this.repos.pools.insert(pool);
    return pool;
  }

  async create(input: { name: string; path: string; capacityLimit?: number | null }): Promise<PoolView> {
    const name = validateName('pool', input.name);
    const path = checkPoolPathText(input.path);
    if (this.repos.pools.byName(name)) throw conflict('pool-exists', `pool "${name}" already exists`);
    for (const other of this.repos.pools.list()) {
      if (isInside(path, other.path) || isInside(other.path, path)) {
        throw conflict('pool-overlap', `pool path ${path} overlaps pool "${other.name}" at ${other.path}`);
      }
    }
    if (input.capacityLimit !== undefined && input.capacityLimit !== null && input.capacityLimit <= 0) {
      throw invalid('bad-size', 'pool capacity must be positive');
    }
    if (existsSync(path)) {
      const stats = await stat(path);
      if (!stats.isDirectory()) throw invalid('bad-pool-path', `pool path ${path} is not a directory`);
      if (existsSync(join(path, POOL_MARKER))) {
        throw conflict('pool-path-claimed', `${path} already holds a Tandem pool; pick another directory`);
      }
    }
    await checkPoolPathUsable(path);
    const pool: PoolRecord = {
      id: randomUUID(),
      name,
      path,
      capacityLimit: input.capacityLimit ?? null,
      isDefault: false,
      createdAt: new Date().toISOString(),
    };
    try {
      await mkdir(path, { recursive: true, mode: 0o700 });
      await this.claimDirectory(pool);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      throw invalid('bad-pool-path', `${path} cannot be used as a pool (${code})`);
    }
    try {
      this.repos.pools.insert(pool);
    } catch (error) {
      await rm(join(path, POOL_MARKER), { force: true });
      throw error;
    }
    this.changes.emit('pools');
    return this.view(pool);
  }

  async setCapacity(name: string, capacityLimit: number | null): Promise<PoolView> {
    const pool = this.get(name);
    if (capacityLimit !== null) {
      const view = await this.view(pool);
      const committed = view.allocated + view.reserved.snapshots + view.reserved.replication;
      if (capacityLimit < committed) {
        throw conflict(
          'pool-capacity-too-small',
          `pool "${name}" already commits ${committed} bytes; capacity cannot go below that`,
        );
      }
    }
    this.repos.pools.setCapacityLimit(pool.id, capacityLimit);
    this.changes.emit('pools');
    return this.view({ ...pool, capacityLimit });
  }

  async delete(name: string): Promise<void> {
    const pool = this.get(name);
    if (pool.isDefault) throw conflict('pool-is-default', 'the default pool cannot be deleted');
    const volumes = this.repos.volumes.inPool(pool.id);
    if (volumes.length > 0) {
      throw conflict(
        'pool-in-use',
        `pool "${name}" still holds ${volumes.length} volume(s); delete them first`,
      );
    }
    this.repos.pools.delete(pool.id);
    await rm(join(pool.path, POOL_MARKER), { force: true });
    this.changes.emit('pools');
  }

  private async claimDirectory(pool: PoolRecord): Promise<void> {
    await writeFile(join(pool.path, POOL_MARKER), `${pool.id}\n`, { mode: 0o600 });
    await this.prepareDirectory(pool);
  }

  /** Makes sure the pool's subdirectories exist and that the directory is still this pool's. */
  private async prepareDirectory(pool: PoolRecord): Promise<void> {
    const owner = await readPoolMarker(pool.path);
    if (owner === null) {
      await writeFile(join(pool.path, POOL_MARKER), `${pool.id}\n`, { mode: 0o600 });
    } else if (owner !== pool.id) {
      throw conflict('pool-path-claimed', `${pool.path} is marked as another pool (${owner})`);
    }
    for (const dir of Object.values(poolDirs(pool))) await mkdir(dir, { recursive: true, mode: 0o700 });
  }
}

/** The pool id a directory's marker names, or null when it has none. */
export async function readPoolMarker(path: string): Promise<string | null> {
  try {
    return (await readFile(join(path, POOL_MARKER), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}
