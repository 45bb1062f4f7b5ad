// Deleting a reflink/copy snapshot means removing a whole tree (seconds for a large volume), and a data
// replication run must not wait for that. So a deleted snapshot is first moved, in one rename, into its
// pool's trash directory (the snapshot is gone for every caller at once), and this sweeper removes the
// trash in the background: one sweep at a time, a failure is logged and retried with a growing delay,
// and leftovers of an earlier daemon are swept at start, so no snapshot is ever leaked.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../lib/errors.js';
import { runProgramChecked } from '../lib/run-program.js';
import type { Logger } from '../observability/logger.js';
import { removeSnapshotDirectory } from './snapshot-disk.js';

/** Per pool, beside nas-snapshots (never inside it, where a volume's directory could take the name). */
export const TRASH_DIR = 'nas-snapshot-trash';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

export interface SnapshotTrashOptions {
  readonly logger: Logger;
  /** Removes one trashed snapshot tree (tests inject failures). */
  readonly remove?: (path: string) => Promise<void>;
  readonly firstRetryMs?: number;
}

export class SnapshotTrash {
  private readonly dirs = new Set<string>();
  private readonly logger: Logger;
  private readonly remove: (path: string) => Promise<void>;
  private readonly firstRetryMs: number;
  private sweeping: Promise<void> | null = null;
  private again = false;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: SnapshotTrashOptions) {
    this.logger = options.logger;
    this.remove = options.remove ?? removeSnapshotDirectory;
    this.firstRetryMs = options.firstRetryMs ?? FIRST_RETRY_MS;
    this.retryMs = this.firstRetryMs;
  }

  /**
   * Moves `snapshotDir` into `trashDir` (same filesystem: one rename) and starts a sweep. The snapshot
   * root's own immutable flag is cleared first (an immutable directory cannot be renamed); the tree
   * below keeps its flags until the sweep. Throws when the move fails: then nothing changed.
   */
  async discard(snapshotDir: string, trashDir: string): Promise<void> {
    await mkdir(trashDir, { recursive: true, mode: 0o700 });
    await runProgramChecked('chattr', ['-f', '-i', snapshotDir]).catch(() => undefined);
    await rename(snapshotDir, join(trashDir, randomUUID()));
    this.sweep(trashDir);
  }

  /** Sweeps `trashDir` now (in the background) and remembers it for retries. */
  sweep(trashDir: string): void {
    if (this.closed) return;
    this.dirs.add(trashDir);
    if (this.sweeping) {
      this.again = true;
      return;
    }
    this.sweeping = this.sweepLoop().finally(() => (this.sweeping = null));
  }

  /** Resolves when no sweep is running (tests, and close). */
  async idle(): Promise<void> {
    while (this.sweeping) await this.sweeping;
  }

  /** Stops retrying and waits for the sweep under way; the trash left is swept at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.idle();
  }

  private async sweepLoop(): Promise<void> {
    this.again = false;
    for (;;) {
      let failed = false;
      for (const dir of this.dirs) {
        const entries = await readdir(dir).catch(() => [] as string[]);
        for (const entry of entries) {
          const path = join(dir, entry);
          const started = performance.now();
          try {
            await this.remove(path);
            this.logger.debug(
              { path, ms: Math.round(performance.now() - started) },
              'deleted snapshot removed from the trash',
            );
          } catch (error) {
            failed = true;
            this.logger.error(
              { path, reason: messageOf(error), retryInMs: this.retryMs },
              'removing a deleted snapshot failed; will retry',
            );
          }
        }
      }
      if (failed) this.scheduleRetry();
      else this.retryMs = this.firstRetryMs;
      if (!this.takeAgain() || this.closed) return;
    }
  }

  /** Whether a sweep was asked for while this one ran (then the trash is read again). */
  private takeAgain(): boolean {
    const again = this.again;
    this.again = false;
    return again;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      for (const dir of this.dirs) this.sweep(dir);
    }, delay);
    this.retryTimer.unref();
  }
}
