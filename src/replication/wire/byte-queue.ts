// The received bytes not yet decoded, kept as the chunks they arrived in. A range that lies inside
// one chunk is handed out as a view; only a range spanning chunks is copied (once).
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // offset of the first unread byte in chunks[0]
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Removes and returns the first `count` bytes; the caller checks `count <= length`. */
  take(count: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= count) {
      const view = first.subarray(this.head, this.head + count);
      this.advance(count);
      return view;
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0];
      if (chunk === undefined) break;
      const step = Math.min(count - filled, chunk.length - this.head);
      chunk.copy(out, filled, this.head, this.head + step);
      filled += step;
      this.advance(step);
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }

  private advance(count: number): void {
    this.head += count;
    this.total -= count;
    const first = this.chunks[0];
    if (first !== undefined && this.head >= first.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}
