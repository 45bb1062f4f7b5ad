// An in-memory MetadataStorage that behaves like a file on a disk with a volatile write cache: writes
// land in the "page cache" (what reads see) and only a datasync makes them durable. crashImage()
// returns what the disk could hold after a power loss now: the durable bytes plus any subset of the
// unsynced writes, each whole, missing, or torn at 512-byte sector boundaries. Every operation is
// logged, can be observed as it is issued (onIo), and can be made to fail (failAt).
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MetadataFile, MetadataStorage } from '../../../../src/replication/metadata/metadata-file.js';

export type IoKind = 'write' | 'datasync' | 'truncate' | 'read';

export interface IoEvent {
  readonly index: number;
  readonly kind: IoKind;
  readonly path: string;
  readonly position: number;
  readonly length: number;
}

type PendingChange =
  | { readonly kind: 'write'; readonly position: number; readonly data: Buffer }
  | { readonly kind: 'truncate'; readonly size: number };

const SECTOR = 512;

/** A random source in [0, 1). */
export type Random = () => number;

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimulatedFile {
  current: Buffer;
  durable: Buffer;
  pending: PendingChange[] = [];

  constructor(content: Buffer = Buffer.alloc(0)) {
    this.current = Buffer.from(content);
    this.durable = Buffer.from(content);
  }

  /** What the disk may hold after a power loss at this moment. */
  crashImage(random: Random): Buffer {
    let image: Buffer = Buffer.from(this.durable);
    for (const change of this.pending) {
      if (change.kind === 'truncate') {
        if (random() < 0.5) image = resized(image, change.size);
        continue;
      }
      const choice = random();
      if (choice < 0.3) continue;
      const end = change.position + change.data.length;
      if (image.length < end) image = resized(image, end);
      if (choice < 0.6) {
        change.data.copy(image, change.position);
        continue;
      }
      for (let offset = 0; offset < change.data.length; offset += SECTOR) {
        if (random() < 0.5) change.data.copy(image, change.position + offset, offset, offset + SECTOR);
      }
    }
    return image;
  }
}

export class SimulatedStorage implements MetadataStorage {
  readonly files = new Map<string, SimulatedFile>();
  readonly events: IoEvent[] = [];
  /** Called as each operation takes effect (a write is then in the page cache, not yet durable). */
  onIo: ((event: IoEvent, file: SimulatedFile) => void) | null = null;
  /** The index of the first operation to fail with EIO; every later one fails too. */
  failAt = Number.POSITIVE_INFINITY;

  /** A file whose whole content is durable. */
  put(path: string, content: Buffer): void {
    this.files.set(path, new SimulatedFile(content));
  }

  file(path: string): SimulatedFile {
    const file = this.files.get(path);
    if (file === undefined) throw new Error(`no simulated file ${path}`);
    return file;
  }

  count(kind: IoKind, path?: string): number {
    return this.events.filter((e) => e.kind === kind && (path === undefined || e.path === path)).length;
  }

  createExclusive(path: string): Promise<MetadataFile> {
    if (this.files.has(path)) return Promise.reject(errnoError('EEXIST', path));
    const file = new SimulatedFile();
    this.files.set(path, file);
    return Promise.resolve(this.#handle(path, file));
  }

  open(path: string): Promise<MetadataFile> {
    const file = this.files.get(path);
    if (file === undefined) return Promise.reject(errnoError('ENOENT', path));
    return Promise.resolve(this.#handle(path, file));
  }

  syncDirectoryOf(): Promise<void> {
    return Promise.resolve();
  }

  remove(path: string): Promise<void> {
    this.files.delete(path);
    return Promise.resolve();
  }

  #handle(path: string, file: SimulatedFile): MetadataFile {
    let closed = false;
    const operation = async (kind: IoKind, position: number, length: number, apply: () => void) => {
      if (closed) throw new Error(`${path}: operation on a closed handle`);
      await nextTurn();
      const event: IoEvent = { index: this.events.length, kind, path, position, length };
      this.events.push(event);
      if (event.index >= this.failAt) throw errnoError('EIO', path);
      apply();
      this.onIo?.(event, file);
      await nextTurn();
    };
    return {
      read: async (into, position) => {
        let count = 0;
        await operation('read', position, into.length, () => {
          count = Math.max(0, Math.min(into.length, file.current.length - position));
          file.current.copy(into, 0, position, position + count);
        });
        return count;
      },
      write: (data, position) =>
        operation('write', position, data.length, () => {
          const copy = Buffer.from(data);
          const end = position + copy.length;
          if (file.current.length < end) file.current = resized(file.current, end);
          copy.copy(file.current, position);
          file.pending.push({ kind: 'write', position, data: copy });
        }),
      datasync: () =>
        operation('datasync', 0, 0, () => {
          file.durable = Buffer.from(file.current);
          file.pending = [];
        }),
      size: () => Promise.resolve(file.current.length),
      truncate: (size) =>
        operation('truncate', size, 0, () => {
          file.current = resized(file.current, size);
          file.pending.push({ kind: 'truncate', size });
        }),
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
  }
}

function resized(buffer: Buffer, size: number): Buffer {
  const next = Buffer.alloc(size);
  buffer.copy(next, 0, 0, Math.min(size, buffer.length));
  return next;
}

function errnoError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: simulated, ${path}`), { code });
}
