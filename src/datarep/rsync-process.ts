// One rsync child: started with an argument array (never a shell), its stdout read live for progress,
// its stderr kept (bounded) for the error message, and a cancel that asks politely (SIGTERM) before it
// insists (SIGKILL after a grace period).
import { spawn } from 'node:child_process';
import { TandemError } from '../lib/errors.js';
import { RsyncOutputReader, type RsyncProgress, type RsyncStats } from './rsync-output.js';

export const CANCEL_GRACE_MS = 5_000;
const STDERR_KEEP = 16 * 1024;

export interface RsyncResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stats: RsyncStats;
  readonly stderr: string;
  readonly lastProgress: RsyncProgress | null;
}

export interface RsyncProcess {
  readonly done: Promise<RsyncResult>;
  /** SIGTERM now, SIGKILL after the grace period if it is still there. */
  cancel(): void;
}

export function startRsync(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onProgress: (progress: RsyncProgress) => void,
  options: { readonly command?: string; readonly graceMs?: number } = {},
): RsyncProcess {
  const child = spawn(options.command ?? 'rsync', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = new RsyncOutputReader();
  let stderr = '';
  let killTimer: NodeJS.Timeout | undefined;
  const report = (found: RsyncProgress[]): void => {
    const last = found.at(-1);
    if (last) onProgress(last);
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => report(reader.push(chunk)));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < STDERR_KEEP) stderr += chunk.slice(0, STDERR_KEEP - stderr.length);
  });
  const done = new Promise<RsyncResult>((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(killTimer);
      reject(new TandemError('unavailable', 'program-missing', `cannot run rsync: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      report(reader.end());
      resolve({ code, signal, stats: reader.stats(), stderr, lastProgress: reader.progress() });
    });
  });
  return {
    done,
    cancel() {
      if (child.exitCode !== null || child.signalCode !== null || killTimer) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? CANCEL_GRACE_MS);
      killTimer.unref();
    },
  };
}
