// Decoded commands: what a CDB asks for, with every field the executors need, and nothing about how
// to do it. Produced only by decode.ts from the table in command-table.ts. Logical block addresses
// are bigint (16-byte CDBs carry 64 bits); block counts fit a number (at most 32 bits).

/** DPO and FUA (SBC-3 §5.8): DPO is a cache hint, FUA asks for the data on the medium before status. */
export interface CacheHints {
  readonly dpo: boolean;
  readonly fua: boolean;
}

export interface TestUnitReady {
  readonly op: 'test-unit-ready';
}

/** SPC-4 §6.6. */
export interface Inquiry {
  readonly op: 'inquiry';
  readonly evpd: boolean;
  readonly pageCode: number;
  readonly allocationLength: number;
}

/** SPC-4 §6.39. */
export interface RequestSense {
  readonly op: 'request-sense';
  readonly desc: boolean;
  readonly allocationLength: number;
}

/** SBC-3 §5.15. LBA and PMI are obsolete, kept to reject the combination SBC-2 forbade. */
export interface ReadCapacity10 {
  readonly op: 'read-capacity-10';
  readonly pmi: boolean;
}

/** SBC-3 §5.16. */
export interface ReadCapacity16 {
  readonly op: 'read-capacity-16';
  readonly allocationLength: number;
}

/** READ (6/10/12/16), SBC-3 §5.7–5.11. */
export interface Read extends CacheHints {
  readonly op: 'read';
  readonly lba: bigint;
  readonly blocks: number;
}

/** WRITE (6/10/12/16), SBC-3 §5.30–5.34. */
export interface Write extends CacheHints {
  readonly op: 'write';
  readonly lba: bigint;
  readonly blocks: number;
}

/** BYTCHK (SBC-3 §5.28, table 95): 0 verify the medium only, 1 compare with the Data-Out buffer,
 * 3 compare one Data-Out block with every block of the range (VERIFY only). */
export type ByteCheck = 0 | 1 | 3;

/** WRITE AND VERIFY (10/12/16), SBC-3 §5.35–5.37. */
export interface WriteAndVerify {
  readonly op: 'write-and-verify';
  readonly lba: bigint;
  readonly blocks: number;
  readonly dpo: boolean;
  readonly bytchk: 0 | 1;
}

/** VERIFY (10/12/16), SBC-3 §5.28–5.30. */
export interface Verify {
  readonly op: 'verify';
  readonly lba: bigint;
  readonly blocks: number;
  readonly dpo: boolean;
  readonly bytchk: ByteCheck;
}

/** SYNCHRONIZE CACHE (10/16), SBC-3 §5.22–5.23. `blocks` 0 means to the end of the medium. */
export interface SynchronizeCache {
  readonly op: 'synchronize-cache';
  readonly lba: bigint;
  readonly blocks: number;
  readonly immed: boolean;
}

/** WRITE SAME (10/16), SBC-3 §5.40–5.41. `blocks` 0 means to the end of the medium (if WSNZ = 0);
 * NDOB (16 only): no Data-Out buffer, write zeros. The executor rejects ANCHOR unless the LU has ANC_SUP. */
export interface WriteSame {
  readonly op: 'write-same';
  readonly lba: bigint;
  readonly blocks: number;
  readonly anchor: boolean;
  readonly unmap: boolean;
  readonly ndob: boolean;
}

/** UNMAP, SBC-3 §5.25; the block descriptors arrive in the parameter list. As for WRITE SAME, the
 * executor rejects ANCHOR unless the LU reports ANC_SUP (we report 0). */
export interface Unmap {
  readonly op: 'unmap';
  readonly anchor: boolean;
  readonly parameterListLength: number;
}

/** COMPARE AND WRITE, SBC-3 §5.2: Data-Out carries 2 × blocks: the compare data, then the write data. */
export interface CompareAndWrite extends CacheHints {
  readonly op: 'compare-and-write';
  readonly lba: bigint;
  readonly blocks: number;
}

/** GET LBA STATUS, SBC-3 §5.6. */
export interface GetLbaStatus {
  readonly op: 'get-lba-status';
  readonly lba: bigint;
  readonly allocationLength: number;
}

/** PC field (SPC-4 §6.13, table 160). */
export type PageControl = 'current' | 'changeable' | 'default' | 'saved';

