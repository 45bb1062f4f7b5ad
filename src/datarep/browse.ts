// Browse: the shares (rsync modules) an agent offers, as `rsync --list-only rsync://host:port/` lists
// them. Any rsync daemon answers this, ours or a stock one.
import { runProgram } from '../lib/run-program.js';
import { TandemError } from '../lib/errors.js';
import { formatDestination, type Destination } from './destination.js';
import { CONNECT_TIMEOUT_SECONDS, rsyncEnv } from './rsync-command.js';
import { explainExit } from './rsync-exit.js';

export interface AgentShare {
  readonly name: string;
  readonly comment: string;
}

/** Parses the module list: one `name<spaces>\tcomment` line per module; other lines (a MOTD) are skipped. */
export function parseModuleList(stdout: string): AgentShare[] {
  const shares: AgentShare[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^(\S+?)\s*\t(.*)$/.exec(line);
    if (m?.[1] !== undefined) shares.push({ name: m[1], comment: (m[2] ?? '').trim() });
  }
  return shares;
}

export async function browseAgent(destination: Destination): Promise<AgentShare[]> {
  const url = `rsync://${formatDestination(destination)}/`;
  const result = await runProgram(
    'rsync',
    // --no-motd would hide the module list too; MOTD lines are skipped by the parser instead.
    [
      '--list-only',
      `--contimeout=${CONNECT_TIMEOUT_SECONDS}`,
      `--timeout=${CONNECT_TIMEOUT_SECONDS}`,
      '--',
      url,
    ],
    { env: rsyncEnv(null), timeoutMs: (CONNECT_TIMEOUT_SECONDS + 10) * 1000 },
  );
  if (result.code !== 0) {
    throw new TandemError(
      'unavailable',
      'agent-unreachable',
      `cannot list the shares of ${formatDestination(destination)}: ${explainExit(result.code, null, result.stderr)}`,
    );
  }
  return parseModuleList(result.stdout);
}
