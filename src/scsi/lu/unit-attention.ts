// Unit attention conditions, kept per I_T nexus (SPC-4 §5.14, SAM-5 §5.14). The logical unit owns one
// UnitAttentions; it establishes conditions when something happens that initiators must hear about
// (power on for a nexus it has not seen, a reset, a changed capacity, mode page or LUN inventory,
// a preempted or released reservation), and reports the oldest one to the next command of that nexus
// that may carry it.
//
// Invariants: a nexus's queue holds each sense code at most once, oldest first; a POWER ON / RESET
// condition replaces everything queued before it (SPC-4 §5.14: a reset makes older conditions moot);
// forgetting a nexus drops its queue, and it is "new" again the next time it is seen.
import type { SenseCode, SenseReason } from '../sense/sense-reason.js';

/** INQUIRY, REPORT LUNS and REQUEST SENSE neither report nor clear a unit attention as CHECK
 * CONDITION (SPC-4 §5.14, UA_INTLCK_CTRL = 00b); REQUEST SENSE returns it as its parameter data. */
export const UA_EXEMPT_OPCODES: ReadonlySet<number> = new Set([0x12, 0xa0, 0x03]);

const RESET_CODES: ReadonlySet<SenseCode> = new Set<SenseCode>([
  'POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED',
  'POWER_ON_OCCURRED',
  'BUS_DEVICE_RESET_FUNCTION_OCCURRED',
  'I_T_NEXUS_LOSS_OCCURRED',
]);

export class UnitAttentions {
  readonly #queues = new Map<string, SenseCode[]>();

  /** Records a nexus; a nexus seen for the first time gets POWER ON, RESET, OR BUS DEVICE RESET
   * OCCURRED. Returns true when it was new. */
  see(nexusKey: string): boolean {
    if (this.#queues.has(nexusKey)) return false;
    this.#queues.set(nexusKey, ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED']);
    return true;
  }

  /** Nexuses currently known. */
  nexuses(): string[] {
    return [...this.#queues.keys()];
  }

  establish(nexusKey: string, code: SenseCode): void {
    const queue = this.#queues.get(nexusKey);
    if (queue === undefined) return; // an unseen nexus gets POWER ON when it appears, which covers it
    if (RESET_CODES.has(code)) {
      queue.splice(0, queue.length, code);
      return;
    }
    if (!queue.includes(code)) queue.push(code);
  }

  /** Establishes `code` for every known nexus for which `which` holds (default: all). */
  establishAll(code: SenseCode, which: (nexusKey: string) => boolean = () => true): void {
    for (const key of this.#queues.keys()) if (which(key)) this.establish(key, code);
  }

  /** Reports and clears the oldest condition of the nexus. */
  take(nexusKey: string): SenseReason | undefined {
    const code = this.#queues.get(nexusKey)?.shift();
    return code === undefined ? undefined : { code };
  }

  /** Clears one condition without reporting it (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED). */
  clear(nexusKey: string, code: SenseCode): void {
    const queue = this.#queues.get(nexusKey);
    const at = queue?.indexOf(code) ?? -1;
    if (at >= 0) queue?.splice(at, 1);
  }

  pending(nexusKey: string): readonly SenseCode[] {
    return this.#queues.get(nexusKey) ?? [];
  }

  forget(nexusKey: string): void {
    this.#queues.delete(nexusKey);
  }
}
