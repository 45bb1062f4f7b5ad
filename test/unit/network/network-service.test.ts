// The network service over a real store: roles, the virtual IP, and the rule that nothing about the
// virtual IP changes while this node holds it (checked through the real loopback driver).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createRepositories, type Repositories } from '../../../src/config/repositories/index.js';
import { openStore } from '../../../src/config/store.js';
import { isTandemError } from '../../../src/lib/errors.js';
import type { Nic } from '../../../src/network/ip-addr-parser.js';
import { NetworkService, type NetworkChange } from '../../../src/network/network-service.js';
import { tempDir } from '../../helpers/temp-dir.js';

function nic(name: string, addresses: [string, number][], loopback = false): Nic {
  return {
    name,
    index: 1,
    state: 'up',
    adminUp: true,
    carrier: true,
    mac: loopback ? null : '02:00:00:00:00:02',
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

// The NICs this "node" has: a fixed list stands in for `ip -j addr show` (parsed elsewhere).
const NICS = [
  nic('lo', [['127.0.0.1', 8]], true),
  nic('data0', [['198.18.0.1', 24]]),
  nic('aux0', [['198.18.1.1', 24]]),
];

function setup(t: TestContext): { repos: Repositories; service: NetworkService; changes: NetworkChange[] } {
  const db = openStore(join(tempDir(t), 'tandem.db'));
  t.after(() => db.close());
  const repos = createRepositories(db);
  const service = new NetworkService(repos.network, {
    iscsiPort: 3260,
    listNics: () => Promise.resolve(NICS),
  });
  const changes: NetworkChange[] = [];
  service.onChange((c) => changes.push(c));
  return { repos, service, changes };
}

const code = (c: string) => (error: unknown) => isTandemError(error) && error.code === c;

test('overview: every NIC with its role; a role on a NIC that is gone shows as not present', async (t) => {
  const { repos, service } = setup(t);
  repos.network.setRole('eth9', 'aux');
  await service.setRole('data0', 'data');
  const view = await service.overview();
  assert.deepEqual(
    view.nics.map((n) => [n.name, n.role, n.present]),
    [
      ['lo', 'none', true],
      ['data0', 'data', true],
      ['aux0', 'none', true],
      ['eth9', 'aux', false],
    ],
  );
  assert.equal(view.virtualIp, null);
  assert.equal(service.dataNic(), 'data0');
  assert.deepEqual(service.auxNics(), ['eth9']);
});

test('roles: set, change, clear; refusals change nothing', async (t) => {
  const { repos, service, changes } = setup(t);
  assert.equal((await service.setRole('data0', 'data')).role, 'data');
  assert.equal((await service.setRole('aux0', 'aux')).role, 'aux');
  await assert.rejects(service.setRole('aux0', 'data'), code('data-nic-exists'));
  await assert.rejects(service.setRole('nosuch0', 'aux'), code('nic-not-found'));
  assert.deepEqual(
    repos.network.roles().map((r) => [r.nic, r.role]),
    [
      ['aux0', 'aux'],
      ['data0', 'data'],
    ],
  );
  assert.equal((await service.setRole('aux0', 'none')).role, 'none');
  assert.deepEqual(
    repos.network.roles().map((r) => r.nic),
    ['data0'],
  );
  assert.equal(changes.length, 3);
});

test('virtual IP: stored complete, shown with netmask and held=false; a bad one changes nothing', async (t) => {
  const { repos, service, changes } = setup(t);
  await service.setRole('data0', 'data');
  await assert.rejects(
    service.setVirtualIp({ address: '198.18.0.100', prefixLength: 24, nic: 'aux0', driver: 'iproute2' }),
    code('nic-not-data'),
  );
  assert.equal(repos.network.virtualIp(), undefined);

  const view = await service.setVirtualIp({
    address: '198.18.0.100',
    prefixLength: 24,
    nic: 'data0',
    driver: 'iproute2',
  });
  assert.equal(view.broadcast, '198.18.0.255');
  assert.equal(view.netmask, '255.255.255.0');
  // The host running this test has no data0: the iproute2 driver finds nothing held there.
  assert.equal(view.held, false);
  assert.deepEqual(service.virtualIp(), {
    address: '198.18.0.100',
    prefixLength: 24,
    broadcast: '198.18.0.255',
    nic: 'data0',
    port: 3260,
  });
  assert.equal(service.virtualIpWithDriver()?.driver.kind, 'iproute2');

  await assert.rejects(
    service.setVirtualIp({ address: '198.18.0.0', prefixLength: 24, nic: 'data0', driver: 'iproute2' }),
    code('vip-is-network-address'),
  );
  assert.equal(repos.network.virtualIp()?.address, '198.18.0.100');
  // Its NIC keeps the data role while it is configured.
  await assert.rejects(service.setRole('data0', 'none'), code('nic-carries-vip'));

  await service.clearVirtualIp();
  assert.equal(repos.network.virtualIp(), undefined);
  await assert.rejects(service.clearVirtualIp(), code('no-virtual-ip'));
  assert.equal((await service.setRole('data0', 'none')).role, 'none');
  assert.deepEqual(
    changes.map((c) => c.kind),
    ['role', 'virtual-ip', 'virtual-ip', 'role'],
  );
});

test('virtual IP: neither changed nor cleared while this node holds it (loopback driver)', async (t) => {
  const { service } = setup(t);
  await service.setRole('lo', 'data');
  await service.setVirtualIp({ address: '127.0.0.77', prefixLength: 8, nic: 'lo', driver: 'loopback' });
  const configured = service.virtualIpWithDriver();
  assert.ok(configured);
  // What the failover executor does on takeover, with the service's own driver instance.
  await configured.driver.acquire(configured.vip);
  assert.equal((await service.overview()).virtualIp?.held, true);
  await assert.rejects(service.clearVirtualIp(), code('vip-held'));
  await assert.rejects(
    service.setVirtualIp({ address: '127.0.0.78', prefixLength: 8, nic: 'lo', driver: 'loopback' }),
    code('vip-held'),
  );
  assert.equal(service.virtualIp()?.address, '127.0.0.77');

  await configured.driver.release(configured.vip);
  assert.equal((await service.virtualIpView())?.held, false);
  await service.setVirtualIp({ address: '127.0.0.78', prefixLength: 8, nic: 'lo', driver: 'loopback' });
  await service.clearVirtualIp();
});
