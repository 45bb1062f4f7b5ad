// Facts about the filesystem under a path, for pool accounting.
import { statfs } from 'node:fs/promises';

export interface FilesystemSpace {
  /** Bytes in the filesystem. */
  readonly total: number;
  /** Bytes an unprivileged writer could still allocate. */
  readonly available: number;
}

export async function filesystemSpace(path: string): Promise<FilesystemSpace> {
  const stats = await statfs(path);
  return { total: stats.blocks * stats.bsize, available: stats.bavail * stats.bsize };
}
