// The file operations the metadata needs, behind an interface so tests can count syncs, inject
// failures and simulate power loss. `nodeMetadataStorage` is the real one, on node:fs/promises.
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface MetadataFile {
  /** Fills `into` from `position`; returns the bytes read (fewer only at the end of the file). */
  read(into: Uint8Array, position: number): Promise<number>;
  /** Writes all of `data` at `position` (into the page cache: durable after datasync). */
  write(data: Uint8Array, position: number): Promise<void>;
  /** fdatasync: every write that completed before the call, and the file's size, are durable. */
  datasync(): Promise<void>;
  size(): Promise<number>;
  /** Sets the file's size; bytes added read as zero. */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

export interface MetadataStorage {
  /** Creates an empty file; rejects with an error whose `code` is 'EEXIST' if the path exists. */
  createExclusive(path: string): Promise<MetadataFile>;
  /** Opens an existing file for reading and writing; `code` 'ENOENT' when there is none. */
  open(path: string): Promise<MetadataFile>;
  /** Makes the directory entry of a newly created file durable (fsync of its directory). */
  syncDirectoryOf(path: string): Promise<void>;
  /** Removes a file (a create that failed half way). */
  remove(path: string): Promise<void>;
}

/** The errno-style code of an error from the file system, if it has one. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

class NodeMetadataFile implements MetadataFile {
  constructor(private readonly handle: FileHandle) {}

  async read(into: Uint8Array, position: number): Promise<number> {
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await this.handle.read(into, done, into.length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  truncate(size: number): Promise<void> {
    return this.handle.truncate(size);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export const nodeMetadataStorage: MetadataStorage = {
  async createExclusive(path) {
    return new NodeMetadataFile(await open(path, 'wx+', 0o600));
  },
  async open(path) {
    return new NodeMetadataFile(await open(path, 'r+'));
  },
  async syncDirectoryOf(path) {
    const directory = await open(dirname(path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  },
  async remove(path) {
    await rm(path, { force: true });
  },
};
