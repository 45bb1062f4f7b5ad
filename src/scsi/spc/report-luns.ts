// REPORT LUNS parameter data (SPC-4 §6.33) and the LUN encodings it uses (SAM-5 §4.7): peripheral
// device addressing for LUNs 0..255, flat space addressing for 256..16383.
import type { ReportLuns } from '../cdb/command.js';
import { truncateToAllocation } from './logical-unit.js';

export const MAX_FLAT_LUN = 0x3fff;

/** The 8-byte LUN field for a LUN number (SAM-5 §4.7.7.2 peripheral, §4.7.7.4 flat space). */
export function encodeLun(lun: number): Buffer {
  if (!Number.isInteger(lun) || lun < 0 || lun > MAX_FLAT_LUN) {
    throw new RangeError(`LUN ${lun} is outside 0..${MAX_FLAT_LUN}`);
  }
  const out = Buffer.alloc(8);
  if (lun <= 0xff) {
    out[1] = lun; // ADDRESS METHOD 00b, BUS IDENTIFIER 0
  } else {
    out[0] = 0x40 | (lun >> 8); // ADDRESS METHOD 01b
    out[1] = lun & 0xff;
  }
  return out;
}

/** The LUN number an initiator addressed, or undefined for an encoding we never hand out (other
 * address methods, a non-zero bus, or second-level addressing). */
export function decodeLun(field: Uint8Array): number | undefined {
  if (field.length < 8) return undefined;
  for (let i = 2; i < 8; i++) if (field[i] !== 0) return undefined;
  const first = field[0] ?? 0;
  const second = field[1] ?? 0;
  switch (first >> 6) {
    case 0b00:
      return first === 0 ? second : undefined; // peripheral, bus 0
    case 0b01:
      return ((first & 0x3f) << 8) | second; // flat space
    default:
      return undefined;
  }
}

/** SELECT REPORT 0 and 2 list every LU; 1 lists only well-known LUs, of which we have none. The
 * LUN LIST LENGTH field always gives the whole list; truncation only shortens the transfer. A target
 * with no LU at all still lists LUN 0 (SPC-4 §6.33); the caller passes it. */
export function respondReportLuns(luns: readonly number[], command: ReportLuns): Buffer {
  const listed = command.selectReport === 1 ? [] : [...new Set(luns)].sort((a, b) => a - b);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(listed.length * 8, 0);
  const data = Buffer.concat([header, ...listed.map(encodeLun)]);
  return truncateToAllocation(data, command.allocationLength);
}
