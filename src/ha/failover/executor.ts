// Carries out the failover decisions in the order that keeps one writer: taking over promotes the
// volumes, adds the virtual IP only after duplicate-address detection shows nobody holds it, announces
// it, then serves the targets on it; releasing goes the other way round (stop serving first, so no
// further write is acknowledged, then drop the address, then demote). Every step is timed and kept for
// the status and the log.
import { messageOf } from '../../lib/errors.js';

/** What the executor acts on; the failover service binds it to the node's real services. */
export interface FailoverResources {
  /** Holds a task's replication link down (the peer must not reconnect before "Sync volume"). */
  holdReplication(task: string): Promise<void>;
  /** Undoes holdReplication (a take-over that failed leaves replication as it found it). */
  releaseHold(task: string): Promise<void>;
  promote(task: string): Promise<void>;
  demote(task: string): Promise<void>;
  /** Duplicate-address detection, then the address and its announcement; throws the conflict
   * `vip-in-use` when another host answers for it (the drivers probe once, here). */
  acquireVirtualIp(): Promise<void>;
  releaseVirtualIp(): Promise<void>;
  /** Serve the targets on the virtual IP / stop (closing the sessions that came through it). */
  openPortal(): Promise<void>;
  closePortal(): Promise<void>;
}

export interface Step {
  readonly step: string;
  readonly ms: number;
  readonly error?: string;
}

export interface TakeOverOptions {
  /** The peer is gone (not handing over): hold replication so it cannot reconnect by itself. */
  readonly holdPeer: boolean;
}

/** Takes the service. On a failed step, undoes the steps done and throws. */
export async function takeOver(
  resources: FailoverResources,
  tasks: readonly string[],
  options: TakeOverOptions,
): Promise<Step[]> {
  const steps: Step[] = [];
  const undo: (() => Promise<void>)[] = [];
  const run = async (
    step: string,
    action: () => Promise<void>,
    rollback?: () => Promise<void>,
  ): Promise<void> => {
    const started = performance.now();
    try {
      await action();
      steps.push({ step, ms: Math.round(performance.now() - started) });
      if (rollback) undo.unshift(rollback);
    } catch (error) {
      steps.push({ step, ms: Math.round(performance.now() - started), error: messageOf(error) });
      for (const back of undo) await back().catch(() => undefined);
      throw error;
    }
  };
  try {
    if (options.holdPeer) {
      for (const task of tasks) {
        await run(
          `hold replication ${task}`,
          () => resources.holdReplication(task),
          () => resources.releaseHold(task),
        );
      }
    }
    for (const task of tasks) {
      await run(
        `promote ${task}`,
        () => resources.promote(task),
        () => resources.demote(task),
      );
    }
    await run(
      'duplicate address check, add virtual IP',
      () => resources.acquireVirtualIp(),
      () => resources.releaseVirtualIp(),
    );
    await run('serve targets on the virtual IP', () => resources.openPortal());
  } catch (error) {
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { steps });
  }
  return steps;
}

/** Gives the service up. Every step runs even when one fails (the address must go whatever
 * happened before); the first error is thrown at the end, with the steps. */
export async function release(resources: FailoverResources, tasks: readonly string[]): Promise<Step[]> {
  const steps: Step[] = [];
  let first: unknown;
  const run = async (step: string, action: () => Promise<void>): Promise<void> => {
    const started = performance.now();
    try {
      await action();
      steps.push({ step, ms: Math.round(performance.now() - started) });
    } catch (error) {
      first ??= error;
      steps.push({ step, ms: Math.round(performance.now() - started), error: messageOf(error) });
    }
  };
  await run('stop serving on the virtual IP', () => resources.closePortal());
  await run('remove virtual IP', () => resources.releaseVirtualIp());
  for (const task of [...tasks].reverse()) await run(`demote ${task}`, () => resources.demote(task));
  if (first !== undefined) {
    throw Object.assign(first instanceof Error ? first : new Error(messageOf(first)), { steps });
  }
  return steps;
}
