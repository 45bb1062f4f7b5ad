// Every refusal of the network setup rules, and what a valid setup comes out as.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NicRoleRecord } from '../../../src/config/repositories/network-repo.js';
import { isTandemError } from '../../../src/lib/errors.js';
import type { Nic } from '../../../src/network/ip-addr-parser.js';
import {
  checkRoleChange,
  checkVirtualIp,
  validateNicName,
  type NetworkFacts,
  type VirtualIpInput,
} from '../../../src/network/network-rules.js';

function nic(name: string, addresses: [string, number][], loopback = false): Nic {
  return {
    name,
    index: 1,
    state: 'up',
    adminUp: true,
    carrier: true,
    mac: loopback ? null : '02:00:00:00:00:01',
    mtu: 1500,
    loopback,
    addresses: addresses.map(([address, prefixLength]) => ({
      family: 'inet',
      address,
      prefixLength,
      secondary: false,
    })),
  };
}

const role = (n: string, r: 'data' | 'aux'): NicRoleRecord => ({
  nic: n,
  role: r,
  updatedAt: '2026-11-26T00:00:00.000Z',
});

const NICS = [
  nic('lo', [['127.0.0.1', 8]], true),
  nic('data0', [['198.18.0.1', 24]]),
  nic('aux0', [['198.18.1.1', 24]]),
  nic('spare0', []),
];
const FACTS: NetworkFacts = { nics: NICS, roles: [role('data0', 'data'), role('aux0', 'aux')] };
const VIP: VirtualIpInput = { address: '198.18.0.100', prefixLength: 24, nic: 'data0', driver: 'iproute2' };

