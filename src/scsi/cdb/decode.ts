// CDB decoding, apart from execution (the split of Linux LIO's sbc_parse_cdb): look the opcode (and
// service action) up in the command table, refuse reserved bits, then let the row decode its fields.
// Never throws: every malformed CDB becomes a SenseReason with a field pointer where one makes sense.
import type { ScsiCommand } from './command.js';
import { findCommand, SERVICE_ACTION_OPCODES, type CommandSpec } from './command-table.js';
import {
  fail,
  invalidFieldInCdb,
  senseReason,
  type ScsiResult,
  type SenseReason,
} from '../sense/sense-reason.js';

export interface DecodedCdb {
  readonly spec: CommandSpec;
  readonly command: ScsiCommand;
}

/** Decodes a CDB. `cdb` may be longer than the command (iSCSI carries 16 bytes or more); only the
 * command's own length is read. */
export function decodeCdb(cdb: Uint8Array): ScsiResult<DecodedCdb> {
  const bytes = Buffer.from(cdb.buffer, cdb.byteOffset, cdb.byteLength);
  const opcode = bytes[0];
  if (opcode === undefined) return fail(senseReason('INVALID_COMMAND_OPERATION_CODE'));
  const hasServiceAction = SERVICE_ACTION_OPCODES.has(opcode);
  // A CDB shorter than its operation code implies cannot be read; blame the opcode byte.
  if (hasServiceAction && bytes.length < 2) return fail(invalidFieldInCdb(0));
  const serviceAction = hasServiceAction ? (bytes[1] ?? 0) & 0x1f : 0;
  const spec = findCommand(opcode, serviceAction);
  if (spec === undefined) {
    return fail(hasServiceAction ? invalidFieldInCdb(1, 4) : senseReason('INVALID_COMMAND_OPERATION_CODE'));
  }
  // A CDB shorter than its operation code implies cannot be read; blame the opcode byte.
  if (bytes.length < spec.cdbLength) return fail(invalidFieldInCdb(0));
  const own = bytes.subarray(0, spec.cdbLength);
  const reserved = firstReservedBit(own, spec);
  if (reserved !== undefined) return fail(reserved);
  const decoded = spec.decode(own);
  return decoded.ok ? { ok: true, value: { spec, command: decoded.value } } : decoded;
}

/** The first set bit (lowest byte, then most significant bit) that the row neither uses nor ignores. */
function firstReservedBit(cdb: Buffer, spec: CommandSpec): SenseReason | undefined {
  for (let i = 1; i < spec.cdbLength; i++) {
    let allowed = (spec.usage[i] ?? 0) | (spec.ignored[i] ?? 0);
    if (i === 1 && spec.serviceAction !== undefined) allowed |= 0x1f;
    const stray = (cdb[i] ?? 0) & ~allowed & 0xff;
    if (stray !== 0) return invalidFieldInCdb(i, 31 - Math.clz32(stray));
  }
  return undefined;
}
