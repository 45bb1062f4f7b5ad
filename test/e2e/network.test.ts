// Network setup through the real daemon: the REST API and the CLI. First on this machine (NIC
// listing, every refusal, the loopback driver), then inside a lab namespace where the daemon sees
// data0/aux0 and reports the virtual IP as held once the iproute2 driver has taken it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Iproute2VipDriver } from '../../src/ha/vip/iproute2-driver.js';
import type { NetworkView, NicView, VirtualIpView } from '../../src/network/network-service.js';
import { api, cliJson, runCli, startDaemon } from '../helpers/daemon.js';
import { apiOverSocket, createLab } from '../helpers/netns-lab.js';
import { tempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'network-test-password';

const errorCode = (body: unknown): string | undefined => (body as { error?: { code?: string } }).error?.code;

describe('network setup', () => {
  it('lists NICs, sets roles and a loopback virtual IP, and refuses bad input without changing anything', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const daemon = await startDaemon(t, dataDir, { env: { TANDEM_ADMIN_PASSWORD: PASSWORD } });
    const call = (method: string, path: string, body?: unknown) =>
      api(daemon.apiUrl, method, path, { password: PASSWORD, ...(body === undefined ? {} : { body }) });
    const d = ['--data', dataDir];

    const first = await call('GET', '/api/v1/network');
    assert.equal(first.status, 200);
    const view = first.body as NetworkView;
    const lo = view.nics.find((n) => n.name === 'lo');
    assert.ok(lo, 'loopback is listed');
    assert.equal(lo.loopback, true);
    assert.ok(lo.addresses.some((a) => a.address === '127.0.0.1' && a.prefixLength === 8));
    assert.equal(view.virtualIp, null);

    // Roles through the CLI.
    const role = await cliJson<NicView>([...d, 'network', 'role', 'lo', 'data']);
    assert.equal(role.role, 'data');
    const shownLo = await cliJson<NicView>([...d, 'network', 'show', 'lo']);
    assert.deepEqual([shownLo.name, shownLo.role, shownLo.loopback], ['lo', 'data', true]);
    const table = await runCli([...d, 'network', 'show', 'lo']);
    assert.match(table.stdout, /lo \(loopback\)\s+│\s+data/);
    const missing = await runCli([...d, 'network', 'role', 'nosuch0', 'aux']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no NIC named nosuch0/);
    const badRole = await runCli([...d, 'network', 'role', 'lo', 'backup']);
    assert.equal(badRole.code, 2);

    // Every kind of bad virtual IP, over the API: 400/404/409 with a code, nothing stored.
    const bad: [Record<string, unknown>, number, string][] = [
      [{ address: '127.0.0.300', prefixLength: 8, nic: 'lo', driver: 'loopback' }, 400, 'invalid-address'],
      [{ address: 'fd00::1', prefixLength: 24, nic: 'lo', driver: 'loopback' }, 400, 'ipv6-not-supported'],
      [{ address: '127.0.0.100', prefixLength: 33, nic: 'lo', driver: 'loopback' }, 400, 'bad-request'],
      [
        { address: '127.0.0.100', prefixLength: 8, broadcast: '127.0.0.255', nic: 'lo', driver: 'loopback' },
        400,
        'broadcast-mismatch',
      ],
      [{ address: '127.0.0.1', prefixLength: 8, nic: 'lo', driver: 'loopback' }, 400, 'vip-is-localhost'],
      [
        { address: '127.255.255.255', prefixLength: 8, nic: 'lo', driver: 'loopback' },
        400,
        'vip-is-broadcast-address',
      ],
      [{ address: '192.0.2.100', prefixLength: 24, nic: 'lo', driver: 'loopback' }, 400, 'vip-not-loopback'],
      [
        { address: '127.0.0.100', prefixLength: 8, nic: 'lo', driver: 'iproute2' },
        400,
        'vip-loopback-address',
      ],
      [{ address: '127.0.0.100', prefixLength: 8, nic: 'eth9', driver: 'loopback' }, 400, 'nic-not-data'],
      [
        { address: '127.0.0.100', prefixLength: 8, nic: 'lo', driver: 'loopback', extra: 1 },
        400,
        'bad-request',
      ],
      [{ address: '127.0.0.100', prefixLength: 8, nic: 'lo', driver: 'vrrp' }, 400, 'bad-request'],
    ];
    for (const [body, status, code] of bad) {
      const answer = await call('PUT', '/api/v1/network/virtual-ip', body);
      assert.equal(answer.status, status, JSON.stringify(body));
      assert.equal(errorCode(answer.body), code, JSON.stringify(answer.body));
    }
    assert.equal((await call('GET', '/api/v1/network/virtual-ip')).body, null);

    // A good one through the CLI (ADDRESS/PREFIX form), shown by the API, held by nobody.
    const vip = await cliJson<VirtualIpView>([
      ...d,
      'network',
      'vip',
      'set',
      '127.0.0.100/8',
      '--nic',
      'lo',
      '--driver',
      'loopback',
    ]);
    assert.deepEqual(
      [vip.address, vip.prefixLength, vip.netmask, vip.broadcast, vip.nic, vip.driver, vip.held],
      ['127.0.0.100', 8, '255.0.0.0', '127.255.255.255', 'lo', 'loopback', false],
    );
    const shown = await cliJson<NetworkView>([...d, 'network', 'list']);
    assert.equal(shown.virtualIp?.address, '127.0.0.100');
    assert.equal(shown.nics.find((n) => n.name === 'lo')?.role, 'data');
    // The table form names the virtual IP too.
    const listTable = await runCli([...d, 'network', 'list']);
    assert.equal(listTable.code, 0);
    assert.match(listTable.stdout, /127\.0\.0\.100\/8/);

    // The NIC carrying it keeps its data role.
    const demote = await call('PUT', '/api/v1/network/nics/lo', { role: 'aux' });
    assert.equal(demote.status, 409);
    assert.equal(errorCode(demote.body), 'nic-carries-vip');

    // CLI usage errors: exit 2, before the daemon is asked.
    for (const args of [
      ['network', 'vip', 'set', '127.0.0.101', '--nic', 'lo', '--driver', 'loopback'],
      ['network', 'vip', 'set', '127.0.0.101/8', '--nic', 'lo', '--netmask', '255.0.255.0'],
      ['network', 'vip', 'set', '127.0.0.101/8', '--nic', 'lo', '--prefix', '16'],
      ['network', 'vip', 'set', '127.0.0.101/40', '--nic', 'lo'],
    ]) {
      const result = await runCli([...d, ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    }
    assert.equal((await cliJson<VirtualIpView>([...d, 'network', 'vip', 'show'])).address, '127.0.0.100');

    const cleared = await runCli([...d, 'network', 'vip', 'clear']);
    assert.equal(cleared.code, 0, cleared.stderr);
    const again = await runCli([...d, 'network', 'vip', 'clear']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no virtual IP is configured/);
    assert.equal((await call('PUT', '/api/v1/network/nics/lo', { role: 'none' })).status, 200);
  });

  it('in a lab namespace: the daemon sees data0 and aux0, and reports the virtual IP held once taken', async (t) => {
    const lab = await createLab(t, { verify: false });
    const dataDir = join(tempDir(t), 'a');
    await startDaemon(t, dataDir, { netns: lab.ns.a, env: { TANDEM_ADMIN_PASSWORD: PASSWORD } });
    const call = (method: string, path: string, body?: unknown) => apiOverSocket(dataDir, method, path, body);
    const d = ['--data', dataDir];

    const listed = (await call('GET', '/api/v1/network')).body as NetworkView;
    assert.deepEqual(
      listed.nics.map((n) => [
        n.name,
        n.loopback,
        n.addresses.filter((a) => a.family === 'inet').map((a) => a.address),
      ]),
      [
        ['lo', true, ['127.0.0.1']],
        ['data0', false, ['198.18.0.1']],
        ['aux0', false, ['198.18.1.1']],
      ],
    );
    assert.equal(listed.nics.find((n) => n.name === 'data0')?.mac, await lab.mac('a'));

    await cliJson([...d, 'network', 'role', 'data0', 'data']);
    await cliJson([...d, 'network', 'role', 'aux0', 'aux']);
    const twoData = await runCli([...d, 'network', 'role', 'aux0', 'data']);
    assert.equal(twoData.code, 1);
    assert.match(twoData.stderr, /data0 already has the data role/);

    // Refusals that need the lab's NICs: another subnet, the node's own address.
    for (const [address, code] of [
      ['198.18.1.100', 'vip-outside-subnet'],
      ['198.18.0.1', 'vip-is-node-address'],
    ] as const) {
      const answer = await call('PUT', '/api/v1/network/virtual-ip', {
        address,
        prefixLength: 24,
        nic: 'data0',
        driver: 'iproute2',
      });
      assert.equal(errorCode(answer.body), code);
    }

    const vip = await cliJson<VirtualIpView>([
      ...d,
      'network',
      'vip',
      'set',
      lab.addr.data.vip,
      '--netmask',
      '255.255.255.0',
      '--nic',
      'data0',
    ]);
    assert.deepEqual(
      [vip.address, vip.prefixLength, vip.broadcast, vip.driver, vip.held],
      [lab.addr.data.vip, 24, '198.18.0.255', 'iproute2', false],
    );

    // What the failover executor will do on node a: take the address with the iproute2 driver.
    const driver = new Iproute2VipDriver({ run: lab.runner('a') });
    await driver.acquire({
      address: vip.address,
      prefixLength: vip.prefixLength,
      broadcast: vip.broadcast,
      nic: vip.nic,
    });
    assert.equal(await lab.reaches('client', vip.address), true);
    const held = (await call('GET', '/api/v1/network/virtual-ip')).body as VirtualIpView;
    assert.equal(held.held, true);
    const clearHeld = await call('DELETE', '/api/v1/network/virtual-ip');
    assert.equal(clearHeld.status, 409);
    assert.equal(errorCode(clearHeld.body), 'vip-held');
    const moveHeld = await call('PUT', '/api/v1/network/virtual-ip', {
      address: '198.18.0.101',
      prefixLength: 24,
      nic: 'data0',
      driver: 'iproute2',
    });
    assert.equal(errorCode(moveHeld.body), 'vip-held');

    await driver.release({
      address: vip.address,
      prefixLength: vip.prefixLength,
      broadcast: vip.broadcast,
      nic: vip.nic,
    });
    assert.equal(((await call('GET', '/api/v1/network/virtual-ip')).body as VirtualIpView).held, false);
    assert.equal((await call('DELETE', '/api/v1/network/virtual-ip')).status, 204);
  });
});
