// INQUIRY (SPC-4 §6.6): standard data (§6.6.2) or a VPD page, truncated to the allocation length.
import type { Inquiry } from '../cdb/command.js';
import { ok, type ScsiResult } from '../sense/sense-reason.js';
import { asciiField, truncateToAllocation, type LogicalUnitInfo } from './logical-unit.js';
import { PERIPHERAL_DIRECT_ACCESS, vpdPage } from './vpd.js';

/** VERSION DESCRIPTORs (SPC-4 §6.6.2, table 147), in the order SPC-4 asks: architecture model,
 * transport protocol, primary command set, device-type command set. */
export const VERSION_DESCRIPTORS = {
  SAM_5: 0x00a0,
  ISCSI: 0x0960,
  SPC_4: 0x0460,
  SBC_3: 0x04c0,
} as const;

/** Standard INQUIRY data is 96 bytes: 36 bytes, vendor specific 36..55, 56..57, eight version
 * descriptors at 58..73, reserved 74..95. ADDITIONAL LENGTH is n − 4. */
const STANDARD_LENGTH = 96;

type ProductIdentity = Pick<LogicalUnitInfo, 'vendor' | 'product' | 'revision'>;

function standardData(peripheral: number, id: ProductIdentity): Buffer {
  const out = Buffer.alloc(STANDARD_LENGTH);
  out[0] = peripheral;
  out[1] = 0x00; // RMB = 0, LU_CONG = 0
  out[2] = 0x06; // VERSION: SPC-4
  out[3] = 0x10 | 0x02; // HISUP = 1, RESPONSE DATA FORMAT = 2; NORMACA = 0
  out[4] = STANDARD_LENGTH - 5; // ADDITIONAL LENGTH
  out[5] = 0x00; // SCCS, ACC, TPGS = 00b (no ALUA), 3PC, PROTECT = 0
  out[6] = 0x00; // ENCSERV, VS, MULTIP = 0
  out[7] = 0x02; // CMDQUE = 1
  asciiField(id.vendor, 8).copy(out, 8);
  asciiField(id.product, 16).copy(out, 16);
  asciiField(id.revision, 4).copy(out, 32);
  Object.values(VERSION_DESCRIPTORS).forEach((descriptor, i) => out.writeUInt16BE(descriptor, 58 + 2 * i));
  return out;
}

export function standardInquiry(lu: LogicalUnitInfo): Buffer {
  return standardData(PERIPHERAL_DIRECT_ACCESS, lu);
}

/** For a LUN with no logical unit behind it (SPC-4 §6.6.2): PERIPHERAL QUALIFIER 011b, PERIPHERAL
 * DEVICE TYPE 1Fh. The target still answers INQUIRY on such a LUN. */
export function unsupportedLunInquiry(id: ProductIdentity): Buffer {
  return standardData(0x7f, id);
}

/** Answers a decoded INQUIRY: standard data or the VPD page, truncated to ALLOCATION LENGTH. */
export function respondInquiry(lu: LogicalUnitInfo, command: Inquiry): ScsiResult<Buffer> {
  if (!command.evpd) return ok(truncateToAllocation(standardInquiry(lu), command.allocationLength));
  const vpd = vpdPage(lu, command.pageCode);
  return vpd.ok ? ok(truncateToAllocation(vpd.value, command.allocationLength)) : vpd;
}
