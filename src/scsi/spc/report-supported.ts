// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35), answered from the command table itself, so the
// commands we report and the commands we decode are the same list; and REPORT SUPPORTED TASK
// MANAGEMENT FUNCTIONS (SPC-4 §6.36), answered from what the transport says it implements.
import type {
  ReportSupportedOperationCodes,
  ReportSupportedTaskManagementFunctions,
} from '../cdb/command.js';
import { COMMANDS, findCommand, SERVICE_ACTION_OPCODES, type CommandSpec } from '../cdb/command-table.js';
import { fail, invalidFieldInCdb, ok, type ScsiResult } from '../sense/sense-reason.js';
import { truncateToAllocation } from './logical-unit.js';

/** Command timeouts descriptor (§6.35.4): DESCRIPTOR LENGTH 000Ah; both timeouts 0 = not specified. */
function timeoutsDescriptor(): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(0x000a, 0);
  return out;
}

/** Command descriptor (§6.35.2, table 251), followed by its timeouts when RCTD = 1. */
function commandDescriptor(spec: CommandSpec, rctd: boolean): Buffer {
  const out = Buffer.alloc(8);
  out[0] = spec.opcode;
  out.writeUInt16BE(spec.serviceAction ?? 0, 2);
  out[5] = (rctd ? 0x02 : 0) | (spec.serviceAction !== undefined ? 0x01 : 0); // CTDP, SERVACTV
  out.writeUInt16BE(spec.cdbLength, 6);
  return rctd ? Buffer.concat([out, timeoutsDescriptor()]) : out;
}

const SUPPORT_NOT_SUPPORTED = 0x01;
const SUPPORT_STANDARD = 0x03;

/** One-command parameter data (§6.35.3, table 252): SUPPORT, CDB SIZE and CDB USAGE DATA. */
function oneCommand(spec: CommandSpec | undefined, rctd: boolean): Buffer {
  const header = Buffer.alloc(4);
  if (spec === undefined) {
    header[1] = SUPPORT_NOT_SUPPORTED;
    return header;
  }
  header[1] = (rctd ? 0x80 : 0) | SUPPORT_STANDARD;
  header.writeUInt16BE(spec.cdbLength, 2);
  const parts: Buffer[] = [header, Buffer.from(spec.usage)];
  if (rctd) parts.push(timeoutsDescriptor());
  return Buffer.concat(parts);
}

function allCommands(rctd: boolean): Buffer {
  const descriptors = Buffer.concat(COMMANDS.map((spec) => commandDescriptor(spec, rctd)));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(descriptors.length, 0); // COMMAND DATA LENGTH
  return Buffer.concat([header, descriptors]);
}

export function respondReportSupportedOperationCodes(
  command: ReportSupportedOperationCodes,
): ScsiResult<Buffer> {
  const { requestedOpcode: opcode, requestedServiceAction: sa, rctd } = command;
  const hasServiceActions = SERVICE_ACTION_OPCODES.has(opcode);
  let data: Buffer;
  switch (command.reportingOptions) {
    case 'all':
      data = allCommands(rctd);
      break;
    case 'opcode':
      // 001b names an opcode without service actions; naming one with them is an invalid field.
      if (hasServiceActions) return fail(invalidFieldInCdb(2, 2));
      data = oneCommand(findCommand(opcode), rctd);
      break;
    case 'opcode-and-service-action':
      // 010b names an opcode with service actions; naming one without them is an invalid field.
      if (!hasServiceActions) return fail(invalidFieldInCdb(2, 2));
      data = oneCommand(findCommand(opcode, sa), rctd);
      break;
    case 'opcode-maybe-service-action':
      data = oneCommand(hasServiceActions || sa === 0 ? findCommand(opcode, sa) : undefined, rctd);
      break;
  }
  return ok(truncateToAllocation(data, command.allocationLength));
}

/** Task management functions the transport implements (SAM-5 §7). */
export interface TaskManagementSupport {
  readonly abortTask: boolean;
  readonly abortTaskSet: boolean;
  readonly clearAca: boolean;
  readonly clearTaskSet: boolean;
  readonly logicalUnitReset: boolean;
  readonly queryTask: boolean;
  readonly targetReset: boolean;
  readonly wakeup: boolean;
  readonly queryAsynchronousEvent: boolean;
  readonly queryTaskSet: boolean;
  readonly itNexusReset: boolean;
}

/** What an RFC 7143 target offers: ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET and
 * TARGET (WARM) RESET. CLEAR ACA needs NACA, which we do not support. */
export const ISCSI_TASK_MANAGEMENT: TaskManagementSupport = {
  abortTask: true,
  abortTaskSet: true,
  clearAca: false,
  clearTaskSet: true,
  logicalUnitReset: true,
  queryTask: false,
  targetReset: true,
  wakeup: false,
  queryAsynchronousEvent: false,
  queryTaskSet: false,
  itNexusReset: false,
};

/** §6.36.2: 4 bytes, or 16 with REPD = 1 (ADDITIONAL DATA LENGTH 0Ch, timeouts not reported). */
export function respondReportSupportedTaskManagementFunctions(
  command: ReportSupportedTaskManagementFunctions,
  support: TaskManagementSupport = ISCSI_TASK_MANAGEMENT,
): Buffer {
  const out = Buffer.alloc(command.repd ? 16 : 4);
  const flag = (on: boolean, mask: number): number => (on ? mask : 0);
  out[0] =
    flag(support.abortTask, 0x80) | // ATS
    flag(support.abortTaskSet, 0x40) | // ATSS
    flag(support.clearAca, 0x20) | // CACAS
    flag(support.clearTaskSet, 0x10) | // CTSS
    flag(support.logicalUnitReset, 0x08) | // LURS
    flag(support.queryTask, 0x04) | // QTS
    flag(support.targetReset, 0x02) | // TRS
    flag(support.wakeup, 0x01); // WAKES
  out[1] =
    flag(support.queryAsynchronousEvent, 0x04) | // QAES
    flag(support.queryTaskSet, 0x02) | // QTSS
    flag(support.itNexusReset, 0x01); // ITNRS
  if (command.repd) out[3] = 0x0c;
  return truncateToAllocation(out, command.allocationLength);
}
