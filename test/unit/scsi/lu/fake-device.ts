// A tiny sparse in-memory BlockDevice for the SCSI unit tests, independent of storage/backends: it
// records every operation in order (so tests can check that a write-through write is flushed before
// GOOD), can fail the next operations with a BlockIoError kind, and can hold writes until released
// (so tests can interleave commands deterministically).
import {
  BlockIoError,
  type AllocationExtent,
  type BlockDevice,
  type BlockIoErrorKind,
  type WriteOptions,
} from '../../../../src/storage/block-device.js';

export type Op =
  | { readonly kind: 'read'; readonly offset: number; readonly length: number }
  | { readonly kind: 'write'; readonly offset: number; readonly length: number; readonly fua: boolean }
  | { readonly kind: 'flush' }
  | { readonly kind: 'discard'; readonly offset: number; readonly length: number };

const CHUNK = 4096;

export class FakeDevice implements BlockDevice {
  size: number;
  readonly ops: Op[] = [];
  readonly #chunks = new Map<number, Buffer>();
  #failures: { kind: BlockIoErrorKind; on: Op['kind'] }[] = [];
  #gate: Promise<void> | undefined;
  #openGate: (() => void) | undefined;

  constructor(size: number) {
    this.size = size;
  }

  /** The next `on` operation fails with `kind`. */
  failNext(on: Op['kind'], kind: BlockIoErrorKind): void {
    this.#failures.push({ kind, on });
  }

  /** Writes wait (after being recorded) until `releaseWrites()`. */
  holdWrites(): void {
    this.#gate = new Promise((resolve) => (this.#openGate = resolve));
  }

  releaseWrites(): void {
    this.#openGate?.();
    this.#gate = undefined;
  }

  #maybeFail(on: Op['kind']): void {
    const i = this.#failures.findIndex((f) => f.on === on);
    if (i < 0) return;
    const [failure] = this.#failures.splice(i, 1);
    if (failure !== undefined) throw new BlockIoError(failure.kind, `injected ${failure.kind} on ${on}`);
  }

  /** Reads without recording, for assertions. */
  peek(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let at = 0; at < length;) {
      const abs = offset + at;
      const index = Math.floor(abs / CHUNK);
      const within = abs % CHUNK;
      const n = Math.min(CHUNK - within, length - at);
      this.#chunks.get(index)?.copy(out, at, within, within + n);
      at += n;
    }
    return out;
  }

  poke(offset: number, data: Buffer): void {
    for (let at = 0; at < data.length;) {
      const abs = offset + at;
      const index = Math.floor(abs / CHUNK);
      const within = abs % CHUNK;
      const n = Math.min(CHUNK - within, data.length - at);
      let chunk = this.#chunks.get(index);
      if (chunk === undefined) {
        chunk = Buffer.alloc(CHUNK);
        this.#chunks.set(index, chunk);
      }
      data.copy(chunk, within, at, at + n);
      at += n;
    }
  }

  read(offset: number, length: number): Promise<Buffer> {
    this.ops.push({ kind: 'read', offset, length });
    this.#maybeFail('read');
    return Promise.resolve(this.peek(offset, length));
  }

  async write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    this.ops.push({ kind: 'write', offset, length: data.length, fua: options?.fua === true });
    this.#maybeFail('write');
    const copy = Buffer.from(data);
    if (this.#gate !== undefined) await this.#gate;
    this.poke(offset, copy);
  }

  flush(): Promise<void> {
    this.ops.push({ kind: 'flush' });
    this.#maybeFail('flush');
    return Promise.resolve();
  }

  discard(offset: number, length: number): Promise<void> {
    this.ops.push({ kind: 'discard', offset, length });
    this.#maybeFail('discard');
    // Whole chunks are dropped; partial ones are zeroed.
    for (let at = offset; at < offset + length;) {
      const index = Math.floor(at / CHUNK);
      const within = at % CHUNK;
      const n = Math.min(CHUNK - within, offset + length - at);
      if (within === 0 && n === CHUNK) this.#chunks.delete(index);
      else this.#chunks.get(index)?.fill(0, within, within + n);
      at += n;
    }
    return Promise.resolve();
  }

  allocation(offset: number, length: number): Promise<AllocationExtent[]> {
    const extents: AllocationExtent[] = [];
    for (let at = offset; at < offset + length;) {
      const index = Math.floor(at / CHUNK);
      const n = Math.min(CHUNK - (at % CHUNK), offset + length - at);
      const mapped = this.#chunks.has(index);
      const last = extents[extents.length - 1];
      if (last !== undefined && last.mapped === mapped)
        extents[extents.length - 1] = { ...last, length: last.length + n };
      else extents.push({ offset: at, length: n, mapped });
      at += n;
    }
    return Promise.resolve(extents);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
