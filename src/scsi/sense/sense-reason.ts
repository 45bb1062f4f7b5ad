// Why a SCSI command failed, as a value. The data path never throws for a failed command: decoders,
// builders and executors return a SenseReason, and sense-data.ts alone turns it into bytes.
// The table below is the complete list of reasons this target reports (SPC-4 Annex D gives every
// ASC/ASCQ); add a row here rather than building sense bytes anywhere else.

/** SPC-4 §4.5.6, table 48. */
export const SenseKey = {
  NO_SENSE: 0x0,
  RECOVERED_ERROR: 0x1,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  VENDOR_SPECIFIC: 0x9,
  COPY_ABORTED: 0xa,
  ABORTED_COMMAND: 0xb,
  VOLUME_OVERFLOW: 0xd,
  MISCOMPARE: 0xe,
} as const;

export type SenseKey = (typeof SenseKey)[keyof typeof SenseKey];

interface SenseCodeSpec {
  readonly key: SenseKey;
  readonly asc: number;
  readonly ascq: number;
  /** The additional sense code's description as SPC-4 Annex D writes it. */
  readonly text: string;
}

const { NO_SENSE, NOT_READY, MEDIUM_ERROR, HARDWARE_ERROR, ILLEGAL_REQUEST, UNIT_ATTENTION } = SenseKey;
const { DATA_PROTECT, ABORTED_COMMAND, MISCOMPARE } = SenseKey;

