// The loopback virtual IP driver against a real TCP listener on a 127.0.0.x address.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { LoopbackVipDriver, listenerAt } from '../../../../src/ha/vip/loopback-driver.js';
import type { VirtualIp } from '../../../../src/ha/vip/types.js';
import { isTandemError } from '../../../../src/lib/errors.js';
import { freePort } from '../../../../src/lib/free-port.js';

async function listen(
  t: { after(fn: () => Promise<void>): void },
  host: string,
): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

const vipAt = (address: string, port: number): VirtualIp => ({
  address,
  prefixLength: 8,
  broadcast: '127.255.255.255',
  nic: 'lo',
  port,
});

test('loopback driver: a listener on address:port means the address is in use, and acquire is refused', async (t) => {
  const address = '127.0.0.42';
  const { port } = await listen(t, address);
  const driver = new LoopbackVipDriver();
  const vip = vipAt(address, port);
  assert.equal(await driver.inUse(vip), true);
  await assert.rejects(
    driver.acquire(vip),
    (error: unknown) => isTandemError(error) && error.kind === 'conflict' && error.code === 'vip-in-use',
  );
  assert.equal(await driver.held(vip), false);
  // The same port on another 127/8 address is someone else's business.
  assert.equal(await driver.inUse(vipAt('127.0.0.43', port)), false);
});

test('loopback driver: acquire records the holding, is idempotent, and release frees it', async (t) => {
  const address = '127.0.0.44';
  const port = await freePort(address);
  const driver = new LoopbackVipDriver();
  const vip = vipAt(address, port);
  assert.equal(await driver.inUse(vip), false);
  await driver.acquire(vip);
  assert.equal(await driver.held(vip), true);
  // Once we serve the portal on it, our own listener answers; acquire stays a no-op for the holder.
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, address, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  assert.equal(await driver.inUse(vip), true);
  await driver.acquire(vip);
  // A second node (another driver instance) is refused.
  const other = new LoopbackVipDriver();
  await assert.rejects(other.acquire(vip), /already serves/);
  assert.equal(await other.held(vip), false);

  await driver.release(vip);
  await driver.release(vip);
  assert.equal(await driver.held(vip), false);
});

test('loopback driver: refuses addresses outside 127/8, 127.0.0.1 itself, and a missing port', async () => {
  const driver = new LoopbackVipDriver();
  for (const address of ['198.18.0.100', '127.0.0.1', '128.0.0.1']) {
    await assert.rejects(
      driver.acquire(vipAt(address, 3260)),
      (error: unknown) => isTandemError(error) && error.code === 'vip-not-loopback',
    );
  }
  const noPort: VirtualIp = {
    address: '127.0.0.45',
    prefixLength: 8,
    broadcast: '127.255.255.255',
    nic: 'lo',
  };
  await assert.rejects(
    driver.inUse(noPort),
    (error: unknown) => isTandemError(error) && error.code === 'vip-port-required',
  );
});

test('listenerAt: refused is false, accepted is true', async (t) => {
  const { port } = await listen(t, '127.0.0.46');
  assert.equal(await listenerAt('127.0.0.46', port, 500), true);
  assert.equal(await listenerAt('127.0.0.47', port, 500), false);
});
