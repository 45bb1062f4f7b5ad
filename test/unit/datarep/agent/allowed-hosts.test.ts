import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allowedByAddress,
  allowedHost,
  clientKey,
  compileAllowedHosts,
  type NameFacts,
} from '../../../../src/datarep/agent/allowed-hosts.js';

const noNames: NameFacts = { verifiedName: null, addressesOf: new Map() };

test('no entries: every host', () => {
  const hosts = compileAllowedHosts([]);
  assert.equal(hosts.any, true);
  assert.equal(allowedByAddress(hosts, '203.0.113.9'), true);
  assert.equal(allowedByAddress(hosts, '2001:db8::9'), true);
});

test('addresses and networks, IPv4 and IPv6, IPv4-mapped clients', () => {
  const hosts = compileAllowedHosts(['192.0.2.7', '198.51.100.0/24', '2001:db8:1::/48', '::1']);
  assert.equal(hosts.any, false);
  assert.equal(hosts.needsReverse, false);
  const allowed = [
    '192.0.2.7',
    '::ffff:192.0.2.7',
    '198.51.100.0',
    '198.51.100.255',
    '2001:db8:1:ffff::5',
    '::1',
  ];
  for (const address of allowed) assert.equal(allowedByAddress(hosts, address), true, address);
  const refused = ['192.0.2.8', '198.51.101.1', '2001:db8:2::1', '127.0.0.1', '::2', 'not-an-ip', ''];
  for (const address of refused) assert.equal(allowedByAddress(hosts, address), false, address);
  // No DNS answer changes that.
  const facts: NameFacts = { verifiedName: 'trusted.example.com', addressesOf: new Map() };
  assert.equal(allowedHost(hosts, '192.0.2.8', facts), false);
});

test('an IPv4-mapped network matches IPv4 clients', () => {
  const hosts = compileAllowedHosts(['::ffff:192.0.2.0/120']);
  assert.equal(allowedByAddress(hosts, '192.0.2.200'), true);
  assert.equal(allowedByAddress(hosts, '192.0.3.1'), false);
});

test('host name patterns match the verified reverse name, without case', () => {
  const hosts = compileAllowedHosts(['*.Example.com', 'nas-?.lan']);
  assert.equal(hosts.needsReverse, true);
  assert.equal(allowedByAddress(hosts, '192.0.2.7'), false, 'names need DNS');
  const named = (verifiedName: string | null): NameFacts => ({ verifiedName, addressesOf: new Map() });
  assert.equal(allowedHost(hosts, '192.0.2.7', named('backup.example.com')), true);
  assert.equal(allowedHost(hosts, '192.0.2.7', named('a.b.EXAMPLE.com.')), true);
  assert.equal(allowedHost(hosts, '192.0.2.7', named('nas-1.lan')), true);
  assert.equal(allowedHost(hosts, '192.0.2.7', named('nas-12.lan')), false);
  assert.equal(allowedHost(hosts, '192.0.2.7', named('example.com')), false);
  assert.equal(allowedHost(hosts, '192.0.2.7', named('example.com.evil.net')), false);
  assert.equal(allowedHost(hosts, '192.0.2.7', named('backupXexample.com')), false, '. is not a wildcard');
  assert.equal(allowedHost(hosts, '192.0.2.7', noNames), false);
});

test('a plain host name matches its reverse name or the addresses it resolves to', () => {
  const hosts = compileAllowedHosts(['backup.lan', '192.0.2.1']);
  assert.deepEqual(hosts.names, ['backup.lan']);
  const resolved: NameFacts = {
    verifiedName: null,
    addressesOf: new Map([['backup.lan', ['198.51.100.4', '2001:db8::4']]]),
  };
  assert.equal(allowedHost(hosts, '198.51.100.4', resolved), true);
  assert.equal(allowedHost(hosts, '2001:db8:0::4', resolved), true);
  assert.equal(allowedHost(hosts, '::ffff:198.51.100.4', resolved), true);
  assert.equal(allowedHost(hosts, '198.51.100.5', resolved), false);
  assert.equal(allowedHost(hosts, '198.51.100.5', { ...resolved, verifiedName: 'Backup.lan' }), true);
  assert.equal(allowedHost(hosts, '198.51.100.5', { ...resolved, verifiedName: 'backup.lan.evil' }), false);
  assert.equal(allowedHost(hosts, '192.0.2.1', noNames), true);
});

test('clients are counted per IPv4 address and per IPv6 /64', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2::ffff'), clientKey('2001:db8:1:2:aaaa::1'));
  assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
});
