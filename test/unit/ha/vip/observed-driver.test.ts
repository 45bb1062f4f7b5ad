// The observed driver tells its observer (the watchdog) before an acquire and after a release, and
// not after a release that failed (the address may still be bound).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { observeVipDriver, type VipObserver } from '../../../../src/ha/vip/observed-driver.js';
import type { VirtualIp, VirtualIpDriver } from '../../../../src/ha/vip/types.js';

const VIP: VirtualIp = { address: '198.18.0.100', prefixLength: 24, broadcast: '198.18.0.255', nic: 'data0' };

function setup(fail: { acquire?: boolean; release?: boolean } = {}): {
  calls: string[];
  driver: VirtualIpDriver;
} {
  const calls: string[] = [];
  const inner: VirtualIpDriver = {
    kind: 'iproute2',
    inUse: () => Promise.resolve(false),
    held: () => Promise.resolve(calls.includes('acquire')),
    acquire: () => {
      calls.push('acquire');
      return fail.acquire === true ? Promise.reject(new Error('acquire failed')) : Promise.resolve();
    },
    release: () => {
      calls.push('release');
      return fail.release === true ? Promise.reject(new Error('release failed')) : Promise.resolve();
    },
  };
  const observer: VipObserver = {
    willHold: (vip, kind) => {
      calls.push(`willHold ${vip.address} ${kind}`);
      return Promise.resolve();
    },
    released: (vip, kind) => {
      calls.push(`released ${vip.address} ${kind}`);
      return Promise.resolve();
    },
  };
  return { calls, driver: observeVipDriver(inner, observer) };
}

describe('observed virtual IP driver', () => {
  it('tells before the address can appear and after it is gone', async () => {
    const { calls, driver } = setup();
    assert.equal(driver.kind, 'iproute2');
    await driver.acquire(VIP);
    assert.equal(await driver.held(VIP), true);
    await driver.release(VIP);
    assert.deepEqual(calls, [
      'willHold 198.18.0.100 iproute2',
      'acquire',
      'release',
      'released 198.18.0.100 iproute2',
    ]);
  });

  it('a failed release is not reported as released; a failed acquire leaves the record', async () => {
    const { calls, driver } = setup({ acquire: true, release: true });
    await assert.rejects(driver.acquire(VIP), /acquire failed/);
    await assert.rejects(driver.release(VIP), /release failed/);
    assert.deepEqual(calls, ['willHold 198.18.0.100 iproute2', 'acquire', 'release']);
  });
});
