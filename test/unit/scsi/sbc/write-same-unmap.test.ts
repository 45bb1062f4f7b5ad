import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Unmap, WriteSame } from '../../../../src/scsi/cdb/command.js';
import { executeGetLbaStatus } from '../../../../src/scsi/sbc/get-lba-status.js';
import { executeUnmap, parseUnmapParameters } from '../../../../src/scsi/sbc/unmap.js';
import { executeWriteSame } from '../../../../src/scsi/sbc/write-same.js';
import { BLOCK, fill, makeContext } from './context.js';

const ws = (lba: number, blocks: number, o: Partial<WriteSame> = {}): WriteSame => ({
  op: 'write-same',
  lba: BigInt(lba),
  blocks,
  anchor: false,
  unmap: false,
  ndob: false,
  ...o,
});

function unmapList(extents: readonly (readonly [number, number])[]): Buffer {
  const out = Buffer.alloc(8 + 16 * extents.length);
  out.writeUInt16BE(out.length - 2, 0);
  out.writeUInt16BE(16 * extents.length, 2);
  extents.forEach(([lba, blocks], i) => {
    out.writeBigUInt64BE(BigInt(lba), 8 + 16 * i);
    out.writeUInt32BE(blocks, 16 + 16 * i);
  });
  return out;
}

const unmap = (length: number): Unmap => ({ op: 'unmap', anchor: false, parameterListLength: length });

describe('WRITE SAME (SBC-3 §5.40–5.41)', () => {
  it('writes the block to every block of the range', async () => {
    const { ctx, device } = makeContext();
    const block = Buffer.alloc(BLOCK);
    block.write('pattern');
    assert.ok((await executeWriteSame(ctx, ws(3, 5), block)).ok);
    for (let i = 3; i < 8; i++) assert.deepEqual(device.peek(i * BLOCK, BLOCK), block);
    assert.deepEqual(device.peek(8 * BLOCK, BLOCK), Buffer.alloc(BLOCK));
  });

  it('0 blocks means to the end of the medium; past the end is out of range', async () => {
    const { ctx, device } = makeContext({ blocks: 16 });
    assert.ok((await executeWriteSame(ctx, ws(10, 0), fill(1, 3))).ok);
    assert.deepEqual(device.peek(10 * BLOCK, 6 * BLOCK), fill(6, 3));
    assert.ok((await executeWriteSame(ctx, ws(16, 0), fill(1, 3))).ok);
    const past = await executeWriteSame(ctx, ws(17, 0), fill(1, 3));
    assert.ok(!past.ok && past.sense.code === 'LBA_OUT_OF_RANGE');
  });

  it('checks MAXIMUM WRITE SAME LENGTH, also for 0 blocks', async () => {
    const { ctx } = makeContext({ blocks: 64, limits: { maxWriteSameLength: 8 } });
    const long = await executeWriteSame(ctx, ws(0, 9), fill(1, 1));
    assert.ok(!long.ok && long.sense.code === 'INVALID_FIELD_IN_CDB');
    const toEnd = await executeWriteSame(ctx, ws(64 - 9, 0), fill(1, 1));
    assert.ok(!toEnd.ok && toEnd.sense.code === 'INVALID_FIELD_IN_CDB');
    assert.ok((await executeWriteSame(ctx, ws(64 - 8, 0), fill(1, 1))).ok);
  });

  it('needs exactly one block of Data-Out, unless NDOB', async () => {
    const { ctx, device } = makeContext();
    for (const size of [BLOCK / 2, 2 * BLOCK]) {
      const r = await executeWriteSame(ctx, ws(0, 1), Buffer.alloc(size));
      assert.ok(!r.ok && r.sense.code === 'INVALID_FIELD_IN_CDB');
    }
    device.poke(0, fill(2, 9));
    assert.ok((await executeWriteSame(ctx, ws(0, 2, { ndob: true }), undefined)).ok);
    assert.deepEqual(device.peek(0, 2 * BLOCK), fill(2, 0));
  });

  it('UNMAP = 1 with a zero block discards; ANCHOR is refused (ANC_SUP = 0)', async () => {
    const { ctx, device } = makeContext();
    device.poke(0, fill(8, 0xff));
    assert.ok((await executeWriteSame(ctx, ws(0, 8, { unmap: true }), fill(1, 0))).ok);
    assert.ok(device.ops.some((o) => o.kind === 'discard'));
    assert.deepEqual(device.peek(0, 8 * BLOCK), fill(8, 0));
    const anchored = await executeWriteSame(ctx, ws(0, 1, { unmap: true, anchor: true }), fill(1, 0));
    assert.ok(!anchored.ok && anchored.sense.code === 'INVALID_FIELD_IN_CDB');
  });
});

