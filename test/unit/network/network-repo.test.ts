// The network tables of migration 6 through the repository: roles, the one-data-NIC rule in the
// store itself, and the single virtual IP row.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { NetworkRepo } from '../../../src/config/repositories/network-repo.js';
import { openStore } from '../../../src/config/store.js';
import { isTandemError } from '../../../src/lib/errors.js';
import { tempDir } from '../../helpers/temp-dir.js';

const NOW = new Date('2026-11-26T12:00:00.000Z');

function repo(t: TestContext): NetworkRepo {
  const db = openStore(join(tempDir(t), 'tandem.db'));
  t.after(() => db.close());
  return new NetworkRepo(db, () => NOW);
}

test('roles: set, change, clear; a second data NIC is refused by the store', (t) => {
  const network = repo(t);
  assert.deepEqual(network.roles(), []);
  network.setRole('data0', 'data');
  network.setRole('aux0', 'aux');
  network.setRole('aux1', 'aux');
  assert.throws(
    () => network.setRole('aux1', 'data'),
    (error: unknown) => isTandemError(error) && error.code === 'data-nic-exists',
  );
  assert.equal(network.role('aux1'), 'aux');
  network.setRole('data0', 'aux');
  network.setRole('aux1', 'data');
  assert.deepEqual(
    network.roles().map((r) => [r.nic, r.role, r.updatedAt]),
    [
      ['aux0', 'aux', NOW.toISOString()],
      ['aux1', 'data', NOW.toISOString()],
      ['data0', 'aux', NOW.toISOString()],
    ],
  );
  network.setRole('aux0', null);
  assert.equal(network.role('aux0'), undefined);
});

test('virtual IP: one row, replaced by the next set, gone after delete', (t) => {
  const network = repo(t);
  assert.equal(network.virtualIp(), undefined);
  const first = {
    address: '198.18.0.100',
    prefixLength: 24,
    broadcast: '198.18.0.255',
    nic: 'data0',
    driver: 'iproute2',
  } as const;
  network.setVirtualIp(first);
  assert.deepEqual(network.virtualIp(), { ...first, updatedAt: NOW.toISOString() });
  network.setVirtualIp({
    ...first,
    address: '127.0.0.100',
    prefixLength: 8,
    broadcast: '127.255.255.255',
    driver: 'loopback',
  });
  assert.equal(network.virtualIp()?.driver, 'loopback');
  assert.equal(network.deleteVirtualIp(), true);
  assert.equal(network.deleteVirtualIp(), false);
  assert.equal(network.virtualIp(), undefined);
});

test('the store refuses what the service would never write (last line of defence)', (t) => {
  const network = repo(t);
  const vip = {
    address: '198.18.0.100',
    prefixLength: 40,
    broadcast: '198.18.0.255',
    nic: 'data0',
    driver: 'iproute2',
  } as const;
  assert.throws(() => network.setVirtualIp(vip), /CHECK constraint/);
  assert.throws(
    () => network.setVirtualIp({ ...vip, prefixLength: 24, driver: 'vrrp' as never }),
    /CHECK constraint/,
  );
  assert.throws(() => network.setRole('x0', 'backup' as never), /CHECK constraint/);
});
