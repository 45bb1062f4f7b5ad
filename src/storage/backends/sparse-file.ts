// The two Linux calls on sparse files that Node does not offer, and how we reach them:
//
// - Data/hole map: lseek(2) with SEEK_DATA (3) / SEEK_HOLE (4). `fs-ext` (an optional native
//   dependency, built by node-gyp like better-sqlite3) exposes lseek with the raw `whence`, so both
//   work through it, on the libuv thread pool. When it is not installed or did not build, the map
//   says "all mapped", which the BlockDevice contract allows: callers then copy or report more
//   than needed, never less. `filefrag -e` would also work but parses text from another program
//   for every GET LBA STATUS, and knows nothing of dirty pages not yet allocated.
// - Punching a hole: fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE. No maintained
//   npm package offers it (fs-ext has flock, fcntl, seek and statvfs, not fallocate), so large
//   ranges spawn util-linux `fallocate --punch-hole` with an argument array; small ranges (and any
//   filesystem or machine without punch hole) are written with zeroes instead, which reads the
//   same but gives no space back.
import { createRequire } from 'node:module';
import { BlockIoError, type AllocationExtent } from '../block-device.js';
import { runProgram } from '../../lib/run-program.js';
import { toBlockIoError } from './io-errors.js';

const SEEK_DATA = 3;
const SEEK_HOLE = 4;

type SeekCallback = (error: NodeJS.ErrnoException | null, position: number) => void;
interface FsExt {
  seek(fd: number, position: number, whence: number, callback: SeekCallback): void;
}

let fsExtCache: FsExt | null | undefined;

function loadFsExt(): FsExt | null {
  if (fsExtCache !== undefined) return fsExtCache;
  try {
    const required = createRequire(import.meta.url)('fs-ext') as Partial<FsExt>;
    fsExtCache = typeof required.seek === 'function' ? (required as FsExt) : null;
  } catch {
    fsExtCache = null;
  }
  return fsExtCache;
}

/** Whether allocation maps come from SEEK_DATA/SEEK_HOLE (true) or say "all mapped" (false). */
export function hasSeekData(): boolean {
  return loadFsExt() !== null;
}

/** lseek(fd, position, whence); null for ENXIO (no data/hole at or after `position`). */
function seek(fsExt: FsExt, fd: number, position: number, whence: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    fsExt.seek(fd, position, whence, (error, result) => {
      if (!error) resolve(result);
      else if (error.code === 'ENXIO') resolve(null);
      else reject(toBlockIoError(error, 'lseek'));
    });
  });
}

/**
 * Data and hole runs of [offset, offset + length) of an open file, in order and covering the range.
 * Bytes past the end of the file are holes. Without SEEK_DATA support the whole range is mapped.
 */
export async function fileExtents(fd: number, offset: number, length: number): Promise<AllocationExtent[]> {
  if (length <= 0) return [];
  const end = offset + length;
  const fsExt = loadFsExt();
  if (!fsExt) return [{ offset, length, mapped: true }];
  const extents: AllocationExtent[] = [];
  const add = (from: number, to: number, mapped: boolean): void => {
    if (to > from) extents.push({ offset: from, length: to - from, mapped });
  };
  let position = offset;
  while (position < end) {
    const data = (await seek(fsExt, fd, position, SEEK_DATA)) ?? end;
    add(position, Math.min(data, end), false);
    if (data >= end) break;
    // A file always ends in a (virtual) hole, so SEEK_HOLE after data finds one.
    const hole = (await seek(fsExt, fd, data, SEEK_HOLE)) ?? end;
    add(data, Math.min(hole, end), true);
    position = hole;
  }
  return extents;
}

export type PunchResult = 'punched' | 'unsupported';

let fallocateMissing = false;

/**
 * Deallocates [offset, offset + length) of the file at `path` with util-linux fallocate; the range
 * then reads as zeroes and the file keeps its size. 'unsupported' when the filesystem or the machine
 * cannot punch holes (the caller writes zeroes instead); other failures reject with a BlockIoError.
 */
export async function punchHole(path: string, offset: number, length: number): Promise<PunchResult> {
  if (fallocateMissing) return 'unsupported';
  const args = ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), path];
  let result;
  try {
    result = await runProgram('fallocate', args, { env: { ...process.env, LC_ALL: 'C' } });
  } catch {
    fallocateMissing = true; // no fallocate program on this machine
    return 'unsupported';
  }
  if (result.code === 0) return 'punched';
  const said = result.stderr.trim();
  if (/not supported/i.test(said)) return 'unsupported';
  const what = `punch hole in ${path}: ${said || `fallocate exited ${result.code}`}`;
  if (/no space left|quota exceeded/i.test(said)) throw new BlockIoError('no-space', what, 'ENOSPC');
  if (/read-only file system/i.test(said)) throw new BlockIoError('medium', what, 'EROFS');
  throw new BlockIoError('medium', what, 'EIO');
}
