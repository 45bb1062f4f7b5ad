// PERSISTENT RESERVE OUT as a pure state machine (SPC-4 §5.9, §6.16): a request and the current PrState
// in, the new state, the command's outcome and the unit attentions to establish out. Nothing here
// touches I/O or the LU; logical-unit.ts stores the new state and delivers the effects.
//
// Invariants kept (see pr-state.ts): a rejected request returns the state unchanged; the generation
// moves by one for each accepted REGISTER / REGISTER AND IGNORE EXISTING KEY that changes a
// registration, CLEAR, PREEMPT (AND ABORT) and REGISTER AND MOVE; RESERVE and RELEASE never move it.
// We report SIP_C = 0 (SPEC_I_PT = 1 is rejected), ATP_C = 1 and PTPL_C = 1 (REPORT CAPABILITIES).
import { PrOutServiceAction } from '../cdb/command.js';
import {
  invalidFieldInCdb,
  invalidFieldInParameterList,
  senseReason,
  type SenseCode,
} from '../sense/sense-reason.js';
import { check, CONFLICT, good, type CommandOutcome } from './outcome.js';
import {
  isAllRegistrants,
  isHolder,
  isPrType,
  PrType,
  registrantOf,
  registrationOf,
  sameRegistrant,
  type PrRegistration,
  type PrState,
  type PrType as PrTypeCode,
  type Registrant,
} from './pr-state.js';
import type { ItNexus } from './scsi-task.js';

/** The basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3), or REGISTER AND MOVE's (§6.16.4). */
export interface PrOutParameters {
  readonly reservationKey: bigint;
  readonly serviceActionKey: bigint;
  readonly specIPt: boolean;
  readonly allTgPt: boolean;
  readonly aptpl: boolean;
  /** REGISTER AND MOVE only. */
  readonly move?: {
    readonly unreg: boolean;
    readonly relativeTargetPort: number;
    /** The TransportID's iSCSI name: an initiator port ("name,i,0x<ISID>") or an initiator name. */
    readonly initiator: string;
  };
}

export interface PrOutRequest {
  readonly nexus: ItNexus;
  readonly serviceAction: number;
  readonly scope: number;
  readonly type: number;
  readonly parameters: PrOutParameters;
  /** The target port name for a RELATIVE TARGET PORT IDENTIFIER (REGISTER AND MOVE), if it exists. */
  readonly targetPortName: (relativeTargetPort: number) => string | undefined;
}

export interface PrUnitAttention {
  readonly to: Registrant;
  readonly code: SenseCode;
}

export interface PrOutResult {
  readonly state: PrState;
  readonly outcome: CommandOutcome;
  readonly unitAttentions: readonly PrUnitAttention[];
  /** Registrants whose tasks PREEMPT AND ABORT aborts. */
  readonly abort: readonly Registrant[];
}

const LU_SCOPE = 0x0;

const refuse = (state: PrState, outcome: CommandOutcome): PrOutResult => ({
  state,
  outcome,
  unitAttentions: [],
  abort: [],
});

const accept = (
  state: PrState,
  unitAttentions: readonly PrUnitAttention[] = [],
  abort: readonly Registrant[] = [],
): PrOutResult => ({ state, outcome: good(), unitAttentions, abort });

const nextGeneration = (state: PrState): number => (state.generation + 1) >>> 0;

const nexusRegistrant = (nexus: ItNexus, allTgPt: boolean): Registrant =>
  allTgPt
    ? { initiatorPort: nexus.initiatorPort, relativeTargetPort: nexus.relativeTargetPort }
    : {
        initiatorPort: nexus.initiatorPort,
        targetPort: nexus.targetPort,
        relativeTargetPort: nexus.relativeTargetPort,
      };

const uaTo = (registrations: readonly Registrant[], code: SenseCode): PrUnitAttention[] =>
  registrations.map((to) => ({ to, code }));

/** SCOPE must be LU_SCOPE and TYPE one we support (SPC-4 §6.16.2: INVALID FIELD IN CDB otherwise). */
function checkScopeAndType(request: PrOutRequest): CommandOutcome | PrTypeCode {
  if (request.scope !== LU_SCOPE) return check(invalidFieldInCdb(2, 7));
  if (!isPrType(request.type)) return check(invalidFieldInCdb(2, 3));
  return request.type;
}

export function persistentReserveOut(state: PrState, request: PrOutRequest): PrOutResult {
  switch (request.serviceAction) {
    case PrOutServiceAction.REGISTER:
      return register(state, request, false);
    case PrOutServiceAction.REGISTER_AND_IGNORE_EXISTING_KEY:
      return register(state, request, true);
    case PrOutServiceAction.RESERVE:
      return reserve(state, request);
    case PrOutServiceAction.RELEASE:
      return release(state, request);
    case PrOutServiceAction.CLEAR:
      return clear(state, request);
    case PrOutServiceAction.PREEMPT:
      return preempt(state, request, false);
    case PrOutServiceAction.PREEMPT_AND_ABORT:
      return preempt(state, request, true);
    case PrOutServiceAction.REGISTER_AND_MOVE:
      return registerAndMove(state, request);
    default:
      return refuse(state, check(invalidFieldInCdb(1, 4)));
  }
}

