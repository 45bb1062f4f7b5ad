// Writing data with the durability the command and the cache setting ask for (SBC-3 §4.15, §5.8):
// FUA = 1 passes force unit access down; with the write cache off (write-through) a write without FUA
// is followed by a flush, so the data is durable before GOOD. Callers hold the range lock.
import type { BlockContext } from './block-context.js';

export async function durableWrite(
  ctx: BlockContext,
  offset: number,
  data: Buffer,
  fua: boolean,
): Promise<void> {
  if (data.length === 0) return;
  await ctx.device.write(offset, data, fua ? { fua: true } : {});
  if (!fua && !ctx.writeCacheEnabled) await ctx.device.flush();
}
