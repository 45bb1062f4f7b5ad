// Which directories may hold a pool. A pool's path comes from an administrator over the API, so it is
// checked before anything is created there: an absolute path of printable characters, outside the
// system's own trees and the kernel's virtual filesystems, and a directory the daemon can write.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { invalid } from '../lib/errors.js';

/** Trees that belong to the system or the kernel; a pool in (or above) one of them is refused. */
export const SYSTEM_TREES = [
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/boot',
  '/etc',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/usr',
] as const;

/** The normalized path, or an `invalid` error saying what is wrong with it. Pure. */
export function checkPoolPathText(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    throw invalid('bad-pool-path', 'pool path must not contain control characters (such as NUL or newline)');
  }
  if (!isAbsolute(path)) throw invalid('bad-pool-path', `pool path "${path}" must be absolute`);
  const normalized = resolve(path);
  if (normalized === '/') throw invalid('bad-pool-path', 'the root directory cannot be a pool');
  for (const tree of SYSTEM_TREES) {
    if (normalized === tree || normalized.startsWith(tree + sep)) {
      throw invalid('bad-pool-path', `${normalized} is inside ${tree}, which belongs to the system`);
    }
  }
  return normalized;
}

/** The nearest existing ancestor (or the path itself) must be a directory the daemon can write. */
export async function checkPoolPathUsable(path: string): Promise<void> {
  let probe = path;
  for (;;) {
    const stats = await stat(probe).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      if (code === undefined) throw error;
      throw invalid('bad-pool-path', `${path} cannot be used as a pool (${code} at ${probe})`);
    });
    if (stats === null) {
      probe = resolve(probe, '..');
      continue;
    }
    if (!stats.isDirectory()) {
      throw invalid('bad-pool-path', `${probe} is not a directory, so ${path} cannot be a pool`);
    }
    break;
  }
  try {
    await access(probe, constants.W_OK | constants.X_OK);
  } catch {
    throw invalid('bad-pool-path', `${probe} is not writable by the daemon, so ${path} cannot be a pool`);
  }
}
