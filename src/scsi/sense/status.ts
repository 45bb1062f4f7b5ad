// SCSI status codes (SAM-5 §5.3.1). A command ends with exactly one of these; only CHECK CONDITION
// carries sense data. RESERVATION CONFLICT is a status of its own, never a sense reason.

export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30,
  TASK_ABORTED: 0x40,
} as const;

export type ScsiStatus = (typeof ScsiStatus)[keyof typeof ScsiStatus];
