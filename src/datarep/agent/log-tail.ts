// Follows a log file that another process appends to and hands over its complete lines. The file is
// emptied when the tail starts and whenever it grows past a cap (the writer appends with O_APPEND,
// so it simply continues at the new end). Polling keeps this independent of inotify.
import { closeSync, openSync, readSync, fstatSync, ftruncateSync, constants } from 'node:fs';

const POLL_MS = 200;
const MAX_BYTES = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;

export class LogTail {
  private readonly fd: number;
  private offset = 0;
  private partial = '';
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    path: string,
    private readonly onLine: (line: string) => void,
  ) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    ftruncateSync(this.fd, 0);
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  /** Reads what is left, then stops. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearInterval(this.timer);
    this.poll();
    if (this.partial !== '') this.onLine(this.partial);
    closeSync(this.fd);
    return Promise.resolve();
  }

  private poll(): void {
    const size = fstatSync(this.fd).size;
    if (size < this.offset) this.offset = 0;
    const buffer = Buffer.alloc(CHUNK);
    for (;;) {
      const read = readSync(this.fd, buffer, 0, CHUNK, this.offset);
      if (read <= 0) break;
      this.offset += read;
      const text = this.partial + buffer.subarray(0, read).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.onLine(line);
    }
    if (this.offset > MAX_BYTES) {
      ftruncateSync(this.fd, 0);
      this.offset = 0;
    }
  }
}
