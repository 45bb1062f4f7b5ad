import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  broadcastAddress,
  checkPrefixLength,
  inSubnet,
  isLoopbackAddress,
  netmask,
  networkAddress,
  parseIpv4,
  prefixFromNetmask,
} from '../../../src/network/ipv4.js';
import { isTandemError } from '../../../src/lib/errors.js';

const code = (c: string) => (error: unknown) => isTandemError(error) && error.code === c;

test('parseIpv4: strict dotted quads only; IPv6 is refused as not supported yet', () => {
  assert.equal(parseIpv4('198.18.0.100'), '198.18.0.100');
  assert.equal(parseIpv4(' 10.0.0.1 '), '10.0.0.1');
  for (const bad of [
    '',
    '10.1',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4.5',
    '1.2.3.4/24',
    'a.b.c.d',
    '0x0a.0.0.1',
  ]) {
    assert.throws(() => parseIpv4(bad), code('invalid-address'), bad);
  }
  assert.throws(() => parseIpv4('fd00::2'), code('ipv6-not-supported'));
  assert.throws(() => parseIpv4('::ffff:10.0.0.1'), /IPv6/);
});

test('checkPrefixLength: whole numbers 0..32', () => {
  assert.equal(checkPrefixLength(0), 0);
  assert.equal(checkPrefixLength(32), 32);
  for (const bad of [-1, 33, 24.5, Number.NaN])
    assert.throws(() => checkPrefixLength(bad), code('invalid-prefix'));
});

test('network, broadcast, netmask, membership', () => {
  assert.equal(networkAddress('198.18.0.100', 24), '198.18.0.0');
  assert.equal(broadcastAddress('198.18.0.100', 24), '198.18.0.255');
  assert.equal(broadcastAddress('10.1.2.3', 8), '10.255.255.255');
  assert.equal(broadcastAddress('10.1.2.3', 30), '10.1.2.3');
  assert.equal(networkAddress('10.1.2.3', 30), '10.1.2.0');
  assert.equal(netmask(24), '255.255.255.0');
  assert.equal(netmask(20), '255.255.240.0');
  assert.equal(inSubnet('198.18.0.100', '198.18.0.1', 24), true);
  assert.equal(inSubnet('198.18.1.100', '198.18.0.1', 24), false);
  assert.equal(isLoopbackAddress('127.0.0.5'), true);
  assert.equal(isLoopbackAddress('128.0.0.5'), false);
});

test('prefixFromNetmask: contiguous masks only', () => {
  assert.equal(prefixFromNetmask('255.255.255.0'), 24);
  assert.equal(prefixFromNetmask('255.255.240.0'), 20);
  assert.equal(prefixFromNetmask('255.255.255.255'), 32);
  assert.equal(prefixFromNetmask('0.0.0.0'), 0);
  assert.throws(() => prefixFromNetmask('255.0.255.0'), code('invalid-netmask'));
  assert.throws(() => prefixFromNetmask('255.255.255'), code('invalid-address'));
});