/** Every reason the target reports: sense key, ASC and ASCQ (SPC-4 Annex D, table D.1). */
export const SENSE_CODES = {
  NO_ADDITIONAL_SENSE: { key: NO_SENSE, asc: 0x00, ascq: 0x00, text: 'NO ADDITIONAL SENSE INFORMATION' },

  // Not ready
  LOGICAL_UNIT_NOT_READY: {
    key: NOT_READY,
    asc: 0x04,
    ascq: 0x00,
    text: 'LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE',
  },
  LOGICAL_UNIT_BECOMING_READY: {
    key: NOT_READY,
    asc: 0x04,
    ascq: 0x01,
    text: 'LOGICAL UNIT IS IN PROCESS OF BECOMING READY',
  },
  LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION: {
    key: NOT_READY,
    asc: 0x04,
    ascq: 0x03,
    text: 'LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED',
  },
  MEDIUM_NOT_PRESENT: { key: NOT_READY, asc: 0x3a, ascq: 0x00, text: 'MEDIUM NOT PRESENT' },

  // Medium and hardware errors (failed I/O on the backing store)
  WRITE_ERROR: { key: MEDIUM_ERROR, asc: 0x0c, ascq: 0x00, text: 'WRITE ERROR' },
  UNRECOVERED_READ_ERROR: { key: MEDIUM_ERROR, asc: 0x11, ascq: 0x00, text: 'UNRECOVERED READ ERROR' },
  INTERNAL_TARGET_FAILURE: { key: HARDWARE_ERROR, asc: 0x44, ascq: 0x00, text: 'INTERNAL TARGET FAILURE' },

  // Illegal request
  PARAMETER_LIST_LENGTH_ERROR: {
    key: ILLEGAL_REQUEST,
    asc: 0x1a,
    ascq: 0x00,
    text: 'PARAMETER LIST LENGTH ERROR',
  },
  INVALID_COMMAND_OPERATION_CODE: {
    key: ILLEGAL_REQUEST,
    asc: 0x20,
    ascq: 0x00,
    text: 'INVALID COMMAND OPERATION CODE',
  },
  LBA_OUT_OF_RANGE: {
    key: ILLEGAL_REQUEST,
    asc: 0x21,
    ascq: 0x00,
    text: 'LOGICAL BLOCK ADDRESS OUT OF RANGE',
  },
  INVALID_FIELD_IN_CDB: { key: ILLEGAL_REQUEST, asc: 0x24, ascq: 0x00, text: 'INVALID FIELD IN CDB' },
  LOGICAL_UNIT_NOT_SUPPORTED: {
    key: ILLEGAL_REQUEST,
    asc: 0x25,
    ascq: 0x00,
    text: 'LOGICAL UNIT NOT SUPPORTED',
  },
  INVALID_FIELD_IN_PARAMETER_LIST: {
    key: ILLEGAL_REQUEST,
    asc: 0x26,
    ascq: 0x00,
    text: 'INVALID FIELD IN PARAMETER LIST',
  },
  INVALID_RELEASE_OF_PERSISTENT_RESERVATION: {
    key: ILLEGAL_REQUEST,
    asc: 0x26,
    ascq: 0x04,
    text: 'INVALID RELEASE OF PERSISTENT RESERVATION',
  },
  SAVING_PARAMETERS_NOT_SUPPORTED: {
    key: ILLEGAL_REQUEST,
    asc: 0x39,
    ascq: 0x00,
    text: 'SAVING PARAMETERS NOT SUPPORTED',
  },
  MEDIUM_REMOVAL_PREVENTED: {
    key: ILLEGAL_REQUEST,
    asc: 0x53,
    ascq: 0x02,
    text: 'MEDIUM REMOVAL PREVENTED',
  },
  INSUFFICIENT_REGISTRATION_RESOURCES: {
    key: ILLEGAL_REQUEST,
    asc: 0x55,
    ascq: 0x04,
    text: 'INSUFFICIENT REGISTRATION RESOURCES',
  },

  // Unit attentions
  POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED: {
    key: UNIT_ATTENTION,
    asc: 0x29,
    ascq: 0x00,
    text: 'POWER ON, RESET, OR BUS DEVICE RESET OCCURRED',
  },
  POWER_ON_OCCURRED: { key: UNIT_ATTENTION, asc: 0x29, ascq: 0x01, text: 'POWER ON OCCURRED' },
  BUS_DEVICE_RESET_FUNCTION_OCCURRED: {
    key: UNIT_ATTENTION,
    asc: 0x29,
    ascq: 0x03,
    text: 'BUS DEVICE RESET FUNCTION OCCURRED',
  },
  I_T_NEXUS_LOSS_OCCURRED: { key: UNIT_ATTENTION, asc: 0x29, ascq: 0x07, text: 'I_T NEXUS LOSS OCCURRED' },
  MODE_PARAMETERS_CHANGED: { key: UNIT_ATTENTION, asc: 0x2a, ascq: 0x01, text: 'MODE PARAMETERS CHANGED' },
  RESERVATIONS_PREEMPTED: { key: UNIT_ATTENTION, asc: 0x2a, ascq: 0x03, text: 'RESERVATIONS PREEMPTED' },
  RESERVATIONS_RELEASED: { key: UNIT_ATTENTION, asc: 0x2a, ascq: 0x04, text: 'RESERVATIONS RELEASED' },
  REGISTRATIONS_PREEMPTED: { key: UNIT_ATTENTION, asc: 0x2a, ascq: 0x05, text: 'REGISTRATIONS PREEMPTED' },
  ASYMMETRIC_ACCESS_STATE_CHANGED: {
    key: UNIT_ATTENTION,
    asc: 0x2a,
    ascq: 0x06,
    text: 'ASYMMETRIC ACCESS STATE CHANGED',
  },
  CAPACITY_DATA_HAS_CHANGED: {
    key: UNIT_ATTENTION,
    asc: 0x2a,
    ascq: 0x09,
    text: 'CAPACITY DATA HAS CHANGED',
  },
  COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: {
    key: UNIT_ATTENTION,
    asc: 0x2f,
    ascq: 0x00,
    text: 'COMMANDS CLEARED BY ANOTHER INITIATOR',
  },
  THIN_PROVISIONING_SOFT_THRESHOLD_REACHED: {
    key: UNIT_ATTENTION,
    asc: 0x38,
    ascq: 0x07,
    text: 'THIN PROVISIONING SOFT THRESHOLD REACHED',
  },
  INQUIRY_DATA_HAS_CHANGED: { key: UNIT_ATTENTION, asc: 0x3f, ascq: 0x03, text: 'INQUIRY DATA HAS CHANGED' },
  REPORTED_LUNS_DATA_HAS_CHANGED: {
    key: UNIT_ATTENTION,
    asc: 0x3f,
    ascq: 0x0e,
    text: 'REPORTED LUNS DATA HAS CHANGED',
  },

  // Data protect
  WRITE_PROTECTED: { key: DATA_PROTECT, asc: 0x27, ascq: 0x00, text: 'WRITE PROTECTED' },
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT: {
    key: DATA_PROTECT,
    asc: 0x27,
    ascq: 0x07,
    text: 'SPACE ALLOCATION FAILED WRITE PROTECT',
  },

  // Aborted command: the initiator may retry (Linux sd does), e.g. while a mirror's peer is lost.
  LOGICAL_UNIT_COMMUNICATION_FAILURE: {
    key: ABORTED_COMMAND,
    asc: 0x08,
    ascq: 0x00,
    text: 'LOGICAL UNIT COMMUNICATION FAILURE',
  },
  LOGICAL_UNIT_COMMUNICATION_TIMEOUT: {
    key: ABORTED_COMMAND,
    asc: 0x08,
    ascq: 0x01,
    text: 'LOGICAL UNIT COMMUNICATION TIME-OUT',
  },

  // Transport failures of a command's data phase (iSCSI sequence or digest errors at ERL 0).
  DATA_PHASE_ERROR: { key: ABORTED_COMMAND, asc: 0x4b, ascq: 0x00, text: 'DATA PHASE ERROR' },
  PROTOCOL_SERVICE_CRC_ERROR: {
    key: ABORTED_COMMAND,
    asc: 0x47,
    ascq: 0x05,
    text: 'PROTOCOL SERVICE CRC ERROR',
  },

  // Miscompare (COMPARE AND WRITE, VERIFY and WRITE AND VERIFY with BYTCHK)
  MISCOMPARE_DURING_VERIFY_OPERATION: {
    key: MISCOMPARE,
    asc: 0x1d,
    ascq: 0x00,
    text: 'MISCOMPARE DURING VERIFY OPERATION',
  },
} as const satisfies Record<string, SenseCodeSpec>;

