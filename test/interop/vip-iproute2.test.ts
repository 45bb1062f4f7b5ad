// The iproute2 virtual IP driver on real NICs, in the namespace lab: duplicate-address detection with
// arping, the address moving between the nodes, and the client learning the new MAC from the
// gratuitous ARP alone (no ping from the client in between).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Iproute2VipDriver } from '../../src/ha/vip/iproute2-driver.js';
import type { VirtualIp } from '../../src/ha/vip/types.js';
import { isTandemError } from '../../src/lib/errors.js';
import { createLab } from '../helpers/netns-lab.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('iproute2 VIP driver: acquire, detect, refuse, move to the other node with gratuitous ARP, release', async (t) => {
  const lab = await createLab(t);
  const vip: VirtualIp = {
    address: lab.addr.data.vip,
    prefixLength: lab.addr.data.prefixLength,
    broadcast: lab.addr.data.broadcast,
    nic: lab.nic.data,
  };
  const onA = new Iproute2VipDriver({ run: lab.runner('a') });
  const onB = new Iproute2VipDriver({ run: lab.runner('b') });
  const macA = await lab.mac('a');
  const macB = await lab.mac('b');
  assert.notEqual(macA, macB);

  // Nobody has it.
  assert.equal(await onA.held(vip), false);
  assert.equal(await onB.held(vip), false);
  assert.equal(await onA.inUse(vip), false);

  // b takes it; the client reaches it at b's MAC.
  await onB.acquire(vip);
  assert.equal(await onB.held(vip), true);
  const onNic = JSON.parse(await lab.execOk('b', ['ip', '-j', 'addr', 'show', 'dev', lab.nic.data])) as {
    addr_info: { local: string; prefixlen: number; broadcast?: string }[];
  }[];
  assert.deepEqual(
    onNic[0]?.addr_info.filter((a) => a.local === vip.address).map((a) => [a.prefixlen, a.broadcast]),
    [[24, '198.18.0.255']],
  );
  assert.equal(await lab.reaches('client', vip.address), true);
  assert.equal((await lab.neighbour('client', vip.address))?.mac, macB);

  // Acquire again is a no-op.
  await onB.acquire(vip);
  assert.equal(await onB.held(vip), true);

  // a sees it in use, and its acquire is refused without changing anything.
  assert.equal(await onA.inUse(vip), true);
  await assert.rejects(
    onA.acquire(vip),
    (error: unknown) => isTandemError(error) && error.kind === 'conflict' && error.code === 'vip-in-use',
  );
  assert.equal(await onA.held(vip), false);
  assert.equal(await onB.held(vip), true);

  // b lets go (twice: idempotent); the address is free again.
  await onB.release(vip);
  await onB.release(vip);
  assert.equal(await onB.held(vip), false);
  assert.equal(await onA.inUse(vip), false);
  // The client still believes b has it: only an announcement will tell it otherwise.
  assert.equal((await lab.neighbour('client', vip.address))?.mac, macB);

  // a takes it; the client's neighbour table shows a's MAC without the client sending anything.
  await onA.acquire(vip);
  let learned: string | undefined;
  for (let i = 0; i < 20 && learned !== macA; i++) {
    learned = (await lab.neighbour('client', vip.address))?.mac;
    if (learned !== macA) await sleep(50);
  }
  assert.equal(learned, macA, 'the client learned the new MAC from the gratuitous ARP');
  assert.equal(await lab.reaches('client', vip.address), true);
  assert.equal(await onB.inUse(vip), true);
  await assert.rejects(onB.acquire(vip), /another host answers/);

  await onA.release(vip);
  assert.equal(await onA.held(vip), false);
  assert.equal(await onB.inUse(vip), false);
  assert.equal(await lab.ping('client', vip.address), false);
});

test('iproute2 VIP driver: a missing NIC is a clear error; held() and release() on it are quiet', async (t) => {
  const lab = await createLab(t, { verify: false });
  const driver = new Iproute2VipDriver({ run: lab.runner('a') });
  const vip: VirtualIp = {
    address: lab.addr.data.vip,
    prefixLength: 24,
    broadcast: lab.addr.data.broadcast,
    nic: 'nosuch0',
  };
  await assert.rejects(
    driver.inUse(vip),
    (error: unknown) => isTandemError(error) && error.code === 'vip-nic-missing',
  );
  await assert.rejects(
    driver.acquire(vip),
    (error: unknown) => isTandemError(error) && error.code === 'vip-nic-missing',
  );
  assert.equal(await driver.held(vip), false);
  await driver.release(vip);
});

test('iproute2 VIP driver: no probe (and no acquire) through a NIC without carrier; release still works', async (t) => {
  const lab = await createLab(t, { verify: false });
  const onA = new Iproute2VipDriver({ run: lab.runner('a') });
  const vip: VirtualIp = {
    address: lab.addr.data.vip,
    prefixLength: lab.addr.data.prefixLength,
    broadcast: lab.addr.data.broadcast,
    nic: lab.nic.data,
  };
  await onA.acquire(vip);
  await lab.setLink('a', 'data', 'down');
  const down = (error: unknown) =>
    isTandemError(error) && error.code === 'vip-nic-down' && /without carrier/.test(error.message);
  await assert.rejects(onA.inUse(vip), down);
  // Held already: acquire stays a no-op (no probe needed).
  await onA.acquire(vip);
  await onA.release(vip);
  assert.equal(await onA.held(vip), false);
  await assert.rejects(onA.acquire(vip), down);
  assert.equal(await onA.held(vip), false);
  await lab.setLink('a', 'data', 'down', { side: 'node' });
  await assert.rejects(
    onA.inUse(vip),
    (error: unknown) =>
      isTandemError(error) && error.code === 'vip-nic-down' && / is down/.test(error.message),
  );
});

test('iproute2 VIP driver: release removes the address even when it was added with another prefix', async (t) => {
  const lab = await createLab(t, { verify: false });
  const driver = new Iproute2VipDriver({ run: lab.runner('a') });
  const vip: VirtualIp = {
    address: lab.addr.data.vip,
    prefixLength: 24,
    broadcast: lab.addr.data.broadcast,
    nic: lab.nic.data,
  };
  await lab.execOk('a', ['ip', 'addr', 'add', `${vip.address}/32`, 'dev', lab.nic.data]);
  assert.equal(await driver.held(vip), true);
  await driver.release(vip);
  assert.equal(await driver.held(vip), false);
});
