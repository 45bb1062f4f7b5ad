// The SCSI target device (SAM-5 §4.6): a LUN map of logical units behind one ScsiTargetDevice. It
// answers what belongs to the target rather than to one LU (REPORT LUNS, INQUIRY and REQUEST SENSE
// to a LUN with no LU behind it, TARGET RESET) and routes everything else to the LU.
//
// State: the LUN map, changed only by add/remove at run time; every change leaves the other LUs
// running and establishes REPORTED LUNS DATA HAS CHANGED on them for every nexus they know
// (SPC-4 §6.33). LUs themselves keep all per-nexus state.
import { decodeCdb } from '../cdb/decode.js';
import { senseReason } from '../sense/sense-reason.js';
import { unsupportedLunInquiry } from '../spc/inquiry.js';
import { truncateToAllocation, type LogicalUnitInfo } from '../spc/logical-unit.js';
import { MAX_FLAT_LUN, respondReportLuns } from '../spc/report-luns.js';
import { respondRequestSense } from '../spc/request-sense.js';
import type { LogicalUnit } from './logical-unit.js';
import { respond } from './logical-unit.js';
import { check, good } from './outcome.js';
import type {
  ItNexus,
  ScsiTargetDevice,
  ScsiTaskRequest,
  ScsiTaskResponse,
  TaskManagementFunction,
  TaskManagementResult,
} from './scsi-task.js';

export type TargetIdentity = Pick<LogicalUnitInfo, 'vendor' | 'product' | 'revision'>;

const REPORT_LUNS = 0xa0;
const INQUIRY = 0x12;
const REQUEST_SENSE = 0x03;

export class ScsiTarget implements ScsiTargetDevice {
  readonly #identity: TargetIdentity;
  readonly #units = new Map<number, LogicalUnit>();

  constructor(identity: TargetIdentity) {
    this.#identity = identity;
  }

  /** Adds the LU at `lun`, replacing whatever was there. */
  addLogicalUnit(lun: number, unit: LogicalUnit): void {
    if (!Number.isInteger(lun) || lun < 0 || lun > MAX_FLAT_LUN) {
      throw new RangeError(`LUN ${lun} is outside 0..${MAX_FLAT_LUN}`);
    }
    this.#units.set(lun, unit);
    this.#inventoryChanged(unit);
  }

  /** Removes the LU at `lun`; returns it so the caller can close its device. */
  removeLogicalUnit(lun: number): LogicalUnit | undefined {
    const unit = this.#units.get(lun);
    if (unit === undefined) return undefined;
    this.#units.delete(lun);
    this.#inventoryChanged(undefined);
    return unit;
  }

  logicalUnit(lun: number): LogicalUnit | undefined {
    return this.#units.get(lun);
  }

  luns(): number[] {
    return [...this.#units.keys()].sort((a, b) => a - b);
  }

  async execute(request: ScsiTaskRequest): Promise<ScsiTaskResponse> {
    const opcode = request.cdb[0];
    if (opcode === REPORT_LUNS) return this.#reportLuns(request);
    const unit = this.#units.get(request.lun);
    if (unit !== undefined) return unit.execute(request);
    return this.#noUnit(request);
  }

  async taskManagement(
    nexus: ItNexus,
    lun: number,
    fn: TaskManagementFunction,
  ): Promise<TaskManagementResult> {
    if (fn.kind === 'target-reset') {
      await Promise.all([...this.#units.values()].map((u) => u.taskManagement(nexus, fn)));
      return 'function-complete';
    }
    const unit = this.#units.get(lun);
    if (unit === undefined) return fn.kind === 'abort-task' ? 'task-does-not-exist' : 'function-rejected';
    return unit.taskManagement(nexus, fn);
  }

  nexusLost(nexus: ItNexus): void {
    for (const unit of this.#units.values()) unit.nexusLost(nexus);
  }

  /** Every LU but a newly added one (whose nexuses all start with POWER ON) hears the news. */
  #inventoryChanged(added: LogicalUnit | undefined): void {
    for (const unit of this.#units.values()) {
      if (unit !== added) unit.establishUnitAttention('REPORTED_LUNS_DATA_HAS_CHANGED');
    }
  }

  /** REPORT LUNS (SPC-4 §6.33) is the target's: it needs no LU, reports no unit attention, clears a
   * pending REPORTED LUNS DATA HAS CHANGED on every LU, and with no LU configured still lists LUN 0. */
  #reportLuns(request: ScsiTaskRequest): ScsiTaskResponse {
    const decoded = decodeCdb(request.cdb);
    if (!decoded.ok) return respond(check(decoded.sense));
    if (decoded.value.command.op !== 'report-luns')
      return respond(check(senseReason('INVALID_COMMAND_OPERATION_CODE')));
    for (const unit of this.#units.values())
      unit.clearUnitAttention(request.nexus, 'REPORTED_LUNS_DATA_HAS_CHANGED');
    const luns = this.luns();
    return respond(good(respondReportLuns(luns.length > 0 ? luns : [0], decoded.value.command)));
  }

  /** A LUN with nothing behind it (SPC-4 §6.6.2, §6.39, SAM-5 §5.9.5). */
  #noUnit(request: ScsiTaskRequest): ScsiTaskResponse {
    const opcode = request.cdb[0];
    if (opcode === INQUIRY || opcode === REQUEST_SENSE) {
      const decoded = decodeCdb(request.cdb);
      if (!decoded.ok) return respond(check(decoded.sense));
      const command = decoded.value.command;
      if (command.op === 'inquiry' && !command.evpd) {
        // PERIPHERAL QUALIFIER 011b: the target cannot support a device on this LUN.
        return respond(
          good(truncateToAllocation(unsupportedLunInquiry(this.#identity), command.allocationLength)),
        );
      }
      if (command.op === 'request-sense') {
        return respond(good(respondRequestSense(senseReason('LOGICAL_UNIT_NOT_SUPPORTED'), command)));
      }
    }
    return respond(check(senseReason('LOGICAL_UNIT_NOT_SUPPORTED')));
  }
}
