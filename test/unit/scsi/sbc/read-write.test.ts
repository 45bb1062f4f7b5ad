import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Read, Verify, Write } from '../../../../src/scsi/cdb/command.js';
import {
  executeRead,
  executeVerify,
  executeWrite,
  executeWriteAndVerify,
} from '../../../../src/scsi/sbc/read-write.js';
import { BLOCK, fill, makeContext } from './context.js';

const read = (lba: number, blocks: number): Read => ({
  op: 'read',
  lba: BigInt(lba),
  blocks,
  dpo: false,
  fua: false,
});
const write = (lba: number, blocks: number, fua = false): Write => ({
  op: 'write',
  lba: BigInt(lba),
  blocks,
  dpo: false,
  fua,
});
const verify = (lba: number, blocks: number, bytchk: 0 | 1 | 3): Verify => ({
  op: 'verify',
  lba: BigInt(lba),
  blocks,
  dpo: false,
  bytchk,
});

describe('READ and WRITE (SBC-3 §5.7–5.11, §5.30–5.34)', () => {
  it('writes then reads back the blocks', async () => {
    const { ctx } = makeContext();
    assert.deepEqual(await executeWrite(ctx, write(10, 2), fill(2, 0xab)), { ok: true, value: undefined });
    const back = await executeRead(ctx, read(10, 2));
    assert.ok(back.ok);
    assert.deepEqual(back.value, fill(2, 0xab));
  });

  it('refuses ranges past the last block, and allows 0 blocks at the end', async () => {
    const { ctx } = makeContext({ blocks: 100 });
    for (const [lba, blocks] of [
      [99, 2],
      [100, 1],
      [0xffff_ffff, 1],
    ] as const) {
      const r = await executeRead(ctx, read(lba, blocks));
      assert.ok(!r.ok && r.sense.code === 'LBA_OUT_OF_RANGE');
    }
    assert.ok((await executeRead(ctx, read(100, 0))).ok);
    const past = await executeRead(ctx, read(101, 0));
    assert.ok(!past.ok && past.sense.code === 'LBA_OUT_OF_RANGE');
  });

  it('refuses a transfer longer than a reported MAXIMUM TRANSFER LENGTH', async () => {
    const { ctx } = makeContext({ limits: { maxTransferLength: 8 } });
    const r = await executeRead(ctx, read(0, 9));
    assert.ok(!r.ok && r.sense.code === 'INVALID_FIELD_IN_CDB');
    assert.ok((await executeRead(ctx, read(0, 8))).ok);
  });
});

describe('durability of writes', () => {
  const cases = [
    {
      name: 'write-through: write, then flush before GOOD',
      writeCache: false,
      fua: false,
      ops: ['write', 'flush'],
      fuaFlag: false,
    },
    { name: 'write-back: write only', writeCache: true, fua: false, ops: ['write'], fuaFlag: false },
    {
      name: 'write-back with FUA: the write carries FUA',
      writeCache: true,
      fua: true,
      ops: ['write'],
      fuaFlag: true,
    },
    {
      name: 'write-through with FUA: FUA instead of a flush',
      writeCache: false,
      fua: true,
      ops: ['write'],
      fuaFlag: true,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { ctx, device } = makeContext({ writeCache: c.writeCache });
      await executeWrite(ctx, write(0, 1, c.fua), fill(1, 1));
      assert.deepEqual(
        device.ops.map((o) => o.kind),
        c.ops,
      );
      const first = device.ops[0];
      assert.ok(first?.kind === 'write' && first.fua === c.fuaFlag);
    });
  }

  it('a failed flush in write-through is a WRITE ERROR, never GOOD', async () => {
    const { ctx, device } = makeContext();
    device.failNext('flush', 'medium');
    const r = await executeWrite(ctx, write(0, 1), fill(1, 1));
    assert.ok(!r.ok && r.sense.code === 'WRITE_ERROR');
  });
});

