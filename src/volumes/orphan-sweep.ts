// The start-up sweep: finds what a crash left in the pools' `volumes/` and `nas/` folders that no
// volume owns, and sets it aside into the pool's orphans folder (never deletes it), with a warning
// each. It runs before anything serves, so nothing else is creating or deleting volumes meanwhile.
//
// Only what is provably unowned moves: an entry whose path is not a catalogued volume's (image,
// replication metadata or NAS directory, see volume-paths.ts) AND whose name and kind are what the
// volume manager itself makes there: `NAME.img` / `NAME.img.replication` regular files, staging files
// of an interrupted create, and `NAME` directories (btrfs subvolumes too) under `nas/`. Everything
// else is left where it is (split-brain copies `NAME.img.split-brain-*`, files an administrator put
// there), and so is every pool whose directory does not carry this pool's marker (an unmounted or
// foreign directory). NAS snapshots, their trash and `meta/` live elsewhere in the pool and are not
// looked at.
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PoolRecord } from '../config/repositories/pools-repo.js';
import type { Repositories } from '../config/repositories/index.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../observability/logger.js';
import { stagedImageName } from '../storage/backends/image-file.js';
import { readPoolMarker } from './pool-service.js';
import { setAside } from './set-aside.js';
import { ownedPaths, poolDirs, REPLICATION_METADATA_SUFFIX, volumePath } from './volume-paths.js';

/** A volume name (see lib/names.ts), which is all the volume manager ever puts in a file name. */
const VOLUME_NAME = '[A-Za-z0-9][A-Za-z0-9_.-]*';
const IMAGE_FILE = new RegExp(`^${VOLUME_NAME}\\.img$`);
const METADATA_FILE = new RegExp(`^${VOLUME_NAME}\\.img${REPLICATION_METADATA_SUFFIX.replace('.', '\\.')}$`);
const NAS_DIRECTORY = new RegExp(`^${VOLUME_NAME}$`);

export interface SetAsideReport {
  readonly pool: string;
  readonly path: string;
  readonly to: string;
  readonly what: string;
}

export interface SweepReport {
  readonly setAside: SetAsideReport[];
  /** Catalogued volumes whose image or directory is not there (logged as errors, not changed). */
  readonly missing: { readonly volume: string; readonly path: string }[];
  /** Unowned entries that could not be moved (logged as errors; a create of the name answers 409). */
  readonly failed: { readonly path: string; readonly error: string }[];
}

export async function sweepOrphans(
  repos: Pick<Repositories, 'pools' | 'volumes'>,
  logger: Logger,
  now: () => Date = () => new Date(),
): Promise<SweepReport> {
  const report: SweepReport = { setAside: [], missing: [], failed: [] };
  for (const pool of repos.pools.list()) {
    if (!(await isMarkedAs(pool))) {
      logger.warn(
        { pool: pool.name, path: pool.path },
        'pool directory is missing or not marked as this pool; it was not swept for orphans',
      );
      continue;
    }
    const volumes = repos.volumes.inPool(pool.id);
    for (const volume of volumes) {
      const path = volumePath(pool, volume);
      const stats = await lstat(path).catch(() => null);
      if (volume.type === 'nas' ? stats?.isDirectory() !== true : stats?.isFile() !== true) {
        report.missing.push({ volume: volume.name, path });
        logger.error({ volume: volume.name, path }, 'volume has no image file or directory');
      }
    }
    const owned = new Set(volumes.flatMap((v) => ownedPaths(pool, v)));
    const dirs = poolDirs(pool);
    const candidates = [
      ...(await entries(dirs.images)).map((e) => ({ dir: dirs.images, entry: e, ...imageVerdict(e) })),
      ...(await entries(dirs.nas)).map((e) => ({ dir: dirs.nas, entry: e, ...nasVerdict(e) })),
    ];
    for (const { dir, entry, what, asName } of candidates) {
      const path = join(dir, entry.name);
      if (owned.has(path)) continue;
      if (what === null) {
        logger.warn({ pool: pool.name, path }, 'not a file the volume manager makes; left where it is');
        continue;
      }
      try {
        const to = await setAside(pool.path, path, now(), asName);
        report.setAside.push({ pool: pool.name, path, to, what });
        logger.warn({ pool: pool.name, path, to, what }, `${what} was set aside to ${to}`);
      } catch (error) {
        report.failed.push({ path, error: messageOf(error) });
        logger.error({ pool: pool.name, path, err: messageOf(error) }, `${what} could not be set aside`);
      }
    }
  }
  return report;
}

interface Verdict {
  /** What the entry is, for the log; null: not something the volume manager makes, never moved. */
  readonly what: string | null;
  /** The name to set it aside under, when not its own. */
  readonly asName?: string;
}

function imageVerdict(entry: Dirent): Verdict {
  if (!entry.isFile()) return { what: null };
  const staged = stagedImageName(entry.name);
  if (staged !== null) {
    return {
      what: 'an image file whose create was interrupted (it holds no data)',
      asName: `${staged}.incomplete`,
    };
  }
  if (IMAGE_FILE.test(entry.name)) return { what: 'an image file that no volume owns' };
  if (METADATA_FILE.test(entry.name)) return { what: 'replication metadata that no volume owns' };
  return { what: null };
}

function nasVerdict(entry: Dirent): Verdict {
  if (!entry.isDirectory() || !NAS_DIRECTORY.test(entry.name)) return { what: null };
  return { what: 'a NAS volume directory that no volume owns' };
}

async function entries(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch(() => []);
}

async function isMarkedAs(pool: PoolRecord): Promise<boolean> {
  return (await readPoolMarker(pool.path).catch(() => null)) === pool.id;
}
