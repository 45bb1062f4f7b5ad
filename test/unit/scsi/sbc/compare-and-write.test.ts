import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CompareAndWrite } from '../../../../src/scsi/cdb/command.js';
import { executeCompareAndWrite } from '../../../../src/scsi/sbc/compare-and-write.js';
import { executeWrite } from '../../../../src/scsi/sbc/read-write.js';
import { BLOCK, fill, makeContext } from './context.js';

const caw = (lba: number, blocks = 1): CompareAndWrite => ({
  op: 'compare-and-write',
  lba: BigInt(lba),
  blocks,
  dpo: false,
  fua: false,
});

const both = (compare: number, write: number, blocks = 1): Buffer =>
  Buffer.concat([fill(blocks, compare), fill(blocks, write)]);

describe('COMPARE AND WRITE (SBC-3 §5.2)', () => {
  it('writes when the compare data matches', async () => {
    const { ctx, device } = makeContext();
    device.poke(BLOCK, fill(1, 0x41));
    assert.ok((await executeCompareAndWrite(ctx, caw(1), both(0x41, 0x42))).ok);
    assert.deepEqual(device.peek(BLOCK, BLOCK), fill(1, 0x42));
  });

  it('a mismatch is MISCOMPARE at the first differing byte, and nothing is written', async () => {
    const { ctx, device } = makeContext({ limits: { maxCompareAndWriteLength: 4 } });
    device.poke(0, fill(2, 0x41));
    device.poke(BLOCK + 17, Buffer.from([0x40]));
    const r = await executeCompareAndWrite(ctx, caw(0, 2), both(0x41, 0x42, 2));
    assert.ok(!r.ok);
    assert.equal(r.sense.code, 'MISCOMPARE_DURING_VERIFY_OPERATION');
    assert.equal(r.sense.information, BigInt(BLOCK + 17));
    assert.ok(device.ops.every((o) => o.kind !== 'write'));
  });

  it('refuses more blocks than MAXIMUM COMPARE AND WRITE LENGTH, and a wrong Data-Out size', async () => {
    const { ctx } = makeContext({ limits: { maxCompareAndWriteLength: 1 } });
    const tooMany = await executeCompareAndWrite(ctx, caw(0, 2), both(0, 1, 2));
    assert.ok(!tooMany.ok && tooMany.sense.code === 'INVALID_FIELD_IN_CDB');
    for (const size of [BLOCK, 4 * BLOCK, 0]) {
      const r = await executeCompareAndWrite(ctx, caw(0, 1), Buffer.alloc(size));
      assert.ok(!r.ok && r.sense.code === 'INVALID_FIELD_IN_CDB', `Data-Out of ${size}`);
    }
  });

  it('refuses a range past the last block', async () => {
    const { ctx } = makeContext({ blocks: 8 });
    const r = await executeCompareAndWrite(ctx, caw(8), both(0, 1));
    assert.ok(!r.ok && r.sense.code === 'LBA_OUT_OF_RANGE');
  });

  it('waits for a WRITE already in flight to the block, and then compares with its data', async () => {
    const { ctx, device } = makeContext();
    device.poke(0, fill(1, 0x41));
    device.holdWrites();
    const writing = executeWrite(
      ctx,
      { op: 'write', lba: 0n, blocks: 1, dpo: false, fua: false },
      fill(1, 0x58),
    );
    const comparing = executeCompareAndWrite(ctx, caw(0), both(0x41, 0x42));
    await new Promise((r) => setImmediate(r));
    // Without the range lock the compare would have read 'A' by now and succeeded.
    assert.ok(!device.ops.some((o) => o.kind === 'read'));
    device.releaseWrites();
    assert.ok((await writing).ok);
    const r = await comparing;
    assert.ok(!r.ok && r.sense.code === 'MISCOMPARE_DURING_VERIFY_OPERATION');
    assert.deepEqual(device.peek(0, BLOCK), fill(1, 0x58));
  });

  it('a WRITE issued during a COMPARE AND WRITE lands after it', async () => {
    const { ctx, device } = makeContext();
    device.poke(0, fill(1, 0x41));
    device.holdWrites();
    const comparing = executeCompareAndWrite(ctx, caw(0), both(0x41, 0x42));
    await new Promise((r) => setImmediate(r));
    const writing = executeWrite(
      ctx,
      { op: 'write', lba: 0n, blocks: 1, dpo: false, fua: false },
      fill(1, 0x58),
    );
    device.releaseWrites();
    assert.ok((await comparing).ok);
    assert.ok((await writing).ok);
    assert.deepEqual(device.peek(0, BLOCK), fill(1, 0x58));
  });

  it('of concurrent ATS commands expecting the same value, exactly one wins', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 8 }), fc.boolean(), async (contenders, hold) => {
        const { ctx, device } = makeContext();
        device.poke(0, fill(1, 0));
        if (hold) device.holdWrites();
        const runs = Array.from({ length: contenders }, (_, i) =>
          executeCompareAndWrite(ctx, caw(0), both(0, i + 1)),
        );
        if (hold) setImmediate(() => device.releaseWrites());
        const results = await Promise.all(runs);
        device.releaseWrites();
        const winners = results.flatMap((r, i) => (r.ok ? [i + 1] : []));
        assert.equal(winners.length, 1);
        assert.deepEqual(device.peek(0, BLOCK), fill(1, winners[0] ?? -1));
      }),
      { numRuns: 50 },
    );
  });
});