describe('UNMAP (SBC-3 §5.25)', () => {
  it('discards every described range and flushes in write-through', async () => {
    const { ctx, device } = makeContext();
    device.poke(0, fill(64, 1));
    const list = unmapList([
      [0, 8],
      [32, 8],
    ]);
    assert.ok((await executeUnmap(ctx, unmap(list.length), list)).ok);
    assert.deepEqual(
      device.ops.map((o) => o.kind),
      ['discard', 'discard', 'flush'],
    );
    assert.deepEqual(device.peek(32 * BLOCK, 8 * BLOCK), fill(8, 0));
    assert.deepEqual(device.peek(8 * BLOCK, BLOCK), fill(1, 1));
  });

  const parseCases: { name: string; list: Buffer; length?: number; expect: string | number }[] = [
    { name: 'no parameter list', list: Buffer.alloc(0), length: 0, expect: 0 },
    { name: 'header only', list: unmapList([]), expect: 0 },
    { name: '0 blocks at the end of the medium', list: unmapList([[1024, 0]]), expect: 1 },
    { name: 'a range past the end', list: unmapList([[1020, 8]]), expect: 'LBA_OUT_OF_RANGE' },
    { name: 'a list shorter than a header', list: Buffer.alloc(4), expect: 'PARAMETER_LIST_LENGTH_ERROR' },
    {
      name: 'more blocks than MAXIMUM UNMAP LBA COUNT',
      list: unmapList([[0, 2 ** 21]]),
      expect: 'INVALID_FIELD_IN_PARAMETER_LIST',
    },
    {
      name: 'more descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT',
      list: unmapList(Array.from({ length: 257 }, (_, i) => [i, 1] as const)),
      expect: 'INVALID_FIELD_IN_PARAMETER_LIST',
    },
  ];
  for (const c of parseCases) {
    it(`parameter list: ${c.name}`, () => {
      const { ctx } = makeContext();
      const r = parseUnmapParameters(ctx, unmap(c.length ?? c.list.length), c.list);
      if (typeof c.expect === 'number') {
        assert.ok(r.ok);
        assert.equal(r.value.length, c.expect);
      } else {
        assert.ok(!r.ok);
        assert.equal(r.sense.code, c.expect);
      }
    });
  }
});

describe('GET LBA STATUS (SBC-3 §5.6)', () => {
  it('reports mapped and deallocated runs from the allocation map', async () => {
    const { ctx, device } = makeContext({ blocks: 64 });
    device.poke(0, fill(16, 1)); // blocks 0..15 mapped (two 4 KiB chunks)
    const r = await executeGetLbaStatus(ctx, { op: 'get-lba-status', lba: 4n, allocationLength: 4096 });
    assert.ok(r.ok && r.value !== undefined);
    const data = r.value;
    assert.equal(data.readUInt32BE(0), data.length - 4);
    assert.equal(data.length, 8 + 32);
    assert.equal(data.readBigUInt64BE(8), 4n);
    assert.equal(data.readUInt32BE(16), 12);
    assert.equal(data[20], 0);
    assert.equal(data.readBigUInt64BE(24), 16n);
    assert.equal(data.readUInt32BE(32), 48);
    assert.equal(data[36], 1);
  });

  it('refuses an LBA past the last block', async () => {
    const { ctx } = makeContext({ blocks: 64 });
    const r = await executeGetLbaStatus(ctx, { op: 'get-lba-status', lba: 64n, allocationLength: 24 });
    assert.ok(!r.ok && r.sense.code === 'LBA_OUT_OF_RANGE');
  });
});
