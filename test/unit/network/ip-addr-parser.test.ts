// The `ip -j addr show` reader on outputs recorded from iproute2 6.1 (test/fixtures/network/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { nicState, parseIpAddrJson } from '../../../src/network/ip-addr-parser.js';
import { isTandemError } from '../../../src/lib/errors.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/network/${name}`, import.meta.url), 'utf8');

test('a host: loopback marked and up (operstate UNKNOWN), a NIC without addresses down, eth0 with v4 and v6', () => {
  const nics = parseIpAddrJson(fixture('ip-addr-host.json'));
  assert.deepEqual(
    nics.map((n) => n.name),
    ['lo', 'ifb0', 'ifb1', 'eth0'],
  );
  const [lo, ifb0, , eth0] = nics;
  assert.ok(lo && ifb0 && eth0);
  assert.equal(lo.loopback, true);
  assert.equal(lo.state, 'up');
  assert.equal(lo.mac, null);
  assert.equal(lo.mtu, 65536);
  assert.deepEqual(lo.addresses[0], {
    family: 'inet',
    address: '127.0.0.1',
    prefixLength: 8,
    scope: 'host',
    secondary: false,
  });

  assert.equal(ifb0.state, 'down');
  assert.equal(ifb0.adminUp, false);
  assert.deepEqual(ifb0.addresses, []);

  assert.equal(eth0.loopback, false);
  assert.equal(eth0.state, 'up');
  assert.equal(eth0.carrier, true);
  assert.equal(eth0.mac, '02:fc:00:00:00:01');
  assert.equal(eth0.mtu, 1400);
  assert.deepEqual(eth0.addresses[0], {
    family: 'inet',
    address: '192.0.2.2',
    prefixLength: 24,
    broadcast: '192.0.2.255',
    scope: 'global',
    secondary: false,
  });
  assert.deepEqual(
    eth0.addresses.map((a) => [a.family, a.address, a.prefixLength]),
    [
      ['inet', '192.0.2.2', 24],
      ['inet6', 'fd00::2', 64],
      ['inet6', 'fe80::fc:ff:fe00:1', 64],
    ],
  );
});

test('a veth without carrier, holding a secondary address (a virtual IP next to the NIC address)', () => {
  const [nic] = parseIpAddrJson(fixture('ip-addr-veth-secondary.json'));
  assert.ok(nic);
  assert.equal(nic.name, 'd0');
  assert.equal(nic.state, 'down');
  assert.equal(nic.adminUp, true);
  assert.equal(nic.carrier, false);
  assert.deepEqual(
    nic.addresses.map((a) => [a.address, a.secondary, a.broadcast]),
    [
      ['10.9.0.5', false, undefined],
      ['10.9.0.8', true, '10.9.0.255'],
    ],
  );
});

test('state: operstate decides, and the flags where the kernel says UNKNOWN', () => {
  assert.equal(nicState('UP', []), 'up');
  assert.equal(nicState('DOWN', ['UP']), 'down');
  assert.equal(nicState('LOWERLAYERDOWN', ['UP', 'NO-CARRIER']), 'down');
  assert.equal(nicState('UNKNOWN', ['LOOPBACK', 'UP', 'LOWER_UP']), 'up');
  assert.equal(nicState('UNKNOWN', ['BROADCAST']), 'down');
  assert.equal(nicState('UNKNOWN', ['UP']), 'unknown');
  assert.equal(nicState(undefined, ['UP']), 'unknown');
});

test('empty output is no NICs; vanished entries ({}) are skipped', () => {
  assert.deepEqual(parseIpAddrJson(''), []);
  assert.deepEqual(parseIpAddrJson('[]\n'), []);
  assert.deepEqual(parseIpAddrJson('[{}]'), []);
});

test('unreadable output is an error naming the problem', () => {
  const unreadable = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parseIpAddrJson(text),
      (error: unknown) =>
        isTandemError(error) && error.code === 'ip-output-unreadable' && pattern.test(error.message),
    );
  unreadable('not json', /JSON|Unexpected/);
  unreadable('{"ifname":"x"}', /expected a JSON array/);
  unreadable('[{"ifindex":1}]', /no "ifname"/);
  unreadable('[{"ifname":"x"}]', /no "ifindex"/);
  unreadable('[{"ifname":"x","ifindex":1,"addr_info":[{"family":"inet","prefixlen":24}]}]', /no "local"/);
  unreadable('[{"ifname":"x","ifindex":1,"addr_info":[7]}]', /not an object/);
});
