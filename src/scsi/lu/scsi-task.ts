// The contract between a SCSI transport (iscsi/) and the SCSI device server (scsi/): a transport hands
// over a command with all of its Data-Out already collected, and gets back a status, sense and Data-In.
// The SCSI layer never sees a PDU; the transport never decodes a CDB.
import type { ScsiStatus } from '../sense/status.js';

/** An I_T nexus: which initiator port talks to which target port (SPC-4 §4.6.4). Reservations, unit
 * attentions and the task set are kept per nexus. */
export interface ItNexus {
  /** iSCSI initiator port name: `<initiator name>,i,0x<ISID as 12 hex digits>` (RFC 7143 §4.2.7.4). */
  readonly initiatorPort: string;
  /** The initiator device name alone (for ACLs and PR TransportIDs). */
  readonly initiatorName: string;
  /** iSCSI target port name: `<target name>,t,0x<TPGT as 4 hex digits>`. */
  readonly targetPort: string;
  readonly relativeTargetPort: number;
}

export type TaskAttribute = 'simple' | 'ordered' | 'head-of-queue' | 'aca';

export interface ScsiTaskRequest {
  readonly nexus: ItNexus;
  /** Initiator task tag: unique among the nexus's tasks in flight (used by ABORT TASK). */
  readonly tag: number;
  readonly lun: number;
  readonly cdb: Uint8Array;
  readonly attribute: TaskAttribute;
  /** Bytes of Data-In the initiator can take (its expected data transfer length for a read). */
  readonly expectedDataInLength: number;
  /** Data-Out the initiator sent: all of it, exactly its expected data transfer length for a write. */
  readonly dataOut?: Buffer;
}

export interface ScsiTaskResponse {
  readonly status: ScsiStatus;
  /** Sense data bytes, with CHECK CONDITION. */
  readonly sense?: Buffer;
  /** What the command returns; the transport sends at most expectedDataInLength of it and reports
   * the difference as a residual. */
  readonly dataIn?: Buffer;
  /** For commands that take Data-Out: how many bytes the command asked for (CDB transfer length ×
   * block size, or the parameter list length), so the transport can report a residual. */
  readonly dataOutLength?: number;
}

/** Task management functions (SAM-5 §7), as the transport receives them. */
export type TaskManagementFunction =
  | { readonly kind: 'abort-task'; readonly tag: number }
  | { readonly kind: 'abort-task-set' }
  | { readonly kind: 'clear-task-set' }
  | { readonly kind: 'logical-unit-reset' }
  | { readonly kind: 'target-reset' };

export type TaskManagementResult = 'function-complete' | 'task-does-not-exist' | 'function-rejected';

/** What a transport talks to: one SCSI target device with its logical units. */
export interface ScsiTargetDevice {
  execute(request: ScsiTaskRequest): Promise<ScsiTaskResponse>;
  taskManagement(nexus: ItNexus, lun: number, fn: TaskManagementFunction): Promise<TaskManagementResult>;
  /** The nexus is gone (session closed or reinstated): drop its tasks and per-nexus state that does
   * not outlive it (SPC-2 reservations do not; persistent reservations do). */
  nexusLost(nexus: ItNexus): void;
}
