// COMPARE AND WRITE (SBC-3 §5.2): the first half of the Data-Out buffer is compared with the medium
// and, only if every byte matches, the second half is written. The read, compare and write happen
// under the LU's range lock, which every other write to those blocks also takes, so the command is
// atomic against them (VMware ATS depends on it). A mismatch is MISCOMPARE DURING VERIFY OPERATION
// with INFORMATION = offset of the first differing byte, and nothing is written.
import type { CompareAndWrite } from '../cdb/command.js';
import {
  fail,
  invalidFieldInCdb,
  miscompareAt,
  ok,
  senseReason,
  type ScsiResult,
} from '../sense/sense-reason.js';
import { byteOffset, type BlockContext } from './block-context.js';
import { durableWrite } from './durable-write.js';
import { guarded } from './io-error.js';
import { checkLbaRange } from './lba-range.js';
import { firstDifference } from './read-write.js';

export const compareAndWriteDataOutLength = (ctx: BlockContext, command: CompareAndWrite): number =>
  2 * command.blocks * ctx.blockSize;

export async function executeCompareAndWrite(
  ctx: BlockContext,
  command: CompareAndWrite,
  dataOut: Buffer | undefined,
): Promise<ScsiResult<Buffer | undefined>> {
  // SBC-3 §5.2: more blocks than MAXIMUM COMPARE AND WRITE LENGTH is an invalid field (byte 13).
  if (command.blocks > ctx.limits.maxCompareAndWriteLength) return fail(invalidFieldInCdb(13));
  const range = checkLbaRange(command.lba, command.blocks, ctx.blockCount);
  if (range !== undefined) return fail(range);
  const length = command.blocks * ctx.blockSize;
  // The Data-Out buffer must be exactly the compare data and the write data (checked before the
  // zero-block case: data sent with NUMBER OF LOGICAL BLOCKS = 0 is a malformed command too).
  if ((dataOut?.length ?? 0) !== 2 * length) return fail(senseReason('INVALID_FIELD_IN_CDB'));
  if (command.blocks === 0 || dataOut === undefined) return ok(undefined);
  const verify = dataOut.subarray(0, length);
  const write = dataOut.subarray(length);
  const offset = byteOffset(ctx, command.lba);
  const start = Number(command.lba);
  return ctx.lock.with(start, start + command.blocks, async () => {
    const current = await guarded('read', () => ctx.device.read(offset, length));
    if (!current.ok) return current;
    const at = firstDifference(verify, current.value);
    if (at !== undefined) return fail(miscompareAt(at));
    const written = await guarded('write', () => durableWrite(ctx, offset, write, command.fua));
    return written.ok ? ok(undefined) : written;
  });
}
