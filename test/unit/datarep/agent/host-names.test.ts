import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileAllowedHosts } from '../../../../src/datarep/agent/allowed-hosts.js';
import { HostNameCheck, type HostResolver } from '../../../../src/datarep/agent/host-names.js';

function fakeResolver(ptr: Record<string, string>, a: Record<string, string[]>) {
  const calls: string[] = [];
  const resolver: HostResolver = {
    reverse(address) {
      calls.push(`reverse ${address}`);
      const name = ptr[address];
      return name === undefined ? Promise.reject(new Error('ENOTFOUND')) : Promise.resolve([name]);
    },
    forward(name) {
      calls.push(`forward ${name}`);
      const addresses = a[name];
      return addresses === undefined ? Promise.reject(new Error('ENOTFOUND')) : Promise.resolve(addresses);
    },
  };
  return { resolver, calls };
}

test('a reverse name counts only when it resolves back to the client', async () => {
  const { resolver } = fakeResolver(
    {
      '192.0.2.7': 'backup.example.com',
      '192.0.2.8': 'spoofed.example.com',
      '192.0.2.9': 'backup.example.com',
    },
    { 'backup.example.com': ['192.0.2.7', '192.0.2.10'], 'spoofed.example.com': ['203.0.113.1'] },
  );
  const check = new HostNameCheck({ resolver });
  const hosts = compileAllowedHosts(['*.example.com']);
  assert.deepEqual(await check.check(hosts, '192.0.2.7'), { allowed: true, name: 'backup.example.com' });
  assert.deepEqual(await check.check(hosts, '192.0.2.8'), { allowed: false, name: null });
  // A PTR record naming someone else's host does not make the client that host.
  assert.deepEqual(await check.check(hosts, '192.0.2.9'), { allowed: false, name: null });
  assert.deepEqual(await check.check(hosts, '203.0.113.50'), { allowed: false, name: null });
});

test('a plain host name entry allows the addresses it resolves to', async () => {
  const { resolver } = fakeResolver({}, { 'backup.lan': ['198.51.100.4'] });
  const check = new HostNameCheck({ resolver });
  const hosts = compileAllowedHosts(['backup.lan']);
  assert.equal(((await check.check(hosts, '198.51.100.4')) as { allowed: boolean }).allowed, true);
  assert.equal(((await check.check(hosts, '198.51.100.5')) as { allowed: boolean }).allowed, false);
});

test('answers are cached for a while, and forgotten on reset', async () => {
  let now = 0;
  const { resolver, calls } = fakeResolver(
    { '192.0.2.7': 'a.example.com' },
    { 'a.example.com': ['192.0.2.7'] },
  );
  const check = new HostNameCheck({ resolver, cacheMs: 1000, now: () => now });
  const hosts = compileAllowedHosts(['*.example.com']);
  await check.check(hosts, '192.0.2.7');
  await check.check(hosts, '192.0.2.7');
  assert.equal(calls.length, 2);
  now = 1500;
  await check.check(hosts, '192.0.2.7');
  assert.equal(calls.length, 4);
  check.reset();
  await check.check(hosts, '192.0.2.7');
  assert.equal(calls.length, 6);
});

test('a lookup that hangs counts as failed after the time limit; too many at once are refused', async () => {
  const hang: HostResolver = {
    reverse: () => new Promise(() => undefined),
    forward: () => new Promise(() => undefined),
  };
  const check = new HostNameCheck({ resolver: hang, timeoutMs: 50, concurrency: 1, maxQueued: 1 });
  const hosts = compileAllowedHosts(['*.example.com']);
  const started = Date.now();
  const first = check.check(hosts, '192.0.2.1');
  const second = check.check(hosts, '192.0.2.2');
  assert.equal(await check.check(hosts, '192.0.2.3'), 'busy');
  assert.deepEqual(await first, { allowed: false, name: null });
  assert.ok(Date.now() - started >= 45);
  // The hung lookup still holds its place (the resolver never returned), so the second waits for good;
  // new checks stay refused rather than piling up behind it.
  assert.equal(await check.check(hosts, '192.0.2.4'), 'busy');
  void second;
});
