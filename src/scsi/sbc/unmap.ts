// UNMAP (SBC-3 §5.25): the parameter list (header, then 16-byte block descriptors) is parsed and
// checked as a whole before any block is deallocated, so a bad descriptor unmaps nothing.
import type { Unmap } from '../cdb/command.js';
import {
  fail,
  invalidFieldInCdb,
  invalidFieldInParameterList,
  ok,
  senseReason,
  type ScsiResult,
} from '../sense/sense-reason.js';
import { byteOffset, type BlockContext } from './block-context.js';
import { guarded } from './io-error.js';
import { checkLbaRange } from './lba-range.js';

export interface UnmapExtent {
  readonly lba: bigint;
  readonly blocks: number;
}

const HEADER = 8;
const DESCRIPTOR = 16;

/** Parses the UNMAP parameter list (SBC-3 §5.25.2) and checks it against the LU's limits and size. */
export function parseUnmapParameters(
  ctx: BlockContext,
  command: Unmap,
  dataOut: Buffer | undefined,
): ScsiResult<UnmapExtent[]> {
  if (command.parameterListLength === 0) return ok([]);
  // SBC-3: a PARAMETER LIST LENGTH from 1 to 7 is a parameter list length error.
  if (command.parameterListLength < HEADER) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  const data = dataOut?.subarray(0, command.parameterListLength) ?? Buffer.alloc(0);
  if (data.length < command.parameterListLength) return fail(senseReason('PARAMETER_LIST_LENGTH_ERROR'));
  const descriptorBytes = data.readUInt16BE(2);
  // A descriptor data length that runs past the list, or is not whole descriptors, is invalid.
  if (HEADER + descriptorBytes > data.length) return fail(invalidFieldInParameterList(2));
  const count = Math.floor(descriptorBytes / DESCRIPTOR);
  if (count > ctx.limits.maxUnmapBlockDescriptorCount) return fail(invalidFieldInParameterList(2));
  const extents: UnmapExtent[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER + i * DESCRIPTOR;
    const lba = data.readBigUInt64BE(at);
    const blocks = data.readUInt32BE(at + 8);
    if (blocks > ctx.limits.maxUnmapLbaCount) return fail(invalidFieldInParameterList(at + 8));
    const range = checkLbaRange(lba, blocks, ctx.blockCount);
    if (range !== undefined) return fail(range);
    extents.push({ lba, blocks });
  }
  return ok(extents);
}

export async function executeUnmap(
  ctx: BlockContext,
  command: Unmap,
  dataOut: Buffer | undefined,
): Promise<ScsiResult<Buffer | undefined>> {
  if (command.anchor) return fail(invalidFieldInCdb(1, 0)); // ANC_SUP = 0
  const parsed = parseUnmapParameters(ctx, command, dataOut);
  if (!parsed.ok) return parsed;
  for (const extent of parsed.value) {
    if (extent.blocks === 0) continue;
    const start = Number(extent.lba);
    const done = await ctx.lock.with(start, start + extent.blocks, () =>
      guarded('write', () => ctx.device.discard(byteOffset(ctx, extent.lba), extent.blocks * ctx.blockSize)),
    );
    if (!done.ok) return done;
  }
  if (!ctx.writeCacheEnabled && parsed.value.some((e) => e.blocks > 0)) {
    const flushed = await guarded('write', () => ctx.device.flush());
    if (!flushed.ok) return flushed;
  }
  return ok(undefined);
}