/** The issuer's registration when its RESERVATION KEY matches; otherwise RESERVATION CONFLICT
 * (SPC-4 §5.9.7: an unregistered nexus, or a wrong key, conflicts). */
function keyHolder(state: PrState, request: PrOutRequest): PrRegistration | undefined {
  const own = registrationOf(state, request.nexus);
  return own !== undefined && own.key === request.parameters.reservationKey ? own : undefined;
}

/** Removes registrations; keeps the reservation's holder registered, or drops the reservation. */
function without(state: PrState, removed: readonly PrRegistration[]): PrState {
  const registrations = state.registrations.filter((r) => !removed.includes(r));
  const reservation = state.reservation;
  if (reservation === undefined) return { ...state, registrations };
  const base = { generation: state.generation, aptpl: state.aptpl, registrations };
  if (isAllRegistrants(reservation.type)) {
    const next = registrations[0];
    if (next === undefined) return base;
    const holderGone = !registrations.some((r) => sameRegistrant(r, reservation.holder));
    return {
      ...base,
      reservation: holderGone ? { type: reservation.type, holder: registrantOf(next) } : reservation,
    };
  }
  const holderGone = removed.some((r) => sameRegistrant(r, reservation.holder));
  return holderGone ? base : { ...base, reservation };
}

// SPC-4 §5.9.7, §6.16.2: REGISTER and REGISTER AND IGNORE EXISTING KEY.
function register(state: PrState, request: PrOutRequest, ignoreKey: boolean): PrOutResult {
  const p = request.parameters;
  if (p.specIPt) return refuse(state, check(invalidFieldInParameterList(20, 3))); // SIP_C = 0
  const own = registrationOf(state, request.nexus);
  if (own === undefined) {
    if (!ignoreKey && p.reservationKey !== 0n) return refuse(state, CONFLICT);
    if (p.serviceActionKey === 0n) return accept(state); // nothing to register
    const registration: PrRegistration = {
      ...nexusRegistrant(request.nexus, p.allTgPt),
      key: p.serviceActionKey,
    };
    return accept({
      ...state,
      generation: nextGeneration(state),
      aptpl: p.aptpl,
      registrations: [...state.registrations, registration],
    });
  }
  if (!ignoreKey && p.reservationKey !== own.key) return refuse(state, CONFLICT);
  if (p.serviceActionKey !== 0n) {
    const registrations = state.registrations.map((r) => (r === own ? { ...r, key: p.serviceActionKey } : r));
    return accept({ ...state, generation: nextGeneration(state), aptpl: p.aptpl, registrations });
  }
  // Unregister (SPC-4 §5.9.11.2): a holder of a registrants-only reservation releases it, and the other
  // registrants hear RESERVATIONS RELEASED; an all-registrants reservation stays while anyone is left.
  const reservation = state.reservation;
  const next = { ...without(state, [own]), generation: nextGeneration(state), aptpl: p.aptpl };
  const releasedRo =
    reservation !== undefined &&
    sameRegistrant(reservation.holder, own) &&
    !isAllRegistrants(reservation.type) &&
    (reservation.type === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY ||
      reservation.type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY);
  return accept(next, releasedRo ? uaTo(next.registrations, 'RESERVATIONS_RELEASED') : []);
}

// SPC-4 §5.9.9: RESERVE.
function reserve(state: PrState, request: PrOutRequest): PrOutResult {
  const own = keyHolder(state, request);
  if (own === undefined) return refuse(state, CONFLICT);
  const type = checkScopeAndType(request);
  if (typeof type !== 'number') return refuse(state, type);
  const reservation = state.reservation;
  if (reservation !== undefined) {
    // The holder may repeat its own RESERVE; anything else conflicts.
    const same = isHolder(state, request.nexus) && reservation.type === type;
    return same ? accept(state) : refuse(state, CONFLICT);
  }
  return accept({ ...state, reservation: { type, holder: registrantOf(own) } });
}

// SPC-4 §5.9.11.1: RELEASE.
function release(state: PrState, request: PrOutRequest): PrOutResult {
  const own = keyHolder(state, request);
  if (own === undefined) return refuse(state, CONFLICT);
  const reservation = state.reservation;
  if (reservation === undefined || !isHolder(state, request.nexus)) return accept(state);
  if (request.scope !== LU_SCOPE || request.type !== reservation.type) {
    return refuse(state, check(senseReason('INVALID_RELEASE_OF_PERSISTENT_RESERVATION')));
  }
  const next: PrState = {
    generation: state.generation,
    aptpl: state.aptpl,
    registrations: state.registrations,
  };
  const plain = reservation.type === PrType.WRITE_EXCLUSIVE || reservation.type === PrType.EXCLUSIVE_ACCESS;
  const others = state.registrations.filter((r) => r !== own);
  return accept(next, plain ? [] : uaTo(others, 'RESERVATIONS_RELEASED'));
}

