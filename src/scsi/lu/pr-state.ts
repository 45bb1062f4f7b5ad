// Persistent reservation state of one logical unit (SPC-4 §5.9): registrations, the reservation and
// the generation counter. Plain data, owned by the LogicalUnit and changed only through
// persistent-reservations.ts, which returns a new state for each accepted PERSISTENT RESERVE OUT.
// The LU hands every new state to a PrStateStore, so the state can outlive a restart (APTPL) and be
// replicated to a failover peer (pr-state-json.ts gives the stored form).
//
// Invariants: a nexus with a registration never gets a second one through REGISTER (registrationOf
// finds the one that applies to it, an ALL_TG_PT registration applying on every target port); the
// reservation, when present, names a registered holder.
import type { ItNexus } from './scsi-task.js';

/** PR TYPE codes (SPC-4 §6.16.3, table 187). */
export const PrType = {
  WRITE_EXCLUSIVE: 0x1,
  EXCLUSIVE_ACCESS: 0x3,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 0x5,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 0x6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 0x7,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 0x8,
} as const;

export type PrType = (typeof PrType)[keyof typeof PrType];

export const PR_TYPES: ReadonlySet<number> = new Set(Object.values(PrType));

export const isPrType = (value: number): value is PrType => PR_TYPES.has(value);

/** WE-AR and EA-AR: every registrant is a reservation holder (SPC-4 §5.9.10). */
export const isAllRegistrants = (type: PrType): boolean =>
  type === PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS || type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;

/** WE-RO, EA-RO, WE-AR, EA-AR: access is granted to every registrant, not only the holder. */
export const isRegistrantsType = (type: PrType): boolean =>
  type === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY ||
  type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY ||
  isAllRegistrants(type);

/** EA, EA-RO, EA-AR: reads by others conflict too. */
export const isExclusiveAccess = (type: PrType): boolean =>
  type === PrType.EXCLUSIVE_ACCESS ||
  type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY ||
  type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;

/** Who a registration is for: an initiator port (or, from a TransportID of format 00b, every port of
 * an initiator name) on one target port, or on every target port when registered with ALL_TG_PT. */
export interface Registrant {
  readonly initiatorPort: string;
  /** Absent: all target ports (ALL_TG_PT = 1). */
  readonly targetPort?: string;
  readonly relativeTargetPort: number;
}

export interface PrRegistration extends Registrant {
  readonly key: bigint;
}

export interface PrReservation {
  readonly type: PrType;
  /** The registrant that holds it (for all-registrants types: the one that created it). */
  readonly holder: Registrant;
}

export interface PrState {
  /** PRGENERATION (SPC-4 §6.15.2): bumped by every REGISTER, CLEAR, PREEMPT and REGISTER AND MOVE
   * that is accepted, not by RESERVE or RELEASE. 32 bits, wraps. */
  readonly generation: number;
  readonly registrations: readonly PrRegistration[];
  readonly reservation?: PrReservation;
  /** APTPL as last set by an accepted REGISTER: the state survives power loss. */
  readonly aptpl: boolean;
}

export const EMPTY_PR_STATE: PrState = { generation: 0, registrations: [], aptpl: false };

/** Where the LU keeps its PR state between restarts (and from where a failover peer gets it). */
export interface PrStateStore {
  load(): PrState | undefined;
  save(state: PrState): void;
}

/** Just the identity of a registration (without its key). */
export const registrantOf = (r: Registrant): Registrant =>
  r.targetPort === undefined
    ? { initiatorPort: r.initiatorPort, relativeTargetPort: r.relativeTargetPort }
    : { initiatorPort: r.initiatorPort, targetPort: r.targetPort, relativeTargetPort: r.relativeTargetPort };

export const sameRegistrant = (a: Registrant, b: Registrant): boolean =>
  a.initiatorPort === b.initiatorPort && a.targetPort === b.targetPort;

/** Whether a registration (or holder) applies to an I_T nexus. */
export function registrantMatches(r: Registrant, nexus: ItNexus): boolean {
  const initiator = r.initiatorPort === nexus.initiatorPort || r.initiatorPort === nexus.initiatorName;
  return initiator && (r.targetPort === undefined || r.targetPort === nexus.targetPort);
}

export const registrationOf = (state: PrState, nexus: ItNexus): PrRegistration | undefined =>
  state.registrations.find((r) => registrantMatches(r, nexus));

/** Whether the nexus holds the reservation (every registrant does for all-registrants types). */
export function isHolder(state: PrState, nexus: ItNexus): boolean {
  const reservation = state.reservation;
  if (reservation === undefined) return false;
  if (isAllRegistrants(reservation.type)) return registrationOf(state, nexus) !== undefined;
  return registrantMatches(reservation.holder, nexus);
}
