// WRITE SAME (10) and (16), SBC-3 §5.40–5.41: one block of Data-Out (or zeros with NDOB) written to
// every block of the range, or the range unmapped when UNMAP = 1 on a thin LU (unmapped blocks read
// as zeros: LBPRZ = 1). NUMBER OF LOGICAL BLOCKS 0 means "to the last LBA"
// (WSNZ = 0 in the Block Limits page); the count is checked against MAXIMUM WRITE SAME LENGTH.
import type { WriteSame } from '../cdb/command.js';
import { fail, invalidFieldInCdb, ok, senseReason, type ScsiResult } from '../sense/sense-reason.js';
import { byteOffset, type BlockContext } from './block-context.js';
import { guarded } from './io-error.js';

type Result = ScsiResult<Buffer | undefined>;

/** Largest buffer written at once when repeating the block. */
const CHUNK_BYTES = 1024 * 1024;

/** Bytes of Data-Out the command asks for. */
export const writeSameDataOutLength = (ctx: BlockContext, command: WriteSame): number =>
  command.ndob ? 0 : ctx.blockSize;

export async function executeWriteSame(
  ctx: BlockContext,
  command: WriteSame,
  dataOut: Buffer | undefined,
): Promise<Result> {
  // ANC_SUP = 0 in the Logical Block Provisioning page: ANCHOR is an invalid field.
  if (command.anchor) return fail(invalidFieldInCdb(1, 4));
  if (command.lba > ctx.blockCount) return fail(senseReason('LBA_OUT_OF_RANGE'));
  const blocks = command.blocks === 0 ? Number(ctx.blockCount - command.lba) : command.blocks;
  const max = ctx.limits.maxWriteSameLength;
  if (max > 0 && blocks > max) return fail(senseReason('INVALID_FIELD_IN_CDB'));
  if (command.lba + BigInt(blocks) > ctx.blockCount) return fail(senseReason('LBA_OUT_OF_RANGE'));
  let block: Buffer;
  if (command.ndob) {
    block = Buffer.alloc(ctx.blockSize);
  } else {
    // Exactly one logical block of Data-Out: anything else is a malformed command.
    if (dataOut?.length !== ctx.blockSize) return fail(senseReason('INVALID_FIELD_IN_CDB'));
    block = dataOut;
  }
  if (blocks === 0) return ok(undefined);

  const start = Number(command.lba);
  const offset = byteOffset(ctx, command.lba);
  const length = blocks * ctx.blockSize;
  // UNMAP = 1 on a thin LU deallocates whatever the block holds; LBPRZ = 1 then promises zeros on
  // read, which is what initiators (and libiscsi's WRITE SAME tests) rely on.
  const unmap = command.unmap && ctx.thinProvisioned;
  return ctx.lock.with(start, start + blocks, async () => {
    const done = await guarded('write', async () => {
      if (unmap) await ctx.device.discard(offset, length);
      else await writeRepeated(ctx, offset, length, block);
      if (!ctx.writeCacheEnabled) await ctx.device.flush();
    });
    return done.ok ? ok(undefined) : done;
  });
}

async function writeRepeated(
  ctx: BlockContext,
  offset: number,
  length: number,
  block: Buffer,
): Promise<void> {
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / block.length));
  const chunk = Buffer.concat(new Array<Buffer>(Math.min(perChunk, length / block.length)).fill(block));
  for (let at = 0; at < length; at += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, length - at));
    await ctx.device.write(offset + at, piece);
  }
}
