import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatSize, parseSize } from '../../../src/lib/size.js';
import { TandemError } from '../../../src/lib/errors.js';

describe('parseSize', () => {
  const cases: [string, number][] = [
    ['4096', 4096],
    ['512MiB', 512 * 2 ** 20],
    ['512M', 512 * 2 ** 20],
    ['10G', 10 * 2 ** 30],
    ['10GiB', 10 * 2 ** 30],
    ['10gib', 10 * 2 ** 30],
    ['1.5TiB', 1.5 * 2 ** 40],
    ['2 GiB', 2 * 2 ** 30],
    ['1GB', 1e9],
    ['1PiB', 2 ** 50],
    ['64KiB', 65536],
    ['7B', 7],
  ];
  for (const [text, bytes] of cases) {
    it(`reads ${text} as ${bytes} bytes`, () => assert.equal(parseSize(text), bytes));
  }

  for (const bad of ['', 'abc', '-1G', '1.5.5G', '10 XB', '1e9', 'G', '0x10', '1.1B', '9999999PiB']) {
    it(`refuses "${bad}" with a clear error`, () => {
      assert.throws(
        () => parseSize(bad),
        (error: unknown) =>
          error instanceof TandemError && error.kind === 'invalid' && error.message.length > 10,
      );
    });
  }

  it('reads back every size it formats as an exact unit multiple', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1023 }), fc.integer({ min: 0, max: 4 }), (amount, power) => {
        const bytes = amount * 1024 ** power;
        assert.equal(parseSize(formatSize(bytes).replace(' ', '')), bytes);
      }),
    );
  });
});

describe('formatSize', () => {
  it('uses the largest whole unit', () => {
    assert.equal(formatSize(0), '0 B');
    assert.equal(formatSize(1023), '1023 B');
    assert.equal(formatSize(1024), '1 KiB');
    assert.equal(formatSize(1.5 * 2 ** 30), '1.50 GiB');
    assert.equal(formatSize(2 ** 40), '1 TiB');
  });
});
