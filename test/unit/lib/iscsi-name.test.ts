import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTargetIqn, namingAuthority, normalizeIscsiName } from '../../../src/lib/iscsi-name.js';
import { TandemError } from '../../../src/lib/errors.js';

describe('normalizeIscsiName', () => {
  const good: [string, string][] = [
    ['iqn.2001-04.com.example:storage.disk2.sys1.xyz', 'iqn.2001-04.com.example:storage.disk2.sys1.xyz'],
    ['IQN.2001-04.COM.Example:Disk', 'iqn.2001-04.com.example:disk'],
    ['iqn.2026-11.local.tandem', 'iqn.2026-11.local.tandem'],
    ['iqn.1991-05.com.microsoft:host-1.domain', 'iqn.1991-05.com.microsoft:host-1.domain'],
    ['eui.02004567A425678D', 'eui.02004567a425678d'],
    ['naa.52004567BA64678D', 'naa.52004567ba64678d'],
    ['naa.62004567BA64678D0123456789ABCDEF', 'naa.62004567ba64678d0123456789abcdef'],
    ['  iqn.2020-01.org.x:y  ', 'iqn.2020-01.org.x:y'],
  ];
  for (const [input, expected] of good) {
    it(`accepts ${input.trim()}`, () => assert.equal(normalizeIscsiName(input), expected));
  }
  const bad = [
    '',
    'target1',
    'iqn.',
    'iqn.2001.com.example',
    'iqn.2001-13.com.example:x',
    'iqn.01-04.com.example',
    'iqn.2001-04.com.example:bad name',
    'iqn.2001-04.com.example:a/b',
    'iqn.2001-04.-com.example',
    'iqn.2001-04.com..example',
    'eui.1234',
    'eui.0200456Z7A425678D',
    'naa.1234',
    `iqn.2001-04.com.example:${'a'.repeat(220)}`,
  ];
  for (const name of bad) {
    it(`refuses ${JSON.stringify(name.slice(0, 40))}`, () => {
      assert.throws(
        () => normalizeIscsiName(name),
        (error: unknown) => error instanceof TandemError && error.code === 'bad-iscsi-name',
      );
    });
  }
});

describe('default IQNs', () => {
  it('reverse the host domain', () => {
    assert.deepEqual(namingAuthority('node1.example.com'), { reversedDomain: 'com.example', host: 'node1' });
  });
  it('fall back to a Tandem domain for a bare host name', () => {
    assert.deepEqual(namingAuthority('Node_1'), { reversedDomain: 'local.tandem', host: 'node1' });
  });
  it('follow iqn.YYYY-MM.<reversed domain>:<host>.target<N>', () => {
    const date = new Date(Date.UTC(2026, 10, 26));
    assert.equal(
      defaultTargetIqn('san-a.lab.example.org', date, 3),
      'iqn.2026-11.org.example.lab:san-a.target3',
    );
  });
});
