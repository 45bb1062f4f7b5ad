// MODE SENSE (6) and (10) parameter data (SPC-4 §6.13–6.14, §7.5.4–7.5.6): header, at most one block
// descriptor (SBC-3 §6.4.2), then the requested pages; truncated to ALLOCATION LENGTH with the MODE
// DATA LENGTH of the whole answer left as it is.
import type { ModeSense } from '../cdb/command.js';
import { fail, invalidFieldInCdb, ok, senseReason, type ScsiResult } from '../sense/sense-reason.js';
import { truncateToAllocation, type LogicalUnitInfo } from './logical-unit.js';
import { ALL_PAGES, findModePage, MODE_PAGES, type ModePage, type ModePageForm } from './mode-pages.js';

/** DEVICE-SPECIFIC PARAMETER for direct access devices (SBC-3 §6.4.1): WP, DPOFUA. We honour DPO and
 * FUA, so DPOFUA is always 1; libiscsi then expects them accepted in READ/WRITE/VERIFY CDBs. */
export function deviceSpecificParameter(lu: LogicalUnitInfo): number {
  return (lu.writeProtected ? 0x80 : 0) | 0x10;
}

const U32_MAX = 0xffff_ffffn;

/** SBC-3 §6.4.2.2 short LBA block descriptor (8 bytes) or §6.4.2.3 long one (16 bytes). The
 * changeable form is all zeros: neither capacity nor block length can be changed by MODE SELECT. */
export function blockDescriptor(lu: LogicalUnitInfo, long: boolean, form: ModePageForm): Buffer {
  const out = Buffer.alloc(long ? 16 : 8);
  if (form === 'changeable') return out;
  if (long) {
    out.writeBigUInt64BE(lu.blockCount, 0);
    out.writeUInt32BE(lu.blockSize, 12);
  } else {
    out.writeUInt32BE(Number(lu.blockCount > U32_MAX ? U32_MAX : lu.blockCount), 0);
    out.writeUIntBE(lu.blockSize, 5, 3);
  }
  return out;
}

function selectPages(command: ModeSense): ScsiResult<readonly ModePage[]> {
  // We have no subpages: SUBPAGE CODE 00h, or FFh ("all subpages") which then means the page itself.
  if (command.subpageCode !== 0x00 && command.subpageCode !== 0xff) return fail(invalidFieldInCdb(3));
  if (command.pageCode === ALL_PAGES) return ok(MODE_PAGES);
  const found = findModePage(command.pageCode);
  return found === undefined ? fail(invalidFieldInCdb(2, 5)) : ok([found]);
}

export function respondModeSense(lu: LogicalUnitInfo, command: ModeSense): ScsiResult<Buffer> {
  // SPC-4 §6.13: PC 11b (saved values) without saved pages.
  if (command.pageControl === 'saved') {
    return fail({
      ...senseReason('SAVING_PARAMETERS_NOT_SUPPORTED'),
      field: { inCdb: true, byte: 2, bit: 7 },
    });
  }
  const form = command.pageControl;
  const pages = selectPages(command);
  if (!pages.ok) return pages;
  const long = command.cdbLength === 10 && command.llbaa;
  const descriptor = command.dbd ? Buffer.alloc(0) : blockDescriptor(lu, long, form);
  const body = Buffer.concat([descriptor, ...pages.value.map((p) => p.build(lu, form))]);
  let header: Buffer;
  if (command.cdbLength === 6) {
    header = Buffer.alloc(4);
    header[0] = header.length + body.length - 1; // MODE DATA LENGTH
    header[1] = 0x00; // MEDIUM TYPE
    header[2] = deviceSpecificParameter(lu);
    header[3] = descriptor.length; // BLOCK DESCRIPTOR LENGTH
  } else {
    header = Buffer.alloc(8);
    header.writeUInt16BE(header.length + body.length - 2, 0);
    header[3] = deviceSpecificParameter(lu);
    header[4] = long ? 0x01 : 0x00; // LONGLBA
    header.writeUInt16BE(descriptor.length, 6);
  }
  return ok(truncateToAllocation(Buffer.concat([header, body]), command.allocationLength));
}
