// The volume manager's logical volumes: create, expand (grow only), change attributes, delete.
//
// Invariants: a volume's committed space (size + snapshot reserve + replication metadata) always fits
// its pool's capacity; the catalogue row and the backing file/directory exist together (a failed
// create leaves neither); a volume that is exported or replicated is not deleted unless forced.
// All mutations run one at a time (the mutex), so two requests cannot both spend the same free space.
//
// Crash safety (kill -9 at any point): a create makes the file/directory complete and durable first
// and commits the catalogue row last; a delete commits the row's removal first and removes the data
// after. So a crash leaves the volume whole, or an unowned file/directory and no row; the start-up
// sweep (orphan-sweep.ts) sets those aside, and a create that meets one sets it aside itself.
import { randomUUID } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import type { ChangeFeed } from '../config/change-feed.js';
import type { Repositories } from '../config/repositories/index.js';
import {
  IO_TYPES,
  VOLUME_TYPES,
  type IoType,
  type Provisioning,
  type VolumeRecord,
  type VolumeType,
} from '../config/repositories/volumes-repo.js';
import type { PoolRecord } from '../config/repositories/pools-repo.js';
import { conflict, invalid, messageOf, noSpace, notFound } from '../lib/errors.js';
import { Mutex } from '../lib/mutex.js';
import { validateName } from '../lib/names.js';
import { formatSize } from '../lib/size.js';
import {
  createVolumeDirectory,
  directoryUsage,
  removeVolumeDirectory,
} from '../storage/backends/directory.js';
import {
  allocatedBytes,
  createImageFile,
  growImageFile,
  removeImageFile,
} from '../storage/backends/image-file.js';
import type { Logger } from '../observability/logger.js';
import { filesystemSpace } from '../storage/filesystem.js';
import type { PoolService } from './pool-service.js';
import { replicationMetadataBytes } from './reserved-space.js';
import { setAside } from './set-aside.js';
import { ownedPaths, volumePath } from './volume-paths.js';

/** Block volumes are sized in whole 4 KiB blocks so any LUN block size (512 or 4096) divides them. */
export const VOLUME_SIZE_ALIGNMENT = 4096;
export const MIN_VOLUME_SIZE = 1024 * 1024;

export interface CreateVolumeInput {
  readonly name: string;
  readonly type: VolumeType;
  readonly size: number;
  readonly pool?: string;
  readonly provisioning?: Provisioning;
  readonly replication?: boolean;
  readonly ioType?: IoType;
  readonly worm?: boolean;
  readonly snapshotReserve?: number;
}

export interface UpdateVolumeInput {
  readonly replication?: boolean;
  readonly ioType?: IoType;
  readonly worm?: boolean;
  readonly snapshotReserve?: number;
}

export interface VolumeView extends VolumeRecord {
  readonly pool: string;
  /** Where the data lives: the image file, or the NAS directory. */
  readonly path: string;
  readonly replicationMetadata: number;
  /** Bytes actually occupied on disk. */
  readonly used: number;
  readonly exportedAs: { readonly target: string; readonly lun: number } | null;
  /** NAS volumes: size (the quota) minus used; null for block volumes. */
  readonly quotaFree: number | null;
  /** Bytes the volume's NAS snapshots take (counted against its snapshot reserve). */
  readonly snapshotUsed: number;
}

export class VolumeService {
  private readonly mutex = new Mutex();
  /** Bytes of a volume's NAS snapshots; set by the NAS service. */
  snapshotUsage: (volume: VolumeRecord) => number = () => 0;
  /** Why a volume is in use besides exports and replication (its NAS shares); set by the NAS service. */
  usedBy: (volume: VolumeRecord) => string[] = () => [];

