// Facts about the filesystem under a path, for pool accounting, and making directory entries durable.
import { open, statfs } from 'node:fs/promises';

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

/** Makes a directory's entries durable (a create, rename or unlink in it survives a power loss). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
