// GET LBA STATUS (SBC-3 §5.6): LBA status descriptors from the starting LBA on, built from the block
// device's allocation map. Byte extents are widened to whole blocks; a block that is partly mapped
// counts as mapped. PARAMETER DATA LENGTH describes what we built; the transfer is cut to the
// allocation length.
import type { GetLbaStatus } from '../cdb/command.js';
import { fail, ok, senseReason, type ScsiResult } from '../sense/sense-reason.js';
import type { AllocationExtent } from '../../storage/block-device.js';
import { byteOffset, type BlockContext } from './block-context.js';
import { guarded } from './io-error.js';

/** PROVISIONING STATUS (SBC-3 table 45). */
const MAPPED = 0x0;
const DEALLOCATED = 0x1;

/** At most this many blocks are described per command (the initiator asks again from where we end). */
const MAX_SPAN_BLOCKS = 1 << 20;
const MAX_DESCRIPTORS = 1024;

interface BlockRun {
  start: number;
  end: number;
  mapped: boolean;
}

export function blockRuns(
  extents: readonly AllocationExtent[],
  blockSize: number,
  first: number,
  end: number,
): BlockRun[] {
  const runs: BlockRun[] = [];
  for (const extent of extents) {
    if (extent.length <= 0) continue;
    let start = Math.max(first, Math.floor(extent.offset / blockSize));
    const stop = Math.min(end, Math.ceil((extent.offset + extent.length) / blockSize));
    const last = runs[runs.length - 1];
    if (last !== undefined && start < last.end) {
      // Rounding made this extent overlap the previous run: a partly mapped block is mapped.
      if (extent.mapped && !last.mapped) last.end = start;
      else start = last.end;
    }
    if (stop <= start) continue;
    if (last !== undefined && last.end === start && last.mapped === extent.mapped) last.end = stop;
    else runs.push({ start, end: stop, mapped: extent.mapped });
  }
  return runs.filter((r) => r.end > r.start);
}

export async function executeGetLbaStatus(
  ctx: BlockContext,
  command: GetLbaStatus,
): Promise<ScsiResult<Buffer | undefined>> {
  if (command.lba >= ctx.blockCount) return fail(senseReason('LBA_OUT_OF_RANGE'));
  const first = Number(command.lba);
  const end = Math.min(Number(ctx.blockCount), first + MAX_SPAN_BLOCKS);
  const extents = await guarded('read', () =>
    ctx.device.allocation(byteOffset(ctx, command.lba), (end - first) * ctx.blockSize),
  );
  if (!extents.ok) return extents;
  const runs = blockRuns(extents.value, ctx.blockSize, first, end).slice(0, MAX_DESCRIPTORS);
  if (runs.length === 0) runs.push({ start: first, end, mapped: true });
  const out = Buffer.alloc(8 + 16 * runs.length);
  out.writeUInt32BE(out.length - 4, 0); // PARAMETER DATA LENGTH (n − 3)
  runs.forEach((run, i) => {
    const at = 8 + 16 * i;
    out.writeBigUInt64BE(BigInt(run.start), at);
    out.writeUInt32BE(Math.min(run.end - run.start, 0xffff_ffff), at + 8);
    out[at + 12] = run.mapped ? MAPPED : DEALLOCATED;
  });
  return ok(out.length <= command.allocationLength ? out : out.subarray(0, command.allocationLength));
}