  constructor(
    private readonly repos: Repositories,
    private readonly pools: PoolService,
    private readonly changes: ChangeFeed,
    /** Where leftovers set aside by a create, and failed removals, are reported. */
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {}

  async list(): Promise<VolumeView[]> {
    return Promise.all(this.repos.volumes.list().map((v) => this.view(v)));
  }

  async show(name: string): Promise<VolumeView> {
    return this.view(this.get(name));
  }

  get(name: string): VolumeRecord {
    const volume = this.repos.volumes.byName(name);
    if (!volume) throw notFound('volume-not-found', `volume "${name}" does not exist`);
    return volume;
  }

  /** The file or directory that backs a volume. */
  pathOf(volume: VolumeRecord): string {
    return volumePath(this.poolOf(volume), volume);
  }

  private poolOf(volume: VolumeRecord): PoolRecord {
    const pool = this.repos.pools.byId(volume.poolId);
    if (!pool) throw notFound('pool-not-found', `pool of volume "${volume.name}" is missing`);
    return pool;
  }

  create(input: CreateVolumeInput): Promise<VolumeView> {
    return this.mutex.run(async () => {
      const volume = this.validateNew(input);
      const pool = this.repos.pools.byId(volume.poolId);
      if (!pool) throw notFound('pool-not-found', 'pool vanished');
      await this.checkSpace(
        pool.name,
        committedBytes(volume),
        volume.provisioning === 'thick' ? volume.size : 0,
      );
      await this.setAsideLeftovers(pool, volume);
      const path = this.pathOf(volume);
      if (volume.type === 'nas') await createVolumeDirectory(path);
      else await createImageFile(path, volume.size, volume.provisioning);
      try {
        this.repos.volumes.insert(volume);
      } catch (error) {
        await (volume.type === 'nas' ? removeVolumeDirectory(path) : removeImageFile(path));
        throw error;
      }
      this.changes.emit('volumes', { volume: volume.name, action: 'created' });
      return this.view(volume);
    });
  }

  expand(name: string, newSize: number): Promise<VolumeView> {
    return this.mutex.run(async () => {
      const volume = this.get(name);
      const size = checkSize(newSize, volume.type);
      if (size <= volume.size) {
        throw invalid(
          'volume-shrink-refused',
          `volume "${name}" is ${formatSize(volume.size)}; expand only grows (asked for ${formatSize(size)})`,
        );
      }
      const grown: VolumeRecord = { ...volume, size };
      const pool = this.repos.pools.byId(volume.poolId);
      if (!pool) throw notFound('pool-not-found', 'pool vanished');
      await this.checkSpace(
        pool.name,
        committedBytes(grown) - committedBytes(volume),
        volume.provisioning === 'thick' ? size - volume.size : 0,
      );
      if (volume.type !== 'nas')
        await growImageFile(this.pathOf(volume), volume.size, size, volume.provisioning);
      this.repos.volumes.update(grown);
      this.changes.emit('volumes', { volume: name, action: 'expanded' });
      return this.view(grown);
    });
  }

  update(name: string, input: UpdateVolumeInput): Promise<VolumeView> {
    return this.mutex.run(async () => {
      const volume = this.get(name);
      checkTypeAttributes(name, volume.type, input.ioType, input.worm !== undefined);
      if (volume.worm && input.worm === false) {
        throw conflict('worm-permanent', `volume "${name}" is WORM; that cannot be turned off`);
      }
      if (
        input.ioType !== undefined &&
        input.ioType !== volume.ioType &&
        this.repos.targets.mappingOfVolume(volume.id)
      ) {
        throw conflict(
          'volume-in-use',
          `volume "${name}" is exported; unmap it before changing its I/O type`,
        );
      }
      const updated: VolumeRecord = {
        ...volume,
        replication: input.replication ?? volume.replication,
        ioType: input.ioType ?? volume.ioType,
        worm: input.worm ?? volume.worm,
        snapshotReserve: input.snapshotReserve ?? volume.snapshotReserve,
      };
      if (updated.snapshotReserve < 0)
        throw invalid('bad-snapshot-reserve', 'snapshot reserve cannot be negative');
      const extra = committedBytes(updated) - committedBytes(volume);
      if (extra > 0) {
        const pool = this.repos.pools.byId(volume.poolId);
        if (!pool) throw notFound('pool-not-found', 'pool vanished');
        await this.checkSpace(pool.name, extra, 0);
      }
      this.repos.volumes.update(updated);
      this.changes.emit('volumes', { volume: name, action: 'updated' });
      return this.view(updated);
    });
  }

  /** Deletes a volume and its data. Refused while exported or replicated unless `force`, which also
   * removes the LUN mapping. */
  delete(name: string, options: { force?: boolean } = {}): Promise<void> {
    return this.mutex.run(async () => {
      const volume = this.get(name);
      const mapping = this.repos.targets.mappingOfVolume(volume.id);
      const reasons: string[] = [];
      if (mapping) reasons.push(`exported by ${mapping.iqn} as LUN ${mapping.lun}`);
      if (volume.replication) reasons.push('set to use volume replication');
      reasons.push(...this.usedBy(volume));
      if (reasons.length > 0 && options.force !== true) {
        throw conflict(
          'volume-in-use',
          `volume "${name}" is in use (${reasons.join('; ')}); use --force to delete anyway`,
          {
            reasons,
          },
        );
      }
      const pool = this.poolOf(volume);
      // The row goes first, with its LUN mapping in one transaction: from here on the volume is
      // deleted, whatever happens to its files.
      this.repos.db.transaction(() => {
        if (mapping) this.unmap(mapping.iqn, volume.id);
        this.repos.volumes.delete(volume.id);
      })();
      await this.removeData(pool, volume);
      if (mapping) this.changes.emit('targets', { iqn: mapping.iqn, action: 'updated' });
      this.changes.emit('volumes', { volume: name, action: 'deleted' });
    });
  }

  /** Before a create: whatever sits at the new volume's paths belongs to no volume (there is no row of
   * that name, and the mutex is held), so it is a crash's leftover; set it aside, or refuse clearly. */
  private async setAsideLeftovers(pool: PoolRecord, volume: VolumeRecord): Promise<void> {
    for (const path of ownedPaths(pool, volume)) {
      if ((await lstat(path).catch(() => null)) === null) continue;
      try {
        const to = await setAside(pool.path, path, new Date());
        this.logger?.warn(
          { volume: volume.name, path, to },
          `a leftover that no volume owned was set aside to ${to}`,
        );
      } catch (error) {
        throw conflict(
          'volume-leftover',
          `${path} is left over from an earlier volume and cannot be set aside (${messageOf(error)}); ` +
            'move it away, or pick another name',
          { path },
        );
      }
    }
  }

  /** After the row is gone: the volume's data and replication metadata. A failure is only logged: the
   * volume is deleted, and what is left is unowned (set aside at the next start or create). */
  private async removeData(pool: PoolRecord, volume: VolumeRecord): Promise<void> {
    for (const path of ownedPaths(pool, volume)) {
      try {
        await (volume.type === 'nas' ? removeVolumeDirectory(path) : removeImageFile(path));
      } catch (error) {
        this.logger?.warn(
          { volume: volume.name, path, err: messageOf(error) },
          "the deleted volume's data could not be removed; it will be set aside as an orphan",
        );
      }
    }
  }

  private unmap(iqn: string, volumeId: string): void {
    const target = this.repos.targets.byIqn(iqn);
    if (!target) return;
    this.repos.targets.save({ ...target, luns: target.luns.filter((l) => l.volumeId !== volumeId) });
  }

  private validateNew(input: CreateVolumeInput): VolumeRecord {
    const name = validateName('volume', input.name);
    if (!VOLUME_TYPES.includes(input.type)) {
      throw invalid('bad-volume-type', `volume type must be one of ${VOLUME_TYPES.join(', ')}`);
    }
    if (this.repos.volumes.byName(name)) throw conflict('volume-exists', `volume "${name}" already exists`);
    const pool = input.pool === undefined ? this.pools.defaultPool() : this.pools.get(input.pool);
    const size = checkSize(input.size, input.type);
    checkTypeAttributes(name, input.type, input.ioType, input.worm === true);
    if (input.provisioning === 'thick' && input.type === 'nas') {
      throw invalid(
        'thick-nas',
        'NAS volumes are directories with a quota; thick provisioning applies to block volumes',
      );
    }
    const snapshotReserve = input.snapshotReserve ?? 0;
    if (!Number.isInteger(snapshotReserve) || snapshotReserve < 0) {
      throw invalid('bad-snapshot-reserve', 'snapshot reserve must be a whole number of bytes, zero or more');
    }
    return {
      id: randomUUID(),
      name,
      poolId: pool.id,
      type: input.type,
      size,
      provisioning: input.type === 'nas' ? 'thin' : (input.provisioning ?? 'thin'),
      ioType: input.type === 'iscsi' ? (input.ioType ?? 'block') : null,
      replication: input.replication ?? false,
      worm: input.worm ?? false,
      snapshotReserve,
      createdAt: new Date().toISOString(),
    };
  }

  /** Refuses when the pool cannot commit `committed` more bytes, or the filesystem cannot hold
   * `physical` more bytes (thick allocation). */
  private async checkSpace(poolName: string, committed: number, physical: number): Promise<void> {
    const view = await this.pools.show(poolName);
    if (committed > view.free) {
      throw noSpace(
        'pool-no-space',
        `pool "${poolName}" has ${formatSize(view.free)} free; this needs ${formatSize(committed)}`,
        { free: view.free, needed: committed },
      );
    }
    if (physical > 0) {
      const fs = await filesystemSpace(view.path);
      if (physical > fs.available) {
        throw noSpace(
          'filesystem-no-space',
          `the filesystem under pool "${poolName}" has ${formatSize(fs.available)} available; preallocating needs ${formatSize(physical)}`,
        );
      }
    }
  }

  private async view(volume: VolumeRecord): Promise<VolumeView> {
    const pool = this.repos.pools.byId(volume.poolId);
    const path = this.pathOf(volume);
    const mapping = this.repos.targets.mappingOfVolume(volume.id);
    const used = volume.type === 'nas' ? await directoryUsage(path) : await allocatedBytes(path);
    return {
      ...volume,
      pool: pool?.name ?? '?',
      path,
      replicationMetadata: volume.replication ? replicationMetadataBytes(volume.size) : 0,
      used,
      exportedAs: mapping ? { target: mapping.iqn, lun: mapping.lun } : null,
      quotaFree: volume.type === 'nas' ? Math.max(0, volume.size - used) : null,
      snapshotUsed: this.snapshotUsage(volume),
    };
  }
}

export function committedBytes(
  volume: Pick<VolumeRecord, 'size' | 'snapshotReserve' | 'replication'>,
): number {
  return (
    volume.size + volume.snapshotReserve + (volume.replication ? replicationMetadataBytes(volume.size) : 0)
  );
}

/** I/O type belongs to iSCSI volumes and WORM to NAS volumes; `wormRequested` says the request
 * touches WORM at all. */
function checkTypeAttributes(
  name: string,
  type: VolumeType,
  ioType: IoType | undefined,
  wormRequested: boolean,
): void {
  if (ioType !== undefined && type !== 'iscsi') {
    throw invalid(
      'io-type-not-iscsi',
      `I/O type (block/file) applies to iSCSI volumes only; "${name}" is ${type}`,
    );
  }
  if (ioType !== undefined && !IO_TYPES.includes(ioType)) {
    throw invalid('bad-io-type', `I/O type must be one of ${IO_TYPES.join(', ')}`);
  }
  if (wormRequested && type !== 'nas') {
    throw invalid('worm-not-nas', `WORM applies to NAS volumes only; "${name}" is ${type}`);
  }
}

function checkSize(size: number, type: VolumeType): number {
  if (!Number.isSafeInteger(size) || size <= 0)
    throw invalid('bad-size', 'volume size must be a positive number of bytes');
  if (size < MIN_VOLUME_SIZE)
    throw invalid('bad-size', `volume size must be at least ${formatSize(MIN_VOLUME_SIZE)}`);
  if (type !== 'nas' && size % VOLUME_SIZE_ALIGNMENT !== 0) {
    throw invalid('bad-size', `block volume size must be a multiple of ${VOLUME_SIZE_ALIGNMENT} bytes`);
  }
  return size;
}
