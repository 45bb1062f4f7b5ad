import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockIoError } from '../../../../src/storage/block-device.js';
import { errnoKind, toBlockIoError } from '../../../../src/storage/backends/io-errors.js';

describe('errno to BlockIoError', () => {
  const table: [string | undefined, BlockIoError['kind']][] = [
    ['ENOSPC', 'no-space'],
    ['EDQUOT', 'no-space'],
    ['EIO', 'medium'],
    ['ENXIO', 'medium'],
    ['EROFS', 'medium'],
    ['EFBIG', 'medium'],
    ['EBADF', 'unavailable'],
    ['ERR_INVALID_STATE', 'unavailable'],
    [undefined, 'medium'],
  ];
  for (const [code, kind] of table) {
    it(`maps ${code ?? 'an error without a code'} to '${kind}'`, () => {
      assert.equal(errnoKind(code), kind);
      const source = Object.assign(new Error('it failed'), code === undefined ? {} : { code });
      const wrapped = toBlockIoError(source, 'write 512 bytes at 0');
      assert.ok(wrapped instanceof BlockIoError);
      assert.equal(wrapped.kind, kind);
      assert.equal(wrapped.errno, code);
      assert.match(wrapped.message, /^write 512 bytes at 0: it failed$/);
    });
  }

  it('passes a BlockIoError through unchanged', () => {
    const original = new BlockIoError('no-space', 'full', 'ENOSPC');
    assert.equal(toBlockIoError(original, 'x'), original);
  });
});
