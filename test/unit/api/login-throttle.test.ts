import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_THROTTLE_POLICY,
  LoginThrottle,
  waitAfterFailure,
  type ThrottlePolicy,
} from '../../../src/api/login-throttle.js';

describe('sign-in throttle: the waits', () => {
  const policy = DEFAULT_THROTTLE_POLICY;

  it('lets the first failures go, then waits longer after each, up to the cap, then locks out', () => {
    const waits = Array.from({ length: 12 }, (_, i) => waitAfterFailure(i + 1, policy.userLockAfter, policy));
    assert.deepEqual(waits.slice(0, policy.freeFailures - 1), [0, 0]);
    const growing = waits.slice(policy.freeFailures - 1, policy.userLockAfter - 1);
    assert.deepEqual(growing, [1, 2, 4, 8, 16, 30, 30]);
    assert.equal(waits[policy.userLockAfter - 1], policy.lockSeconds);
    assert.equal(waits[11], policy.lockSeconds);
  });

  it('never shortens a wait as failures add up', () => {
    for (const lockAfter of [policy.userLockAfter, policy.addressLockAfter]) {
      let last = 0;
      for (let failures = 1; failures <= lockAfter + 5; failures++) {
        const wait = waitAfterFailure(failures, lockAfter, policy);
        assert.ok(wait >= last, `failure ${failures}: ${wait} s after ${last} s`);
        last = wait;
      }
    }
  });
});

describe('sign-in throttle: per address and per user name', () => {
  const quick: ThrottlePolicy = {
    freeFailures: 2,
    addressLockAfter: 6,
    userLockAfter: 4,
    lockSeconds: 60,
    maxDelaySeconds: 1,
    windowSeconds: 60,
  };

  it('makes an address wait after its free failures, whatever user names it tries', async () => {
    const throttle = new LoginThrottle(quick);
    await throttle.failed('10.0.0.1', 'a');
    assert.equal((await throttle.check('10.0.0.1', 'b')).waitMs, 0, 'one failure is free');
    await throttle.failed('10.0.0.1', 'b');
    const verdict = await throttle.check('10.0.0.1', 'c');
    assert.equal(verdict.reason, 'address');
    assert.ok(verdict.waitMs > 0 && verdict.waitMs <= 1000, `waits ${verdict.waitMs} ms`);
    assert.equal((await throttle.check('10.0.0.2', 'c')).waitMs, 0, 'another address is not held');
  });

  it('locks a user name out whatever address tries it, and a success clears the counters', async () => {
    const throttle = new LoginThrottle(quick);
    for (let i = 1; i <= quick.userLockAfter; i++) await throttle.failed(`10.0.1.${i}`, 'admin');
    const locked = await throttle.check('10.0.9.9', 'admin');
    assert.equal(locked.reason, 'user');
    assert.ok(locked.waitMs > 50_000, `locked for ${locked.waitMs} ms`);
    assert.equal((await throttle.check('10.0.9.9', 'other')).waitMs, 0, 'other names are not held');

    await throttle.succeeded('10.0.9.9', 'admin');
    assert.equal((await throttle.check('10.0.9.9', 'admin')).waitMs, 0);
  });

  it('lets a key try again once its wait has passed', async () => {
    const throttle = new LoginThrottle(quick);
    await throttle.failed('10.0.2.1', 'x');
    await throttle.failed('10.0.2.1', 'y');
    assert.ok((await throttle.check('10.0.2.1', 'z')).waitMs > 0);
    await sleep(1100);
    assert.equal((await throttle.check('10.0.2.1', 'z')).waitMs, 0);
  });
});
