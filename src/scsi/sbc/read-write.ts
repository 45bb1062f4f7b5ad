// READ, WRITE, WRITE AND VERIFY and VERIFY (SBC-3 §5.7–5.11, §5.28–5.37) over a block device.
// Checks run in the order libiscsi's iscsi-test-cu expects: transfer length against MAXIMUM TRANSFER
// LENGTH (when one is reported), then the LBA range, then the data.
//
// Data-Out that does not match the CDB (RFC 7143 §11.4.5.2, FCP-4 §9.4.2 as libiscsi reads it): the
// command is processed normally except that data the initiator did not send is not written: a short
// Data-Out writes the blocks it covers, and a trailing partial block is merged with the medium under
// the range lock. Bytes past what the CDB asks for are ignored. The transport reports the residual.
import type { Read, Verify, Write, WriteAndVerify } from '../cdb/command.js';
import { fail, miscompareAt, ok, senseReason, type ScsiResult } from '../sense/sense-reason.js';
import { byteOffset, type BlockContext } from './block-context.js';
import { durableWrite } from './durable-write.js';
import { guarded } from './io-error.js';
import { checkLbaRange } from './lba-range.js';

type Result = ScsiResult<Buffer | undefined>;

/** MAXIMUM TRANSFER LENGTH (SBC-3 §6.5.3): when reported (non-zero), a longer transfer is an invalid
 * field in the CDB. */
export function checkTransferLength(ctx: BlockContext, blocks: number): ScsiResult<void> {
  const max = ctx.limits.maxTransferLength;
  return max > 0 && blocks > max ? fail(senseReason('INVALID_FIELD_IN_CDB')) : ok(undefined);
}

function checkAccess(ctx: BlockContext, lba: bigint, blocks: number): ScsiResult<void> {
  const length = checkTransferLength(ctx, blocks);
  if (!length.ok) return length;
  const range = checkLbaRange(lba, blocks, ctx.blockCount);
  return range === undefined ? ok(undefined) : fail(range);
}

export async function executeRead(ctx: BlockContext, command: Read): Promise<Result> {
  const access = checkAccess(ctx, command.lba, command.blocks);
  if (!access.ok) return access;
  if (command.blocks === 0) return ok(undefined);
  const offset = byteOffset(ctx, command.lba);
  const length = command.blocks * ctx.blockSize;
  return guarded('read', () => ctx.device.read(offset, length));
}

/** Writes `data` (at most `blocks` blocks, maybe ending in a partial block) at `lba`, holding the lock. */
async function writeBlocks(
  ctx: BlockContext,
  lba: bigint,
  blocks: number,
  data: Buffer,
  fua: boolean,
): Promise<Result> {
  const start = Number(lba);
  const offset = byteOffset(ctx, lba);
  const release = await ctx.lock.acquire(start, start + blocks);
  try {
    const whole = data.length - (data.length % ctx.blockSize);
    const tail = data.subarray(whole);
    let merged = data.subarray(0, whole);
    if (tail.length > 0) {
      const old = await guarded('read', () => ctx.device.read(offset + whole, ctx.blockSize));
      if (!old.ok) return old;
      tail.copy(old.value);
      merged = Buffer.concat([merged, old.value]);
    }
    const written = await guarded('write', () => durableWrite(ctx, offset, merged, fua));
    return written.ok ? ok(undefined) : written;
  } finally {
    release();
  }
}

/** The part of the Data-Out buffer the command uses. */
function dataFor(ctx: BlockContext, blocks: number, dataOut: Buffer | undefined): Buffer {
  const wanted = blocks * ctx.blockSize;
  const data = dataOut ?? Buffer.alloc(0);
  return data.length > wanted ? data.subarray(0, wanted) : data;
}

export async function executeWrite(
  ctx: BlockContext,
  command: Write,
  dataOut: Buffer | undefined,
): Promise<Result> {
  const access = checkAccess(ctx, command.lba, command.blocks);
  if (!access.ok) return access;
  const data = dataFor(ctx, command.blocks, dataOut);
  if (data.length === 0) return ok(undefined);
  return writeBlocks(ctx, command.lba, command.blocks, data, command.fua);
}

/** WRITE AND VERIFY: the data goes to the medium (as with FUA) before it can be verified; with BYTCHK
 * = 1 it is read back and compared. */
export async function executeWriteAndVerify(
  ctx: BlockContext,
  command: WriteAndVerify,
  dataOut: Buffer | undefined,
): Promise<Result> {
  const access = checkAccess(ctx, command.lba, command.blocks);
  if (!access.ok) return access;
  const data = dataFor(ctx, command.blocks, dataOut);
  if (data.length === 0) return ok(undefined);
  const written = await writeBlocks(ctx, command.lba, command.blocks, data, true);
  if (!written.ok || command.bytchk === 0) return written;
  const back = await guarded('read', () => ctx.device.read(byteOffset(ctx, command.lba), data.length));
  if (!back.ok) return back;
  const at = firstDifference(data, back.value);
  return at === undefined ? ok(undefined) : fail(miscompareAt(at));
}

/** Offset of the first byte where `a` and `b` differ, over the length of `a`. */
export function firstDifference(a: Buffer, b: Buffer): number | undefined {
  if (a.equals(b.subarray(0, a.length)) && b.length >= a.length) return undefined;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return undefined;
}

/** Bytes of Data-Out a VERIFY asks for: the whole range (BYTCHK 01b), one block (11b), or none. */
export function verifyDataOutLength(ctx: BlockContext, command: Verify): number {
  if (command.bytchk === 1) return command.blocks * ctx.blockSize;
  return command.bytchk === 3 && command.blocks > 0 ? ctx.blockSize : 0;
}

/** VERIFY: BYTCHK 00b checks only that the range exists (we keep no protection information to check);
 * 01b compares the Data-Out buffer with the medium, 11b compares one block with every block. A
 * mismatch is MISCOMPARE with INFORMATION = offset of the first differing byte (SBC-3 §5.28). */
export async function executeVerify(
  ctx: BlockContext,
  command: Verify,
  dataOut: Buffer | undefined,
): Promise<Result> {
  const access = checkAccess(ctx, command.lba, command.blocks);
  if (!access.ok) return access;
  if (command.bytchk === 0 || command.blocks === 0) return ok(undefined);
  const expectedLength = verifyDataOutLength(ctx, command);
  const sent = dataOut ?? Buffer.alloc(0);
  if (sent.length < expectedLength) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  const length = command.blocks * ctx.blockSize;
  const medium = await guarded('read', () => ctx.device.read(byteOffset(ctx, command.lba), length));
  if (!medium.ok) return medium;
  const expected =
    command.bytchk === 1
      ? sent.subarray(0, length)
      : Buffer.concat(new Array<Buffer>(command.blocks).fill(sent.subarray(0, ctx.blockSize)));
  const at = firstDifference(expected, medium.value);
  return at === undefined ? ok(undefined) : fail(miscompareAt(at));
}