/** MODE SENSE (6/10), SPC-4 §6.13–6.14. */
export interface ModeSense {
  readonly op: 'mode-sense';
  readonly cdbLength: 6 | 10;
  readonly dbd: boolean;
  /** LLBAA, MODE SENSE (10) only: long LBA block descriptors are acceptable. */
  readonly llbaa: boolean;
  readonly pageControl: PageControl;
  readonly pageCode: number;
  readonly subpageCode: number;
  readonly allocationLength: number;
}

/** MODE SELECT (6/10), SPC-4 §6.11–6.12. PF = 1 and SP = 0 are checked at decode. */
export interface ModeSelect {
  readonly op: 'mode-select';
  readonly cdbLength: 6 | 10;
  readonly parameterListLength: number;
}

/** REPORT LUNS, SPC-4 §6.33. SELECT REPORT 0 and 2: all LUNs; 1: well-known LUs only. */
export interface ReportLuns {
  readonly op: 'report-luns';
  readonly selectReport: 0 | 1 | 2;
  readonly allocationLength: number;
}

/** REPORTING OPTIONS (SPC-4 §6.35, table 250). */
export type ReportingOptions = 'all' | 'opcode' | 'opcode-and-service-action' | 'opcode-maybe-service-action';

/** REPORT SUPPORTED OPERATION CODES, SPC-4 §6.35. */
export interface ReportSupportedOperationCodes {
  readonly op: 'report-supported-operation-codes';
  readonly rctd: boolean;
  readonly reportingOptions: ReportingOptions;
  readonly requestedOpcode: number;
  readonly requestedServiceAction: number;
  readonly allocationLength: number;
}

/** REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS, SPC-4 §6.36. */
export interface ReportSupportedTaskManagementFunctions {
  readonly op: 'report-supported-task-management-functions';
  readonly repd: boolean;
  readonly allocationLength: number;
}

/** PERSISTENT RESERVE IN, SPC-4 §6.15, table 166. */
export const PrInServiceAction = {
  READ_KEYS: 0x00,
  READ_RESERVATION: 0x01,
  REPORT_CAPABILITIES: 0x02,
  READ_FULL_STATUS: 0x03,
} as const;

export interface PersistentReserveIn {
  readonly op: 'persistent-reserve-in';
  readonly serviceAction: number;
  readonly allocationLength: number;
}

/** PERSISTENT RESERVE OUT, SPC-4 §6.16, table 184. */
export const PrOutServiceAction = {
  REGISTER: 0x00,
  RESERVE: 0x01,
  RELEASE: 0x02,
  CLEAR: 0x03,
  PREEMPT: 0x04,
  PREEMPT_AND_ABORT: 0x05,
  REGISTER_AND_IGNORE_EXISTING_KEY: 0x06,
  REGISTER_AND_MOVE: 0x07,
} as const;

export interface PersistentReserveOut {
  readonly op: 'persistent-reserve-out';
  readonly serviceAction: number;
  readonly scope: number;
  readonly type: number;
  readonly parameterListLength: number;
}

/** RESERVE / RELEASE (6/10), SPC-2 §7.21–7.24: whole-LU reservations only (no third party, no extents). */
export interface Reserve {
  readonly op: 'reserve';
}

export interface Release {
  readonly op: 'release';
}

/** START STOP UNIT, SBC-3 §5.20. */
export interface StartStopUnit {
  readonly op: 'start-stop-unit';
  readonly immed: boolean;
  readonly powerConditionModifier: number;
  readonly powerCondition: number;
  readonly noFlush: boolean;
  readonly loej: boolean;
  readonly start: boolean;
}

/** PREVENT ALLOW MEDIUM REMOVAL, SBC-3 §5.5. */
export interface PreventAllowMediumRemoval {
  readonly op: 'prevent-allow-medium-removal';
  readonly prevent: number;
}

export type ScsiCommand =
  | TestUnitReady
  | Inquiry
  | RequestSense
  | ReadCapacity10
  | ReadCapacity16
  | Read
  | Write
  | WriteAndVerify
  | Verify
  | SynchronizeCache
  | WriteSame
  | Unmap
  | CompareAndWrite
  | GetLbaStatus
  | ModeSense
  | ModeSelect
  | ReportLuns
  | ReportSupportedOperationCodes
  | ReportSupportedTaskManagementFunctions
  | PersistentReserveIn
  | PersistentReserveOut
  | Reserve
  | Release
  | StartStopUnit
  | PreventAllowMediumRemoval;

export type CommandOp = ScsiCommand['op'];
