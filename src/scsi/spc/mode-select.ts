// MODE SELECT (6) and (10) parameter lists (SPC-4 §6.11–6.12, §7.5.4–7.5.6): parses and checks them
// against our pages and returns the settings they ask for. It changes nothing itself: the LU layer
// applies the result and, when it changed something, raises MODE PARAMETERS CHANGED for the other
// I_T nexuses (SPC-4 §6.11). Only WCE is changeable; any other field must be sent as it is.
import type { ModeSelect } from '../cdb/command.js';
import {
  fail,
  invalidFieldInParameterList,
  ok,
  senseReason,
  type ScsiResult,
} from '../sense/sense-reason.js';
import type { LogicalUnitInfo } from './logical-unit.js';
import { findModePage, WCE } from './mode-pages.js';

export interface ModeSettings {
  readonly writeCacheEnabled: boolean;
}

const lengthError = (): ScsiResult<never> => fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));

/** `parameters` is the Data-Out buffer; only its first PARAMETER LIST LENGTH bytes are read. */
export function parseModeSelect(
  lu: LogicalUnitInfo,
  command: ModeSelect,
  parameters: Uint8Array,
): ScsiResult<ModeSettings> {
  const current: ModeSettings = { writeCacheEnabled: lu.writeCacheEnabled };
  if (command.parameterListLength === 0) return ok(current);
  if (parameters.length < command.parameterListLength) return lengthError();
  const data = Buffer.from(parameters.buffer, parameters.byteOffset, command.parameterListLength);

  // Mode parameter header (§7.5.5): MODE DATA LENGTH is reserved in MODE SELECT and ignored, as
  // is the device-specific parameter (WP and DPOFUA are reserved for MODE SELECT, SBC-3 §6.4.1).
  const six = command.cdbLength === 6;
  const headerLength = six ? 4 : 8;
  if (data.length < headerLength) return lengthError();
  const mediumTypeAt = six ? 1 : 2;
  if (data[mediumTypeAt] !== 0) return fail(invalidFieldInParameterList(mediumTypeAt));
  const longLba = !six && ((data[4] ?? 0) & 0x01) !== 0;
  const descriptorLengthAt = six ? 3 : 6;
  const descriptorLength = six ? (data[3] ?? 0) : data.readUInt16BE(6);
  if (descriptorLength !== 0 && descriptorLength !== (longLba ? 16 : 8)) {
    return fail(invalidFieldInParameterList(descriptorLengthAt));
  }
  if (headerLength + descriptorLength > data.length) return lengthError();
  if (descriptorLength > 0) {
    const bad = checkBlockDescriptor(lu, data, headerLength, longLba);
    if (bad !== undefined) return fail(invalidFieldInParameterList(bad));
  }

  let settings = current;
  for (let at = headerLength + descriptorLength; at < data.length;) {
    if (at + 2 > data.length) return lengthError();
    const first = data[at] ?? 0;
    if ((first & 0x40) !== 0) return fail(invalidFieldInParameterList(at, 6)); // SPF: no subpages here
    const mode = findModePage(first & 0x3f);
    if (mode === undefined) return fail(invalidFieldInParameterList(at, 5));
    const length = data[at + 1] ?? 0;
    if (at + 2 + length > data.length) return lengthError();
    const ours = mode.build({ ...lu, ...settings }, 'current');
    const changeable = mode.build(lu, 'changeable');
    if (length !== ours.length - 2) return fail(invalidFieldInParameterList(at + 1));
    for (let i = 2; i < ours.length; i++) {
      const stray = ((data[at + i] ?? 0) ^ (ours[i] ?? 0)) & ~(changeable[i] ?? 0) & 0xff;
      if (stray !== 0) return fail(invalidFieldInParameterList(at + i, 31 - Math.clz32(stray)));
    }
    if (mode.code === 0x08) settings = { writeCacheEnabled: ((data[at + 2] ?? 0) & WCE) !== 0 };
    at += 2 + length;
  }
  return ok(settings);
}

/** A block descriptor may restate the capacity (or give 0: no change) and must keep the block
 * length (SBC-3 §6.4.2). Returns the offending byte offset, if any. */
function checkBlockDescriptor(
  lu: LogicalUnitInfo,
  data: Buffer,
  at: number,
  long: boolean,
): number | undefined {
  if (long) {
    const blocks = data.readBigUInt64BE(at);
    if (blocks !== 0n && blocks !== lu.blockCount) return at;
    if (data.readUInt32BE(at + 8) !== 0) return at + 8;
    return data.readUInt32BE(at + 12) === lu.blockSize ? undefined : at + 12;
  }
  const blocks = data.readUInt32BE(at);
  const shortCount = lu.blockCount > 0xffff_ffffn ? 0xffff_ffff : Number(lu.blockCount);
  if (blocks !== 0 && blocks !== shortCount) return at;
  if (data[at + 4] !== 0) return at + 4;
  return data.readUIntBE(at + 5, 3) === lu.blockSize ? undefined : at + 5;
}
