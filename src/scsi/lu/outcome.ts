// How an executed command ended, before it becomes a ScsiTaskResponse: GOOD with optional Data-In,
// CHECK CONDITION with a sense reason, or RESERVATION CONFLICT (a status of its own, no sense).
// Executors return these as values; logical-unit.ts alone turns them into responses.
import type { ScsiResult, SenseReason } from '../sense/sense-reason.js';

export type CommandOutcome =
  | { readonly kind: 'good'; readonly dataIn?: Buffer }
  | { readonly kind: 'check'; readonly sense: SenseReason }
  | { readonly kind: 'conflict' };

export const good = (dataIn?: Buffer): CommandOutcome =>
  dataIn === undefined ? { kind: 'good' } : { kind: 'good', dataIn };

export const check = (sense: SenseReason): CommandOutcome => ({ kind: 'check', sense });

export const CONFLICT: CommandOutcome = { kind: 'conflict' };

/** A builder's or executor's ScsiResult as an outcome. */
export function fromResult(result: ScsiResult<Buffer | undefined>): CommandOutcome {
  return result.ok ? good(result.value) : check(result.sense);
}
