// REQUEST SENSE (SPC-4 §6.39): the pending sense data of the I_T nexus (a deferred error or a unit
// attention the caller chose to report), or NO SENSE; fixed or descriptor format per DESC, truncated
// to the allocation length. Who keeps pending sense and clears it is the LU layer's business.
import type { RequestSense } from '../cdb/command.js';
import { buildSenseData } from '../sense/sense-data.js';
import { senseReason, type SenseReason } from '../sense/sense-reason.js';
import { truncateToAllocation } from './logical-unit.js';

export function respondRequestSense(pending: SenseReason | undefined, command: RequestSense): Buffer {
  const data = buildSenseData(pending ?? senseReason('NO_ADDITIONAL_SENSE'), {
    format: command.desc ? 'descriptor' : 'fixed',
  });
  return truncateToAllocation(data, command.allocationLength);
}
