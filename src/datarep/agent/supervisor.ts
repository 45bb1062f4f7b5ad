// Keeps one long-running program alive: starts it (argv only), forwards its stderr lines to the log,
// and when it dies without being asked to, logs the event and starts it again after a backoff that
// doubles while it keeps dying quickly. `stop()` ends it (SIGTERM, then SIGKILL) and stops restarting.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { LogTail } from './log-tail.js';
import { messageOf } from '../../lib/errors.js';
import type { Logger } from '../../observability/logger.js';

export interface SupervisorOptions {
  readonly command: string;
  /** The arguments, or a function that gives them for each start (after the preflight). */
  readonly args: readonly string[] | (() => readonly string[]);
  readonly logger: Logger;
  /** A short name for log lines, e.g. "data replication agent". */
  readonly what: string;
  /** Runs before every start; throwing refuses the start (logged, no restart until start() again). */
  readonly preflight?: () => Promise<void>;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A run at least this long resets the backoff. */
  readonly stableAfterMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  readonly stopGraceMs?: number;
  /** A log file the program writes (emptied at each start); its lines go to our log like stderr's. */
  readonly logFile?: string;
}

export interface SupervisorStatus {
  readonly running: boolean;
  readonly pid: number | null;
  readonly startedAt: string | null;
  /** Restarts after unexpected exits since the supervisor was created. */
  readonly restarts: number;
  readonly lastExit: {
    readonly code: number | null;
    readonly signal: string | null;
    readonly at: string;
  } | null;
  /** The last failure (refused preflight, cannot start, unexpected exit) since start() was called. */
  readonly lastError: string | null;
}

export class Supervisor {
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private wanted = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private startedAtMs = 0;
  private startedAt: string | null = null;
  private restarts = 0;
  private lastExit: SupervisorStatus['lastExit'] = null;
  private lastError: string | null = null;
  private starting: Promise<void> | null = null;

  constructor(private readonly options: SupervisorOptions) {
    this.backoffMs = options.initialBackoffMs ?? 1000;
  }

  status(): SupervisorStatus {
    const pid = this.child?.pid ?? null;
    return {
      running: this.child !== null,
      pid,
      startedAt: this.child === null ? null : this.startedAt,
      restarts: this.restarts,
      lastExit: this.lastExit,
      lastError: this.lastError,
    };
  }

  /** Starts the program unless it runs; rejects when the preflight refuses. */
  async start(): Promise<void> {
    this.wanted = true;
    if (this.child !== null) return;
    this.clearRestartTimer();
    this.backoffMs = this.options.initialBackoffMs ?? 1000;
    this.lastError = null;
    this.starting ??= this.spawnChecked().finally(() => (this.starting = null));
    return this.starting;
  }

  async stop(): Promise<void> {
    this.wanted = false;
    this.clearRestartTimer();
    await this.starting?.catch(() => undefined);
    const child = this.child;
    const exited = this.exited;
    if (child === null || exited === null) return;
    child.kill('SIGTERM');
    const grace = setTimeout(() => child.kill('SIGKILL'), this.options.stopGraceMs ?? 3000);
    await exited;
    clearTimeout(grace);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private clearRestartTimer(): void {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private async spawnChecked(): Promise<void> {
    const { logger, what } = this.options;
    try {
      await this.options.preflight?.();
    } catch (error) {
      this.lastError = messageOf(error);
      logger.error(
        { event: 'supervised-start-refused', what, reason: this.lastError },
        `${what} not started: ${this.lastError}`,
      );
      throw error;
    }
    if (!this.wanted || this.child !== null) return;
    this.spawnNow();
  }

  private spawnNow(): void {
    const { command, logger, what } = this.options;
    const args = typeof this.options.args === 'function' ? this.options.args() : this.options.args;
    const started: { pid?: number } = {};
    const forward = (line: string): void => {
      if (line.trim() !== '') logger.info({ what, childPid: started.pid }, line);
    };
    // Emptied before the start, so the tail reads only this run's lines.
    const tail = this.options.logFile === undefined ? null : new LogTail(this.options.logFile, forward);
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    started.pid = child.pid;
    this.child = child;
    this.startedAtMs = Date.now();
    this.startedAt = new Date(this.startedAtMs).toISOString();
    const lines = createInterface({ input: child.stderr });
    lines.on('line', forward);
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (done) return;
        done = true;
        lines.close();
        void (tail?.close() ?? Promise.resolve()).then(() => {
          this.onExit(child, code, signal, error);
          resolve();
        });
      };
      child.once('error', (error) => finish(null, null, error));
      child.once('exit', (code, signal) => finish(code, signal));
    });
    if (child.pid !== undefined)
      logger.info({ event: 'supervised-started', what, childPid: child.pid }, `${what} started`);
  }

  private onExit(
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    error?: Error,
  ): void {
    if (this.child !== child) return;
    this.child = null;
    this.exited = null;
    this.lastExit = { code, signal, at: new Date().toISOString() };
    const { logger, what } = this.options;
    if (!this.wanted) {
      logger.info({ event: 'supervised-stopped', what, code, signal }, `${what} stopped`);
      return;
    }
    if (error !== undefined) this.lastError = `cannot start ${this.options.command}: ${error.message}`;
    else this.lastError = `exited unexpectedly (${signal === null ? `code ${String(code)}` : signal})`;
    if (Date.now() - this.startedAtMs >= (this.options.stableAfterMs ?? 30_000)) {
      this.backoffMs = this.options.initialBackoffMs ?? 1000;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
    logger.warn(
      { event: 'supervised-exited', what, childPid: child.pid, code, signal, restartInMs: delay },
      `${what} ${this.lastError}; restarting in ${delay} ms`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.wanted || this.child !== null) return;
      this.restarts += 1;
      this.starting ??= this.spawnChecked()
        .catch(() => undefined)
        .finally(() => (this.starting = null));
    }, delay);
  }
}
