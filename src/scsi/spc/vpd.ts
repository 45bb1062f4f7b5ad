// Vital product data pages (SPC-4 §7.8, SBC-3 §6.5), built from the LU description. The table at the
// bottom is the list of pages we support: page 0x00 is generated from it, so the two cannot disagree,
// and it is in ascending page order as SPC-4 §7.8.13 requires.
import { asciiField, blockLimits, type LogicalUnitInfo } from './logical-unit.js';
import { fail, invalidFieldInCdb, ok, type ScsiResult } from '../sense/sense-reason.js';

/** PERIPHERAL QUALIFIER 000b, PERIPHERAL DEVICE TYPE 00h: a direct access block device, connected. */
export const PERIPHERAL_DIRECT_ACCESS = 0x00;

/** A VPD page: byte 0 peripheral, byte 1 page code, bytes 2..3 PAGE LENGTH (n − 3), then the body. */
function page(pageCode: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = PERIPHERAL_DIRECT_ACCESS;
  header[1] = pageCode;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** SPC-4 §7.8.15: the unit serial number, ASCII, as long as it is. */
function unitSerialNumber(lu: LogicalUnitInfo): Buffer {
  return page(0x80, Buffer.from(lu.serial, 'ascii'));
}

/** Designation descriptor fields (SPC-4 §7.8.6.1, table 459). */
const CodeSet = { BINARY: 0x1, ASCII: 0x2, UTF8: 0x3 } as const;
const Association = { LOGICAL_UNIT: 0x0, TARGET_PORT: 0x1, TARGET_DEVICE: 0x2 } as const;
const DesignatorType = {
  T10_VENDOR_ID: 0x1,
  NAA: 0x3,
  RELATIVE_TARGET_PORT: 0x4,
  SCSI_NAME_STRING: 0x8,
} as const;
/** PROTOCOL IDENTIFIER for iSCSI (SPC-4 §7.6.1, table 362). */
const PROTOCOL_ISCSI = 0x5;

interface Designator {
  readonly codeSet: number;
  readonly association: number;
  readonly type: number;
  /** PIV = 1 with the iSCSI protocol identifier; only meaningful for port and device associations. */
  readonly iscsi: boolean;
  readonly value: Buffer;
}

function designationDescriptor(d: Designator): Buffer {
  const header = Buffer.alloc(4);
  header[0] = ((d.iscsi ? PROTOCOL_ISCSI : 0) << 4) | d.codeSet;
  header[1] = (d.iscsi ? 0x80 : 0) | (d.association << 4) | d.type;
  header[3] = d.value.length; // DESIGNATOR LENGTH
  return Buffer.concat([header, d.value]);
}

/** SCSI name string (SPC-4 §7.8.6.11): UTF-8, null-terminated, null-padded to a multiple of 4, ≤ 256. */
function scsiNameString(name: string): Buffer {
  const text = Buffer.from(name, 'utf8').subarray(0, 255);
  const length = Math.min(256, (text.length + 4) & ~3);
  const out = Buffer.alloc(length);
  text.copy(out);
  return out;
}

/** SPC-4 §7.8.6: the LU's NAA and T10 vendor ID designators, then the iSCSI target port's name and
 * relative port, then the SCSI target device's name. */
function deviceIdentification(lu: LogicalUnitInfo): Buffer {
  const relativePort = Buffer.alloc(4);
  relativePort.writeUInt16BE(lu.relativeTargetPort & 0xffff, 2);
  const designators: Designator[] = [
    {
      codeSet: CodeSet.BINARY,
      association: Association.LOGICAL_UNIT,
      type: DesignatorType.NAA,
      iscsi: false,
      value: Buffer.from(lu.naa, 'hex'),
    },
    {
      codeSet: CodeSet.ASCII,
      association: Association.LOGICAL_UNIT,
      type: DesignatorType.T10_VENDOR_ID,
      iscsi: false,
      // T10 VENDOR IDENTIFICATION (8 bytes), then a vendor specific identifier: our serial.
      value: Buffer.concat([asciiField(lu.vendor, 8), Buffer.from(lu.serial, 'ascii')]),
    },
    {
      codeSet: CodeSet.UTF8,
      association: Association.TARGET_PORT,
      type: DesignatorType.SCSI_NAME_STRING,
      iscsi: true,
      value: scsiNameString(lu.targetPortName),
    },
    {
      codeSet: CodeSet.BINARY,
      association: Association.TARGET_PORT,
      type: DesignatorType.RELATIVE_TARGET_PORT,
      iscsi: true,
      value: relativePort,
    },
    {
      codeSet: CodeSet.UTF8,
      association: Association.TARGET_DEVICE,
      type: DesignatorType.SCSI_NAME_STRING,
      iscsi: true,
      value: scsiNameString(lu.targetName),
    },
  ];
  return page(0x83, Buffer.concat(designators.map(designationDescriptor)));
}

const U32_MAX = 0xffff_ffff;
const clampU32 = (n: number): number => Math.min(Math.max(0, Math.floor(n)), U32_MAX);

/** SBC-3 §6.5.3: Block Limits, PAGE LENGTH 003Ch. UNMAP limits are zero when UNMAP is unsupported. */
function blockLimitsPage(lu: LogicalUnitInfo): Buffer {
  const limits = blockLimits(lu);
  const body = Buffer.alloc(0x3c);
  // body offsets are page offsets − 4
  body[0] = 0x00; // WSNZ = 0: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 means "to the last LBA"
  body[1] = Math.min(255, Math.max(0, limits.maxCompareAndWriteLength));
  body.writeUInt16BE(Math.min(0xffff, limits.optimalTransferLengthGranularity), 2);
  body.writeUInt32BE(clampU32(limits.maxTransferLength), 4);
  body.writeUInt32BE(clampU32(limits.optimalTransferLength), 8);
  // 12..15 MAXIMUM PREFETCH LENGTH: 0 (PRE-FETCH not supported)
  if (lu.thinProvisioned) {
    body.writeUInt32BE(clampU32(limits.maxUnmapLbaCount), 16);
    body.writeUInt32BE(clampU32(limits.maxUnmapBlockDescriptorCount), 20);
    body.writeUInt32BE(clampU32(limits.optimalUnmapGranularity), 24);
    // 28..31 UGAVALID = 1, UNMAP GRANULARITY ALIGNMENT = 0
    body[28] = 0x80;
  }
  body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(limits.maxWriteSameLength))), 32);
  return page(0xb0, body);
}