const refused = (fn: () => unknown, code: string, message?: RegExp) =>
  assert.throws(fn, (error: unknown) => {
    assert.ok(isTandemError(error), String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });

test('a valid virtual IP comes back complete, with the broadcast computed or checked', () => {
  const expected = {
    address: '198.18.0.100',
    prefixLength: 24,
    broadcast: '198.18.0.255',
    nic: 'data0',
    driver: 'iproute2',
  };
  assert.deepEqual(checkVirtualIp(VIP, FACTS), expected);
  assert.deepEqual(checkVirtualIp({ ...VIP, broadcast: '198.18.0.255' }, FACTS), expected);
  // A /32 next to the NIC's /24: no network or broadcast address to avoid.
  assert.equal(checkVirtualIp({ ...VIP, prefixLength: 32 }, FACTS).broadcast, '198.18.0.100');
  // A data NIC without any address: nothing to be inside of.
  const bare: NetworkFacts = { nics: NICS, roles: [role('spare0', 'data')] };
  assert.equal(
    checkVirtualIp({ ...VIP, nic: 'spare0', address: '203.0.113.5' }, bare).address,
    '203.0.113.5',
  );
});

test('virtual IP refusals: address, prefix, broadcast', () => {
  refused(() => checkVirtualIp({ ...VIP, address: '198.18.0' }, FACTS), 'invalid-address');
  refused(() => checkVirtualIp({ ...VIP, address: 'fd00::100' }, FACTS), 'ipv6-not-supported', /only IPv4/);
  refused(() => checkVirtualIp({ ...VIP, prefixLength: 33 }, FACTS), 'invalid-prefix');
  refused(() => checkVirtualIp({ ...VIP, prefixLength: -1 }, FACTS), 'invalid-prefix');
  refused(() => checkVirtualIp({ ...VIP, prefixLength: 4 }, FACTS), 'invalid-prefix', /too short/);
  refused(
    () => checkVirtualIp({ ...VIP, broadcast: '198.18.0.254' }, FACTS),
    'broadcast-mismatch',
    /it is 198\.18\.0\.255/,
  );
  refused(() => checkVirtualIp({ ...VIP, broadcast: 'nonsense' }, FACTS), 'invalid-address');
  refused(() => checkVirtualIp({ ...VIP, address: '198.18.0.0' }, FACTS), 'vip-is-network-address');
  refused(() => checkVirtualIp({ ...VIP, address: '198.18.0.255' }, FACTS), 'vip-is-broadcast-address');
});

test("virtual IP refusals: the NIC and this node's own addresses", () => {
  refused(() => checkVirtualIp({ ...VIP, address: '198.18.0.1' }, FACTS), 'vip-is-node-address', /data0/);
  refused(
    () => checkVirtualIp({ ...VIP, address: '198.18.0.1', prefixLength: 32 }, FACTS),
    'vip-is-node-address',
  );
  refused(
    () => checkVirtualIp({ ...VIP, address: '198.18.1.100' }, FACTS),
    'vip-outside-subnet',
    /198\.18\.0\.1\/24/,
  );
  refused(
    () => checkVirtualIp({ ...VIP, nic: 'aux0' }, FACTS),
    'nic-not-data',
    /tandem network role aux0 data/,
  );
  refused(() => checkVirtualIp({ ...VIP, nic: 'spare0' }, FACTS), 'nic-not-data');
  const ghost: NetworkFacts = { nics: NICS, roles: [role('gone0', 'data')] };
  refused(() => checkVirtualIp({ ...VIP, nic: 'gone0' }, ghost), 'nic-not-found');
  refused(() => checkVirtualIp({ ...VIP, nic: '-i' }, FACTS), 'invalid-nic-name');
  refused(() => checkVirtualIp({ ...VIP, driver: 'vrrp' as never }, FACTS), 'invalid-vip-driver');
});

test('virtual IP: the loopback driver takes 127/8 only (not 127.0.0.1), the iproute2 driver never', () => {
  const loFacts: NetworkFacts = { nics: NICS, roles: [role('lo', 'data')] };
  const lo: VirtualIpInput = { address: '127.0.0.100', prefixLength: 8, nic: 'lo', driver: 'loopback' };
  assert.deepEqual(checkVirtualIp(lo, loFacts), { ...lo, broadcast: '127.255.255.255' });
  refused(() => checkVirtualIp({ ...lo, address: '198.18.0.100' }, loFacts), 'vip-not-loopback');
  refused(() => checkVirtualIp({ ...lo, address: '127.0.0.1' }, loFacts), 'vip-is-localhost');
  refused(
    () => checkVirtualIp({ ...lo, driver: 'iproute2' }, loFacts),
    'vip-loopback-address',
    /loopback driver/,
  );
  // The loopback driver does not need the NIC to exist (a demo names whatever it likes), only the role.
  const named: NetworkFacts = { nics: [], roles: [role('lo', 'data')] };
  assert.equal(checkVirtualIp(lo, named).address, '127.0.0.100');
});

test('roles: one data NIC, several aux, none clears; the NIC must exist unless cleared', () => {
  assert.equal(checkRoleChange('data0', 'data', FACTS), 'data');
  assert.equal(checkRoleChange('spare0', 'aux', FACTS), 'aux');
  assert.equal(checkRoleChange('aux0', 'none', FACTS), null);
  refused(
    () => checkRoleChange('spare0', 'data', FACTS),
    'data-nic-exists',
    /data0 already has the data role/,
  );
  refused(() => checkRoleChange('nosuch0', 'aux', FACTS), 'nic-not-found');
  assert.equal(checkRoleChange('nosuch0', 'none', FACTS), null);
  refused(() => checkRoleChange('data0', 'backup' as never, FACTS), 'invalid-role');
  refused(() => checkRoleChange('a/b', 'aux', FACTS), 'invalid-nic-name');
});

test('roles: the NIC carrying the virtual IP keeps its data role while the virtual IP is configured', () => {
  const withVip: NetworkFacts = { ...FACTS, virtualIp: { address: '198.18.0.100', nic: 'data0' } };
  refused(() => checkRoleChange('data0', 'aux', withVip), 'nic-carries-vip', /198\.18\.0\.100/);
  refused(() => checkRoleChange('data0', 'none', withVip), 'nic-carries-vip');
  assert.equal(checkRoleChange('data0', 'data', withVip), 'data');
  assert.equal(checkRoleChange('aux0', 'none', withVip), null);
});

test('NIC names: Linux rules, and nothing that reads as an option', () => {
  for (const good of ['eth0', 'enp3s0f1', 'br-data', 'veth1@if2', 'a.b', 'x'.repeat(15)])
    assert.equal(validateNicName(good), good);
  for (const bad of ['', '-i', 'a b', 'a/b', 'eth0:1', '.', '..', 'x'.repeat(16)])
    refused(() => validateNicName(bad), 'invalid-nic-name');
});
