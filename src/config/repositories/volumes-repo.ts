// Logical volumes: the catalogue of what lives in which pool, with the attributes the admin chose.
import type { Db } from '../store.js';

export const VOLUME_TYPES = ['iscsi', 'nas', 'fc'] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];
export const IO_TYPES = ['block', 'file'] as const;
export type IoType = (typeof IO_TYPES)[number];
export type Provisioning = 'thin' | 'thick';

export interface VolumeRecord {
  readonly id: string;
  readonly name: string;
  readonly poolId: string;
  readonly type: VolumeType;
  readonly size: number;
  readonly provisioning: Provisioning;
  /** Only iSCSI volumes have an I/O type. */
  readonly ioType: IoType | null;
  readonly replication: boolean;
  /** Only NAS volumes can be WORM. */
  readonly worm: boolean;
  readonly snapshotReserve: number;
  readonly createdAt: string;
}

interface VolumeRow {
  id: string;
  name: string;
  pool_id: string;
  type: VolumeType;
  size: number;
  provisioning: Provisioning;
  io_type: IoType | null;
  replication: number;
  worm: number;
  snapshot_reserve: number;
  created_at: string;
}

const toRecord = (row: VolumeRow): VolumeRecord => ({
  id: row.id,
  name: row.name,
  poolId: row.pool_id,
  type: row.type,
  size: row.size,
  provisioning: row.provisioning,
  ioType: row.io_type,
  replication: row.replication === 1,
  worm: row.worm === 1,
  snapshotReserve: row.snapshot_reserve,
  createdAt: row.created_at,
});

export class VolumesRepo {
  constructor(private readonly db: Db) {}

  list(): VolumeRecord[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as VolumeRow[]).map(toRecord);
  }

  inPool(poolId: string): VolumeRecord[] {
    return (
      this.db.prepare('SELECT * FROM volumes WHERE pool_id = ? ORDER BY name').all(poolId) as VolumeRow[]
    ).map(toRecord);
  }

  byName(name: string): VolumeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as VolumeRow | undefined;
    return row && toRecord(row);
  }

  byId(id: string): VolumeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM volumes WHERE id = ?').get(id) as VolumeRow | undefined;
    return row && toRecord(row);
  }

  insert(volume: VolumeRecord): void {
    this.db
      .prepare(
        `INSERT INTO volumes (id, name, pool_id, type, size, provisioning, io_type, replication, worm,
           snapshot_reserve, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        volume.id,
        volume.name,
        volume.poolId,
        volume.type,
        volume.size,
        volume.provisioning,
        volume.ioType,
        volume.replication ? 1 : 0,
        volume.worm ? 1 : 0,
        volume.snapshotReserve,
        volume.createdAt,
      );
  }

  update(volume: VolumeRecord): void {
    this.db
      .prepare(
        `UPDATE volumes SET size = ?, io_type = ?, replication = ?, worm = ?, snapshot_reserve = ? WHERE id = ?`,
      )
      .run(
        volume.size,
        volume.ioType,
        volume.replication ? 1 : 0,
        volume.worm ? 1 : 0,
        volume.snapshotReserve,
        volume.id,
      );
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM volumes WHERE id = ?').run(id);
  }
}
