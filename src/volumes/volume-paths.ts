// Where a volume's data lives in its pool, in one place: the start-up sweep decides what is owned by
// exactly these names, so a path made anywhere else would be set aside as an orphan.
import { join } from 'node:path';
import type { PoolRecord } from '../config/repositories/pools-repo.js';
import type { VolumeRecord } from '../config/repositories/volumes-repo.js';

export const poolDirs = (pool: Pick<PoolRecord, 'path'>) => ({
  images: join(pool.path, 'volumes'),
  nas: join(pool.path, 'nas'),
  meta: join(pool.path, 'meta'),
});

/** The suffix of a replicated volume's metadata file, kept beside its image (`NAME.img.replication`). */
export const REPLICATION_METADATA_SUFFIX = '.replication';

/** The image file of a block volume, or the directory of a NAS volume. */
export function volumePath(
  pool: Pick<PoolRecord, 'path'>,
  volume: Pick<VolumeRecord, 'name' | 'type'>,
): string {
  const dirs = poolDirs(pool);
  return volume.type === 'nas' ? join(dirs.nas, volume.name) : join(dirs.images, `${volume.name}.img`);
}

/** Every path in the pool that belongs to the volume: its image or directory and, for a block volume,
 * its replication metadata (present or not). */
export function ownedPaths(
  pool: Pick<PoolRecord, 'path'>,
  volume: Pick<VolumeRecord, 'name' | 'type'>,
): string[] {
  const path = volumePath(pool, volume);
  return volume.type === 'nas' ? [path] : [path, `${path}${REPLICATION_METADATA_SUFFIX}`];
}
