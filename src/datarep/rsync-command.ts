// The rsync command line of a run: pure, so what we run can be checked without running it.
import type { Destination } from './destination.js';
import { moduleUrl } from './destination.js';

export interface TransferOptions {
  readonly deleteExtraneous: boolean;
  /** Bytes per second, or null. */
  readonly bandwidthLimit: number | null;
  readonly compress: boolean;
  /**
   * An incremental run: the file holding the paths to look at (NUL-separated, relative to the source
   * directory). Listed paths the source lacks are deleted on the destination with deleteExtraneous,
   * skipped without it.
   */
  readonly filesFrom?: string;
}

/** Seconds without data moving before rsync gives up (a vanished peer must not hang a run forever). */
export const IO_TIMEOUT_SECONDS = 120;
export const CONNECT_TIMEOUT_SECONDS = 20;

/**
 * Archive mode with hard links, ACLs, xattrs and sparse files, numeric ids (the two nodes' user tables
 * may differ), one file list up front (--no-inc-recursive) so progress2's percentage is over the whole
 * tree, and stats at the end. `sourceDir` must end with `/`: copy the contents, not the directory.
 */
export function rsyncArgs(
  sourceDir: string,
  destination: Destination,
  module: string,
  agentId: string,
  options: TransferOptions,
): string[] {
  const source = sourceDir.endsWith('/') ? sourceDir : `${sourceDir}/`;
  return [...transferFlags(options), '--', source, moduleUrl(destination, module, agentId)];
}

/** Everything but the two ends: the same flags serve a push to an agent and a local copy (tests). */
export function transferFlags(options: TransferOptions): string[] {
  return [
    '-aHAXS',
    '--numeric-ids',
    '--info=progress2,stats2',
    '--no-inc-recursive',
    '--no-motd',
    `--contimeout=${CONNECT_TIMEOUT_SECONDS}`,
    `--timeout=${IO_TIMEOUT_SECONDS}`,
    ...(options.deleteExtraneous ? ['--delete'] : []),
    ...(options.bandwidthLimit === null
      ? []
      : [`--bwlimit=${Math.max(1, Math.round(options.bandwidthLimit / 1024))}`]),
    ...(options.compress ? ['-z'] : []),
    // --files-from turns off -a's recursion: a directory listed as "dir/" is compared one level deep.
    ...(options.filesFrom === undefined
      ? []
      : [
          `--files-from=${options.filesFrom}`,
          '--from0',
          options.deleteExtraneous ? '--delete-missing-args' : '--ignore-missing-args',
        ]),
  ];
}

/**
 * The child's whole environment: a PATH, the C locale (so numbers print as the parser expects) and the
 * password. Nothing else of the daemon's environment leaks in (no stray RSYNC_* settings).
 */
export function rsyncEnv(password: string | null): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LC_ALL: 'C',
    ...(password === null ? {} : { RSYNC_PASSWORD: password }),
  };
}