// SPC-4 §5.9.11.6: CLEAR.
function clear(state: PrState, request: PrOutRequest): PrOutResult {
  const own = keyHolder(state, request);
  if (own === undefined) return refuse(state, CONFLICT);
  const others = state.registrations.filter((r) => r !== own);
  return accept(
    { generation: nextGeneration(state), aptpl: state.aptpl, registrations: [] },
    uaTo(others, 'RESERVATIONS_PREEMPTED'),
  );
}

// SPC-4 §5.9.11.4–5: PREEMPT and PREEMPT AND ABORT.
function preempt(state: PrState, request: PrOutRequest, abort: boolean): PrOutResult {
  const own = keyHolder(state, request);
  if (own === undefined) return refuse(state, CONFLICT);
  const sark = request.parameters.serviceActionKey;
  const others = state.registrations.filter((r) => r !== own);
  const matching = others.filter((r) => r.key === sark);
  const reservation = state.reservation;
  const done = (
    next: PrState,
    removed: readonly PrRegistration[],
    extra: PrUnitAttention[] = [],
  ): PrOutResult =>
    accept(
      { ...next, generation: nextGeneration(state) },
      [...uaTo(removed, 'REGISTRATIONS_PREEMPTED'), ...extra],
      abort ? removed : [],
    );

  // Removing registrations only: no reservation, or one the preempted key does not hold.
  const removeOnly = (): PrOutResult => {
    if (sark === 0n) return refuse(state, check(invalidFieldInParameterList(8)));
    if (matching.length === 0) return refuse(state, CONFLICT);
    return done(without(state, matching), matching);
  };
  if (reservation === undefined) return removeOnly();

  if (isAllRegistrants(reservation.type)) {
    if (sark !== 0n) return removeOnly();
    // SARK 0 preempts an all-registrants reservation: every other registration goes, and the issuer
    // holds a new reservation of the requested type.
    const type = checkScopeAndType(request);
    if (typeof type !== 'number') return refuse(state, type);
    return done({ ...state, registrations: [own], reservation: { type, holder: registrantOf(own) } }, others);
  }

  const holder = state.registrations.find((r) => sameRegistrant(r, reservation.holder));
  if (holder === undefined || holder.key !== sark) return removeOnly();
  // Preempting the holder: its key's registrations go and the issuer holds the reservation, of the
  // requested type; if the type changed, the registrants left hear RESERVATIONS RELEASED.
  const type = checkScopeAndType(request);
  if (typeof type !== 'number') return refuse(state, type);
  const registrations = state.registrations.filter((r) => !matching.includes(r));
  const left = registrations.filter((r) => r !== own);
  const released = type !== reservation.type ? uaTo(left, 'RESERVATIONS_RELEASED') : [];
  return done(
    { ...state, registrations, reservation: { type, holder: registrantOf(own) } },
    matching,
    released,
  );
}

// SPC-4 §5.9.8: REGISTER AND MOVE.
function registerAndMove(state: PrState, request: PrOutRequest): PrOutResult {
  const own = keyHolder(state, request);
  const reservation = state.reservation;
  if (own === undefined || reservation === undefined) return refuse(state, CONFLICT);
  if (isAllRegistrants(reservation.type) || !sameRegistrant(reservation.holder, own)) {
    return refuse(state, CONFLICT);
  }
  const p = request.parameters;
  const move = p.move;
  if (move === undefined) return refuse(state, check(invalidFieldInParameterList(24)));
  if (p.serviceActionKey === 0n) return refuse(state, check(invalidFieldInParameterList(8)));
  const type = checkScopeAndType(request);
  if (typeof type !== 'number') return refuse(state, type);
  const targetPort = request.targetPortName(move.relativeTargetPort);
  if (targetPort === undefined) return refuse(state, check(invalidFieldInParameterList(18)));
  const destination: Registrant = {
    initiatorPort: move.initiator,
    targetPort,
    relativeTargetPort: move.relativeTargetPort,
  };
  const issuerPort = own.targetPort ?? request.nexus.targetPort;
  if (destination.initiatorPort === own.initiatorPort && targetPort === issuerPort) {
    return refuse(state, check(invalidFieldInParameterList(24)));
  }
  const existing = state.registrations.find((r) => sameRegistrant(r, destination));
  let registrations = existing
    ? state.registrations
    : [...state.registrations, { ...destination, key: p.serviceActionKey }];
  if (move.unreg) registrations = registrations.filter((r) => r !== own);
  return accept({
    generation: nextGeneration(state),
    aptpl: p.aptpl,
    registrations,
    reservation: { type, holder: registrantOf(existing ?? destination) },
  });
}
