// The namespace lab itself: links work, a cut link cuts, an address added on a node is reachable from
// the client, and teardown leaves nothing behind (also after a crash, through the sweep).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { createLab, sweepStaleLabs } from '../helpers/netns-lab.js';

const namespaces = (): string[] => (existsSync('/run/netns') ? readdirSync('/run/netns') : []);

test('the lab: both links carry traffic between the nodes; client and ping node see the data link only', async (t) => {
  const lab = await createLab(t);
  const { data, aux } = lab.addr;
  assert.equal(await lab.reaches('a', data.b), true);
  assert.equal(await lab.reaches('b', data.a), true);
  assert.equal(await lab.reaches('a', aux.b), true);
  assert.equal(await lab.reaches('b', aux.a), true);
  assert.equal(await lab.reaches('client', data.a), true);
  assert.equal(await lab.reaches('ping', data.b), true);
  // The aux network is not routed onto the data network.
  assert.equal(await lab.ping('client', aux.a), false);
  // No link to the host: the host's namespace has no address of the lab.
  const hostAddresses = spawnSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(hostAddresses, /198\.18\.[01]\./);
});

test('the lab: an address added on node a is reachable from the client; a cut data link makes it unreachable', async (t) => {
  const lab = await createLab(t);
  const { data, aux } = lab.addr;
  assert.equal(await lab.ping('client', data.vip), false);
  await lab.execOk('a', [
    'ip',
    'addr',
    'add',
    `${data.vip}/${String(data.prefixLength)}`,
    'dev',
    lab.nic.data,
  ]);
  assert.equal(await lab.reaches('client', data.vip), true);

  await lab.setLink('a', 'data', 'down');
  assert.equal(await lab.ping('client', data.vip), false);
  assert.equal(await lab.ping('b', data.a), false);
  // The node still has its NIC and address (a pulled cable), only the carrier is gone.
  const link = JSON.parse(await lab.execOk('a', ['ip', '-j', 'link', 'show', 'dev', lab.nic.data])) as {
    flags: string[];
  }[];
  assert.ok(link[0]?.flags.includes('UP'));
  assert.ok(link[0]?.flags.includes('NO-CARRIER'));
  // The other link is untouched.
  assert.equal(await lab.reaches('a', aux.b), true);

  await lab.setLink('a', 'data', 'up');
  assert.equal(await lab.reaches('client', data.vip, 10), true);

  await lab.setLink('b', 'aux', 'down', { side: 'node' });
  assert.equal(await lab.ping('a', aux.b), false);
  assert.equal(await lab.reaches('a', data.b), true);
});

test('the lab: two labs built at the same time are separate networks with the same addresses', async (t) => {
  const [one, two] = await Promise.all([createLab(t), createLab(t)]);
  assert.notEqual(one.id, two.id);
  const { data } = one.addr;
  await one.execOk('a', [
    'ip',
    'addr',
    'add',
    `${data.vip}/${String(data.prefixLength)}`,
    'dev',
    one.nic.data,
  ]);
  assert.equal(await one.reaches('client', data.vip), true);
  assert.equal(await two.ping('client', data.vip), false);
  // Each client sees its own lab's node a.
  await one.ping('client', data.a);
  await two.ping('client', data.a);
  assert.equal((await one.neighbour('client', data.a))?.mac, await one.mac('a'));
  assert.equal((await two.neighbour('client', data.a))?.mac, await two.mac('a'));
});

test('the lab: teardown kills spawned processes and removes every namespace', async (t) => {
  let ids: string[] = [];
  let sleeper: { pid?: number } = {};
  await t.test('a lab in a subtest', async (st) => {
    const lab = await createLab(st, { verify: false });
    ids = Object.values(lab.ns);
    sleeper = lab.spawn('a', ['sleep', '600'], { stdio: 'ignore' });
    for (const name of ids) assert.ok(namespaces().includes(name), `${name} exists`);
  });
  for (const name of ids) assert.ok(!namespaces().includes(name), `${name} removed`);
  assert.ok(sleeper.pid !== undefined);
  assert.throws(() => process.kill(sleeper.pid ?? 0, 0), /ESRCH/);
});

test('the lab: the sweep removes a lab whose owner process is gone, and keeps live ones', async (t) => {
  const live = await createLab(t, { verify: false });
  // A "crashed" lab: namespaces with a marker naming a pid that no longer exists.
  const stale = 'tlab-dead00';
  spawnSync('ip', ['netns', 'add', `${stale}-a`]);
  spawnSync('ip', ['netns', 'add', `${stale}-s`]);
  t.after(() => {
    spawnSync('ip', ['netns', 'del', `${stale}-a`]);
    spawnSync('ip', ['netns', 'del', `${stale}-s`]);
  });
  const gone = spawnSync('true');
  writeFileSync('/run/tandem-netns-lab/dead00', `${String(gone.pid)}\n`);

  const removed = await sweepStaleLabs();
  assert.ok(removed.includes('dead00'));
  assert.ok(!namespaces().includes(`${stale}-a`));
  assert.ok(!namespaces().includes(`${stale}-s`));
  for (const name of Object.values(live.ns)) assert.ok(namespaces().includes(name));
});
