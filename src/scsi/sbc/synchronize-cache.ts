// SYNCHRONIZE CACHE (10) and (16), SBC-3 §5.22–5.23: the range must lie within the medium (NUMBER OF
// LOGICAL BLOCKS 0: to the last LBA); then the whole device cache is flushed, which covers the range.
// IMMED = 1 is honoured by completing after the flush anyway (allowed: status may come later).
import type { SynchronizeCache } from '../cdb/command.js';
import { fail, ok, senseReason, type ScsiResult } from '../sense/sense-reason.js';
import type { BlockContext } from './block-context.js';
import { guarded } from './io-error.js';
import { checkLbaRange } from './lba-range.js';

export async function executeSynchronizeCache(
  ctx: BlockContext,
  command: SynchronizeCache,
): Promise<ScsiResult<Buffer | undefined>> {
  const range =
    command.blocks === 0
      ? command.lba > ctx.blockCount
        ? senseReason('LBA_OUT_OF_RANGE')
        : undefined
      : checkLbaRange(command.lba, command.blocks, ctx.blockCount);
  if (range !== undefined) return fail(range);
  const flushed = await guarded('write', () => ctx.device.flush());
  return flushed.ok ? ok(undefined) : flushed;
}