describe('I/O errors', () => {
  const cases = [
    { on: 'write', kind: 'medium', expect: 'WRITE_ERROR' },
    { on: 'write', kind: 'no-space', expect: 'SPACE_ALLOCATION_FAILED_WRITE_PROTECT' },
    { on: 'read', kind: 'medium', expect: 'UNRECOVERED_READ_ERROR' },
    { on: 'write', kind: 'unavailable', expect: 'LOGICAL_UNIT_NOT_READY' },
  ] as const;
  for (const c of cases) {
    it(`${c.kind} on ${c.on} → ${c.expect}`, async () => {
      const { ctx, device } = makeContext();
      device.failNext(c.on, c.kind);
      const r =
        c.on === 'read'
          ? await executeRead(ctx, read(0, 1))
          : await executeWrite(ctx, write(0, 1), fill(1, 1));
      assert.ok(!r.ok);
      assert.equal(r.sense.code, c.expect);
    });
  }
});

describe('Data-Out that does not match the CDB (libiscsi WRITE residuals)', () => {
  const cases = [
    { name: 'EDTL 0 for one block: nothing written', blocks: 1, sent: 0, written: 0 },
    { name: 'EDTL 2 blocks for one block: one block written', blocks: 1, sent: 2 * BLOCK, written: BLOCK },
    { name: 'EDTL 1 block for two blocks: one block written', blocks: 2, sent: BLOCK, written: BLOCK },
    { name: 'EDTL 10000 for one block: one block written', blocks: 1, sent: 10000, written: BLOCK },
    { name: 'EDTL 200 for one block: 200 bytes written, the rest kept', blocks: 1, sent: 200, written: 200 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { ctx, device } = makeContext();
      device.poke(0, fill(4, 0x61)); // 'a'
      const r = await executeWrite(ctx, write(0, c.blocks), Buffer.alloc(c.sent, 0x62)); // 'b'
      assert.ok(r.ok);
      const after = device.peek(0, 4 * BLOCK);
      assert.ok(after.subarray(0, c.written).every((b) => b === 0x62));
      assert.ok(after.subarray(c.written).every((b) => b === 0x61));
    });
  }
});

describe('VERIFY and WRITE AND VERIFY (SBC-3 §5.28, §5.35)', () => {
  it('BYTCHK 0 checks the range only', async () => {
    const { ctx } = makeContext({ blocks: 10 });
    assert.ok((await executeVerify(ctx, verify(0, 10, 0), undefined)).ok);
    const r = await executeVerify(ctx, verify(5, 6, 0), undefined);
    assert.ok(!r.ok && r.sense.code === 'LBA_OUT_OF_RANGE');
  });

  it('BYTCHK 1 reports the offset of the first differing byte', async () => {
    const { ctx, device } = makeContext();
    device.poke(BLOCK, fill(3, 7));
    assert.ok((await executeVerify(ctx, verify(1, 3, 1), fill(3, 7))).ok);
    const data = fill(3, 7);
    data[700] = 8;
    const r = await executeVerify(ctx, verify(1, 3, 1), data);
    assert.ok(!r.ok);
    assert.equal(r.sense.code, 'MISCOMPARE_DURING_VERIFY_OPERATION');
    assert.equal(r.sense.information, 700n);
  });

  it('BYTCHK 3 compares one block with every block', async () => {
    const { ctx, device } = makeContext();
    device.poke(0, fill(4, 9));
    assert.ok((await executeVerify(ctx, verify(0, 4, 3), fill(1, 9))).ok);
    device.poke(3 * BLOCK + 5, Buffer.from([1]));
    const r = await executeVerify(ctx, verify(0, 4, 3), fill(1, 9));
    assert.ok(!r.ok && r.sense.information === BigInt(3 * BLOCK + 5));
  });

  it('WRITE AND VERIFY writes durably and compares', async () => {
    const { ctx, device } = makeContext({ writeCache: true });
    const r = await executeWriteAndVerify(
      ctx,
      { op: 'write-and-verify', lba: 2n, blocks: 1, dpo: false, bytchk: 1 },
      fill(1, 5),
    );
    assert.ok(r.ok);
    assert.deepEqual(device.peek(2 * BLOCK, BLOCK), fill(1, 5));
    const first = device.ops.find((o) => o.kind === 'write');
    assert.ok(first?.kind === 'write' && first.fua);
  });
});
