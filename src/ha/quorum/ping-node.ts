// The ping-node check: a third device on the network (a router) that answers ping tells a node
// whether it is itself still connected. Every interval each configured ping node gets one
// `ping -n -c 1 -W <s> [-I <source>] <address>` (iputils-ping, argument array, never a shell);
// a node is reachable when a ping to it succeeded within deadTimeMs. Failures to spawn are
// reported in the snapshot, never thrown.
import { messageOf } from '../../lib/errors.js';
import { runProgram, type ProgramResult } from '../../lib/run-program.js';
import type { PingNodeConfig, PingNodeSnapshot, PingSnapshot } from '../heartbeat/types.js';

/** Runs `ping` with these arguments; rejects only when it cannot be started. */
export type PingRunner = (args: readonly string[], timeoutMs: number) => Promise<ProgramResult>;

export const systemPingRunner: PingRunner = (args, timeoutMs) =>
  runProgram('ping', args, { timeoutMs, env: { ...process.env, LC_ALL: 'C' } });

export function pingArgs(node: PingNodeConfig, waitMs: number): string[] {
  const seconds = Math.max(0.2, waitMs / 1000);
  const args = ['-n', '-c', '1', '-W', String(Number(seconds.toFixed(3)))];
  if (node.source !== undefined && node.source !== '') args.push('-I', node.source);
  args.push(node.address);
  return args;
}

export interface PingOutcome {
  readonly ok: boolean;
  /** Null on success; otherwise the program's own words. */
  readonly error: string | null;
}

/** iputils-ping exit codes: 0 a reply came, 1 no reply, 2 (or anything else) an error. */
export function interpretPing(result: ProgramResult): PingOutcome {
  if (result.code === 0) return { ok: true, error: null };
  const said = (text: string): string =>
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .join('; ');
  if (result.code === 1) {
    const complaints = result.stdout
      .split('\n')
      .filter((line) => /^From /.test(line) || /unreachable|exceeded|filtered/i.test(line))
      .map((line) => line.trim());
    return { ok: false, error: complaints.length > 0 ? `no reply: ${complaints.join('; ')}` : 'no reply' };
  }
  const text = said(result.stderr) || said(result.stdout);
  return { ok: false, error: `ping failed (exit ${result.code})${text ? `: ${text}` : ''}` };
}

/** One check of one ping node, never rejecting. */
export async function pingOnce(
  node: PingNodeConfig,
  waitMs: number,
  runner: PingRunner = systemPingRunner,
): Promise<PingOutcome> {
  try {
    // The kill timeout is a backstop for a hung resolver or device; -W bounds the normal case.
    return interpretPing(await runner(pingArgs(node, waitMs), waitMs + 2000));
  } catch (error) {
    return { ok: false, error: messageOf(error) };
  }
}

export interface PingCheckerOptions {
  readonly nodes: readonly PingNodeConfig[];
  readonly intervalMs: number;
  readonly deadTimeMs: number;
  readonly monoNow: () => number;
  readonly runner?: PingRunner;
  /** Called after every completed check, so the owner can look for reachability flips. */
  readonly onResult?: () => void;
}

interface NodeState {
  readonly config: PingNodeConfig;
  lastOkMono: number | null;
  error: string | null;
  inFlight: boolean;
}

export class PingNodeChecker {
  readonly #options: PingCheckerOptions;
  readonly #nodes: NodeState[];
  #timer: NodeJS.Timeout | null = null;

  constructor(options: PingCheckerOptions) {
    this.#options = options;
    this.#nodes = options.nodes.map((config) => ({ config, lastOkMono: null, error: null, inFlight: false }));
  }

  start(): void {
    if (this.#timer || this.#nodes.length === 0) return;
    void this.checkNow();
    this.#timer = setInterval(() => void this.checkNow(), this.#options.intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Pings every node that has no check in flight; resolves when those checks are done. */
  async checkNow(): Promise<void> {
    // Wait no longer than an interval, so checks never pile up; never less than 200 ms.
    const waitMs = Math.min(this.#options.intervalMs, this.#options.deadTimeMs);
    await Promise.all(
      this.#nodes
        .filter((node) => !node.inFlight)
        .map(async (node) => {
          node.inFlight = true;
          const outcome = await pingOnce(node.config, waitMs, this.#options.runner);
          node.inFlight = false;
          if (outcome.ok) node.lastOkMono = this.#options.monoNow();
          node.error = outcome.error;
          this.#options.onResult?.();
        }),
    );
  }

  snapshot(monoNow: number): PingSnapshot {
    const perNode: PingNodeSnapshot[] = this.#nodes.map((node) => ({
      address: node.config.address,
      source: node.config.source ?? null,
      reachable: node.lastOkMono !== null && monoNow - node.lastOkMono <= this.#options.deadTimeMs,
      lastOkAgoMs: node.lastOkMono === null ? null : monoNow - node.lastOkMono,
      error: node.error,
    }));
    return { reachable: perNode.some((node) => node.reachable), perNode };
  }
}
