import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeTextData,
  parseBoolean,
  parseNumber,
  parseTextData,
  type TextPair,
} from '../../../../src/iscsi/text/key-value.js';

const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9.\-+@_#]{0,62}$/);
const value = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((v) => !v.includes('\0'));
const pair = fc.record({ key, value }).map((p): TextPair => ({ ...p }));

describe('text data segments (RFC 7143 §6.1)', () => {
  it('parses key=value pairs ended by NUL, keeping order, lists and empty values', () => {
    const r = parseTextData(
      Buffer.from('InitiatorName=iqn.2024-01.org.example:a\0HeaderDigest=CRC32C,None\0X-x=\0'),
    );
    assert.ok(r.ok);
    assert.deepEqual(r.value, [
      { key: 'InitiatorName', value: 'iqn.2024-01.org.example:a' },
      { key: 'HeaderDigest', value: 'CRC32C,None' },
      { key: 'X-x', value: '' },
    ]);
    const alias = parseTextData(Buffer.from('InitiatorAlias=bürö=1\0'));
    assert.ok(alias.ok && alias.value[0]?.value === 'bürö=1', 'UTF-8, and = inside the value');
  });

  it('rejects malformed text as a value', () => {
    const cases: [string | Buffer, string][] = [
      ['A=1', 'unterminated'],
      ['A\0', 'missing-equals'],
      ['=1\0', 'bad-key'],
      ['Bad Key=1\0', 'bad-key'],
      [`${'K'.repeat(64)}=1\0`, 'bad-key'],
      [Buffer.from([0x41, 0x3d, 0xff, 0x00]), 'bad-utf8'],
    ];
    for (const [input, code] of cases) {
      const r = parseTextData(typeof input === 'string' ? Buffer.from(input) : input);
      assert.ok(!r.ok, `${String(input)} should fail`);
      assert.equal(r.error.code, code);
    }
    assert.deepEqual(parseTextData(Buffer.alloc(0)), { ok: true, value: [] });
  });

  it('parse(encode(pairs)) = pairs', () => {
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 10 }), (pairs) => {
        const r = parseTextData(encodeTextData(pairs));
        assert.ok(r.ok);
        assert.deepEqual(r.value, pairs);
      }),
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (raw) => void parseTextData(raw)));
  });

  it('reads numbers in decimal and hex, and booleans', () => {
    assert.equal(parseNumber('8192'), 8192);
    assert.equal(parseNumber('0x2000'), 8192);
    assert.equal(parseNumber('0X2000'), 8192);
    for (const bad of ['', '-1', '1e3', '0x', ' 1', '12a', '99999999999999999999']) {
      assert.equal(parseNumber(bad), undefined, bad);
    }
    assert.equal(parseBoolean('Yes'), true);
    assert.equal(parseBoolean('No'), false);
    assert.equal(parseBoolean('yes'), undefined);
  });
});
