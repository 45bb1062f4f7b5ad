// SPC-2 RESERVE and RELEASE (SPC-2 §7.21–7.24, whole LU only), with SPC-4 §5.9.3's exceptions: while
// any persistent reservation registration exists, every RESERVE and RELEASE conflicts.
//
// State: the holding nexus key, or none. Changed by RESERVE/RELEASE from the holder, and cleared by a
// LOGICAL UNIT RESET, a TARGET RESET, or the holder's nexus loss (SPC-2 reservations do not survive
// them; persistent reservations do).
import type { CommandOutcome } from './outcome.js';
import { CONFLICT, good } from './outcome.js';

export class Spc2Reservation {
  #holder: string | undefined;

  get holder(): string | undefined {
    return this.#holder;
  }

  /** Whether another nexus holds the reservation. */
  heldByOther(nexusKey: string): boolean {
    return this.#holder !== undefined && this.#holder !== nexusKey;
  }

  reserve(nexusKey: string, registered: boolean): CommandOutcome {
    if (registered || this.heldByOther(nexusKey)) return CONFLICT;
    this.#holder = nexusKey;
    return good();
  }

  /** A RELEASE from a nexus that does not hold the reservation does nothing (SPC-2 §7.23). */
  release(nexusKey: string, registered: boolean): CommandOutcome {
    if (registered) return CONFLICT;
    if (this.#holder === nexusKey) this.#holder = undefined;
    return good();
  }

  /** LU reset, target reset, or the holder's nexus lost (pass its key). */
  clear(nexusKey?: string): void {
    if (nexusKey === undefined || this.#holder === nexusKey) this.#holder = undefined;
  }
}
