import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  serialAdd,
  serialDistance,
  serialGt,
  serialGte,
  serialInWindow,
  serialLt,
  serialLte,
  serialNext,
  serialPrev,
} from '../../../src/lib/serial-number.js';

const MAX = 0xffffffff;
const serial = fc.integer({ min: 0, max: MAX });
const step = fc.integer({ min: 1, max: 2 ** 31 - 1 });

describe('RFC 1982 serial numbers', () => {
  it('compares across the wrap', () => {
    const cases: [number, number, boolean][] = [
      [0, 1, true],
      [1, 0, false],
      [MAX, 0, true], // 0xffffffff + 1 wraps to 0
      [0, MAX, false],
      [MAX - 5, 10, true],
      [5, 5, false],
      [0, 2 ** 31 - 1, true],
      [0, 2 ** 31, false], // exactly half way: incomparable
      [2 ** 31, 0, false],
    ];
    for (const [a, b, lt] of cases) assert.equal(serialLt(a, b), lt, `${a} < ${b}`);
    assert.ok(!serialGt(0, 2 ** 31) && !serialGt(2 ** 31, 0), 'half way is neither greater');
  });

  it('adds and steps modulo 2^32', () => {
    assert.equal(serialAdd(MAX, 1), 0);
    assert.equal(serialAdd(MAX - 1, 5), 3);
    assert.equal(serialNext(MAX), 0);
    assert.equal(serialPrev(0), MAX);
    assert.equal(serialDistance(MAX, 2), 3);
    assert.throws(() => serialAdd(0, 2 ** 31), RangeError);
    assert.throws(() => serialAdd(0, -1), RangeError);
  });

  it('a + n is greater than a for every allowed n', () => {
    fc.assert(
      fc.property(serial, step, (a, n) => {
        const b = serialAdd(a, n);
        assert.ok(serialLt(a, b) && serialGt(b, a) && serialLte(a, b) && serialGte(b, a));
        assert.ok(!serialLt(b, a));
        assert.equal(serialDistance(a, b), n);
      }),
    );
  });

  it('windows: ExpCmdSN..MaxCmdSN, and MaxCmdSN = ExpCmdSN - 1 is empty', () => {
    assert.ok(serialInWindow(MAX, MAX - 1, 3));
    assert.ok(serialInWindow(3, MAX - 1, 3));
    assert.ok(!serialInWindow(4, MAX - 1, 3));
    assert.ok(!serialInWindow(MAX - 2, MAX - 1, 3));
    fc.assert(
      fc.property(serial, serial, (lo, x) => {
        assert.ok(!serialInWindow(x, lo, serialPrev(lo)), 'an empty window holds nothing');
        assert.ok(serialInWindow(lo, lo, lo));
      }),
    );
  });
});
