// A BlockContext over a FakeDevice for the SBC executor tests.
import { RangeLock } from '../../../../src/lib/range-lock.js';
import type { BlockContext } from '../../../../src/scsi/sbc/block-context.js';
import { blockLimits, type BlockLimits } from '../../../../src/scsi/spc/logical-unit.js';
import { exampleLu } from '../example-lu.js';
import { FakeDevice } from '../lu/fake-device.js';

export const BLOCK = 512;

export function makeContext(
  options: { blocks?: number; writeCache?: boolean; limits?: Partial<BlockLimits>; thin?: boolean } = {},
): { ctx: BlockContext; device: FakeDevice } {
  const blocks = options.blocks ?? 1024;
  const device = new FakeDevice(blocks * BLOCK);
  const ctx: BlockContext = {
    device,
    blockSize: BLOCK,
    blockCount: BigInt(blocks),
    limits: blockLimits(exampleLu({ limits: options.limits ?? {} })),
    thinProvisioned: options.thin ?? true,
    writeCacheEnabled: options.writeCache ?? false,
    lock: new RangeLock(),
  };
  return { ctx, device };
}

export const fill = (blocks: number, byte: number): Buffer => Buffer.alloc(blocks * BLOCK, byte);