/** SBC-3 §6.5.2: Block Device Characteristics; MEDIUM ROTATION RATE 0001h = non-rotating medium. */
function blockDeviceCharacteristics(): Buffer {
  const body = Buffer.alloc(0x3c);
  body.writeUInt16BE(0x0001, 0);
  return page(0xb1, body);
}

/** SBC-3 §6.5.4: Logical Block Provisioning. Thin: UNMAP, WRITE SAME (16) and (10) with UNMAP, and
 * unmapped blocks read as zeros (a hole in a sparse file). Thick: full provisioning, nothing to unmap. */
function logicalBlockProvisioning(lu: LogicalUnitInfo): Buffer {
  const body = Buffer.alloc(4);
  body[0] = 0; // THRESHOLD EXPONENT: no thresholds
  if (lu.thinProvisioned) {
    body[1] = 0x80 | 0x40 | 0x20 | 0x04; // LBPU, LBPWS, LBPWS10, LBPRZ; ANC_SUP = 0, DP = 0
    body[2] = 0x02; // PROVISIONING TYPE: thin provisioned
  }
  return page(0xb2, body);
}

interface VpdPage {
  readonly code: number;
  readonly name: string;
  readonly build: (lu: LogicalUnitInfo) => Buffer;
}

const PAGES: readonly VpdPage[] = [
  { code: 0x00, name: 'Supported VPD Pages', build: () => supportedPages() },
  { code: 0x80, name: 'Unit Serial Number', build: unitSerialNumber },
  { code: 0x83, name: 'Device Identification', build: deviceIdentification },
  { code: 0xb0, name: 'Block Limits', build: blockLimitsPage },
  { code: 0xb1, name: 'Block Device Characteristics', build: blockDeviceCharacteristics },
  { code: 0xb2, name: 'Logical Block Provisioning', build: logicalBlockProvisioning },
];

/** SPC-4 §7.8.13: the supported page codes, ascending. */
function supportedPages(): Buffer {
  return page(0x00, Buffer.from(PAGES.map((p) => p.code)));
}

export const SUPPORTED_VPD_PAGES: readonly number[] = PAGES.map((p) => p.code);

/** The full VPD page, or INVALID FIELD IN CDB (the PAGE CODE, byte 2) for a page we do not have. */
export function vpdPage(lu: LogicalUnitInfo, pageCode: number): ScsiResult<Buffer> {
  const found = PAGES.find((p) => p.code === pageCode);
  return found === undefined ? fail(invalidFieldInCdb(2)) : ok(found.build(lu));
}
