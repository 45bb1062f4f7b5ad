// Which commands a reservation held by someone else refuses with RESERVATION CONFLICT.
//
// Persistent reservations (SPC-4 §5.9.1, table 66, and SBC-3 §4.17, table 13): a command is
// classed as reading the medium, writing it (or changing the LU's state), or neither. A nexus that is
// neither the holder (WE, EA) nor a registrant (registrants-only and all-registrants types) conflicts on
// writes always, and on reads under the exclusive-access types. PERSISTENT RESERVE OUT sorts out its
// own conflicts (persistent-reservations.ts); RESERVE and RELEASE are the SPC-2 module's business.
//
// SPC-2 reservations (SPC-2 §5.5.1, SPC-4 §5.9.3 for the exceptions): a nexus other than the holder may
// only send the commands in SPC2_ALLOWED; the others conflict.
import type { ScsiCommand } from '../cdb/command.js';
import { isExclusiveAccess, isHolder, isRegistrantsType, registrationOf, type PrState } from './pr-state.js';
import type { ItNexus } from './scsi-task.js';

export type AccessClass = 'none' | 'read' | 'write' | 'own-rules';

/** How a command touches the LU, for the persistent reservation tables. */
export function accessClass(command: ScsiCommand): AccessClass {
  switch (command.op) {
    case 'inquiry':
    case 'request-sense':
    case 'report-luns':
    case 'report-supported-operation-codes':
    case 'report-supported-task-management-functions':
    case 'read-capacity-10':
    case 'read-capacity-16':
    case 'test-unit-ready':
    case 'persistent-reserve-in':
      return 'none';
    case 'read':
    case 'verify':
    case 'get-lba-status':
    case 'mode-sense':
      return 'read';
    case 'write':
    case 'write-and-verify':
    case 'write-same':
    case 'unmap':
    case 'compare-and-write':
    case 'synchronize-cache':
    case 'mode-select':
      return 'write';
    // SBC-3 table 13: START STOP UNIT with START = 1 and no power condition, and PREVENT ALLOW MEDIUM
    // REMOVAL with PREVENT = 0, are allowed; the other forms conflict.
    case 'start-stop-unit':
      return command.start && command.powerCondition === 0 ? 'none' : 'write';
    case 'prevent-allow-medium-removal':
      return command.prevent === 0 ? 'none' : 'write';
    case 'persistent-reserve-out':
    case 'reserve':
    case 'release':
      return 'own-rules';
  }
}

/** True when a persistent reservation held by another makes this command conflict. */
export function persistentReservationConflict(state: PrState, nexus: ItNexus, command: ScsiCommand): boolean {
  const reservation = state.reservation;
  if (reservation === undefined) return false;
  const access = accessClass(command);
  if (access === 'none' || access === 'own-rules') return false;
  const privileged = isRegistrantsType(reservation.type)
    ? registrationOf(state, nexus) !== undefined
    : isHolder(state, nexus);
  if (privileged) return false;
  return access === 'write' || isExclusiveAccess(reservation.type);
}

/** Commands another nexus may still send while an SPC-2 reservation is held (RELEASE is a no-op). */
const SPC2_ALLOWED: ReadonlySet<ScsiCommand['op']> = new Set<ScsiCommand['op']>([
  'inquiry',
  'request-sense',
  'report-luns',
  'report-supported-operation-codes',
  'report-supported-task-management-functions',
  'persistent-reserve-in',
  'release',
]);

export const spc2Conflict = (command: ScsiCommand): boolean => !SPC2_ALLOWED.has(command.op);