export type SenseCode = keyof typeof SENSE_CODES;

/** Sense-key specific field pointer (SPC-4 §4.5.2.4.2): which CDB or parameter-list byte (and bit)
 * is wrong. For a multi-bit field, `bit` names its most significant bit. */
export interface FieldPointer {
  /** C/D: true for the CDB, false for the parameter list (Data-Out). */
  readonly inCdb: boolean;
  readonly byte: number;
  /** 0..7; absent when the whole byte (or a multi-byte field) is at fault (BPV = 0). */
  readonly bit?: number;
}

/** A failed command, before it becomes sense bytes. */
export interface SenseReason {
  readonly code: SenseCode;
  readonly field?: FieldPointer;
  /** The INFORMATION field (SPC-4 §4.5.2.2), e.g. the offset of the first miscompared byte. */
  readonly information?: bigint;
}

/** The outcome of a decoder or builder on the data path: a value, or why the command fails. */
export type ScsiResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly sense: SenseReason };

export const ok = <T>(value: T): ScsiResult<T> => ({ ok: true, value });

export const fail = (sense: SenseReason): { readonly ok: false; readonly sense: SenseReason } => ({
  ok: false,
  sense,
});

export const senseReason = (code: SenseCode): SenseReason => ({ code });

export const invalidFieldInCdb = (byte: number, bit?: number): SenseReason => ({
  code: 'INVALID_FIELD_IN_CDB',
  field: bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit },
});

export const invalidFieldInParameterList = (byte: number, bit?: number): SenseReason => ({
  code: 'INVALID_FIELD_IN_PARAMETER_LIST',
  field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
});

/** SBC-3 §5.3 (COMPARE AND WRITE), §5.28 (VERIFY): INFORMATION = offset of the first byte that differs. */
export const miscompareAt = (offset: number | bigint): SenseReason => ({
  code: 'MISCOMPARE_DURING_VERIFY_OPERATION',
  information: BigInt(offset),
});

export const senseCodeSpec = (code: SenseCode): SenseCodeSpec => SENSE_CODES[code];
