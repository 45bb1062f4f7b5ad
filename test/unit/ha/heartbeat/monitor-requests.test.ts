// Requests and replies, clock offset, start-up errors and the worker's independence from a busy
// main thread, on two real monitors over 127.0.0.1.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { HeartbeatMonitor } from '../../../../src/ha/heartbeat/monitor.js';
import type { FlatObject, MonitorSnapshot } from '../../../../src/ha/heartbeat/types.js';
import { isTandemError } from '../../../../src/lib/errors.js';
import { SECRET, freeUdpPorts, link, monitorFor, pairPorts, waitFor } from './pair.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bothAlive = (s: MonitorSnapshot): boolean => s.links.every((l) => l.alive);

describe('heartbeat requests', () => {
  it('answers a request once even though it is retransmitted on both links', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(alpha, bothAlive, 3000, 'alive');
    const handled: FlatObject[] = [];
    beta.onRequest(async (body) => {
      handled.push(body);
      await sleep(450); // longer than several intervals: the request is retransmitted meanwhile
      return { ok: true, answer: Number(body['question']) * 2 };
    });
    const started = Date.now();
    const reply = await alpha.request({ op: 'double', question: 21 }, 3000);
    assert.deepEqual(reply, { ok: true, answer: 42 });
    assert.ok(Date.now() - started >= 400);
    assert.equal(handled.length, 1, 'retransmissions were not handled again');
    // Independent requests are each handled.
    const replies = await Promise.all([
      alpha.request({ question: 1 }, 3000),
      alpha.request({ question: 2 }, 3000),
    ]);
    assert.deepEqual(replies, [
      { ok: true, answer: 2 },
      { ok: true, answer: 4 },
    ]);
    assert.equal(handled.length, 3);
  });

  it('still gets a reply when one link is cut, and reports a handler failure as a reply', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(alpha, bothAlive, 3000, 'alive');
    beta.setLinkEnabled('data', false);
    beta.onRequest((body) => {
      if (body['fail'] === true) throw new Error('cannot do that');
      return { pong: true };
    });
    assert.deepEqual(await alpha.request({ ping: true }, 2000), { pong: true });
    assert.deepEqual(await alpha.request({ fail: true }, 2000), { error: 'cannot do that' });
  });

  it('times out to null when the peer is gone or has no handler', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(alpha, bothAlive, 3000, 'alive');
    assert.equal(await alpha.request({ anyone: true }, 400), null, 'no handler on beta');
    beta.onRequest(() => ({ here: true }));
    assert.deepEqual(await alpha.request({ anyone: true }, 2000), { here: true });
    await beta.stop();
    const started = Date.now();
    assert.equal(await alpha.request({ anyone: true }, 600), null);
    const took = Date.now() - started;
    assert.ok(took >= 550 && took < 2000, `timed out after ${took} ms`);
  });

  it('refuses bad bodies and requests on a stopped monitor', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    await assert.rejects(alpha.request({ a: 1 }, 100), /not running/);
    await alpha.start();
    assert.throws(() => alpha.setAdvert(1, { nested: { no: 1 } } as unknown as FlatObject), /not a string/);
    assert.throws(() => alpha.setAdvert(-1, {}), /term must be/);
    assert.throws(() => alpha.setAdvert(1, { big: 'x'.repeat(2000) }), /more than the 1024/);
    assert.throws(() => void alpha.request({ a: [1] } as unknown as FlatObject, 100), /not a string/);
    await alpha.stop();
    await assert.rejects(alpha.request({ a: 1 }, 100), /not running/);
  });
});

describe('heartbeat clocks and threads', () => {
  it('estimates a skewed peer clock', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports, { clockSkewMsForTest: 5000 });
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(alpha, bothAlive, 3000, 'alive');
    await sleep(800);
    for (const l of alpha.snapshot().links) {
      assert.ok(
        l.clockOffsetMs !== null && Math.abs(l.clockOffsetMs - 5000) < 50,
        `alpha sees ${l.clockOffsetMs}`,
      );
    }
    for (const l of beta.snapshot().links) {
      assert.ok(
        l.clockOffsetMs !== null && Math.abs(l.clockOffsetMs + 5000) < 50,
        `beta sees ${l.clockOffsetMs}`,
      );
    }
  });

  it('keeps beating while the main thread is busy for 3 s', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(beta, bothAlive, 3000, 'alive');
    const reports: MonitorSnapshot[] = [];
    beta.on('change', (snapshot) => reports.push(snapshot));
    const receivedBefore = link(beta.snapshot(), 'data').counters.received;
    const busyUntil = Date.now() + 3000;
    while (Date.now() < busyUntil) {
      // Spin: the main event loop is stuck, as under a saturated data path. (Both monitors' main
      // sides live on this thread; only their workers can keep the heartbeat going.)
    }
    await sleep(300); // let the queued reports arrive
    // The worker reported at least every interval during the busy time, and never saw alpha go dead.
    assert.ok(reports.length >= 15, `${reports.length} reports`);
    const dead = reports.filter((s) => !s.peer.alive || s.links.some((l) => !l.alive));
    assert.equal(dead.length, 0, `beta saw alpha dead: ${JSON.stringify(dead[0])}`);
    const received = link(beta.snapshot(), 'data').counters.received - receivedBefore;
    assert.ok(received >= 20, `${received} beats arrived in 3.3 s at a 100 ms interval`);
  });
});

describe('heartbeat thread priority', () => {
  const niceOfThreads = (): number[] =>
    readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });

  it('raises only the worker thread', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
    const [port] = await freeUdpPorts(1);
    const before = niceOfThreads().filter((nice) => nice === -7).length;
    const monitor = new HeartbeatMonitor({
      nodeName: 'alpha',
      peerName: 'beta',
      secret: SECRET,
      workerNice: -7,
      links: [
        { name: 'aux', local: { host: '127.0.0.1', port: port! }, peer: { host: '127.0.0.1', port: 9 } },
      ],
    });
    t.after(() => monitor.stop());
    await monitor.start();
    assert.equal(niceOfThreads().filter((nice) => nice === -7).length, before + 1);
    assert.equal(getPriority(), 0, 'the main thread keeps its priority');
    await monitor.stop();
    assert.equal(niceOfThreads().filter((nice) => nice === -7).length, before);
  });
});

describe('heartbeat start-up', () => {
  it('rejects a port in use with a clear error, and binds nothing', async (t) => {
    const ports = await pairPorts();
    const first = monitorFor(t, 'alpha', ports);
    await first.start();
    const second = monitorFor(t, 'alpha', {
      ...ports,
      alpha: { data: (await freeUdpPorts(1))[0]!, aux: ports.alpha.aux },
    });
    await assert.rejects(second.start(), (error: unknown) => {
      assert.ok(isTandemError(error));
      assert.equal(error.code, 'heartbeat-port-in-use');
      assert.equal(error.kind, 'conflict');
      assert.match(
        error.message,
        new RegExp(`link aux to 127\\.0\\.0\\.1:${ports.alpha.aux}: the port is already in use`),
      );
      return true;
    });
    // The data link of the failed monitor was released: a third monitor can take it.
    const third = new HeartbeatMonitor({
      nodeName: 'alpha',
      peerName: 'beta',
      secret: SECRET,
      links: [{ name: 'data', local: { host: '127.0.0.1', port: 0 }, peer: { host: '127.0.0.1', port: 9 } }],
    });
    t.after(() => third.stop());
    await third.start();
    await assert.rejects(first.start(), /already started/);
  });

  it('can be stopped while starting', async () => {
    const monitor = new HeartbeatMonitor({
      nodeName: 'alpha',
      peerName: 'beta',
      secret: SECRET,
      links: [{ name: 'data', local: { host: '127.0.0.1', port: 0 }, peer: { host: '127.0.0.1', port: 9 } }],
    });
    const refused = assert.rejects(monitor.start(), /stopped while starting/);
    await monitor.stop();
    await refused;
    await assert.rejects(monitor.request({ a: 1 }, 100), /not running/);
  });

  it('rejects an address that is not on this machine', async (t) => {
    const monitor = new HeartbeatMonitor({
      nodeName: 'alpha',
      peerName: 'beta',
      secret: SECRET,
      links: [{ name: 'data', local: { host: '203.0.113.9' }, peer: { host: '203.0.113.10' } }],
    });
    t.after(() => monitor.stop());
    await assert.rejects(monitor.start(), (error: unknown) => {
      assert.ok(isTandemError(error));
      assert.equal(error.code, 'heartbeat-address-not-local');
      assert.match(error.message, /203\.0\.113\.9:7790: the address is not configured on this machine/);
      return true;
    });
  });

  it('validates its options', () => {
    const good = {
      nodeName: 'alpha',
      peerName: 'beta',
      secret: SECRET,
      links: [{ name: 'data' as const, local: { host: '127.0.0.1' }, peer: { host: '127.0.0.1' } }],
    };
    const refused = (options: object, pattern: RegExp): void =>
      assert.throws(
        () => new HeartbeatMonitor({ ...good, ...options }),
        (error: unknown) => isTandemError(error) && error.kind === 'invalid' && pattern.test(error.message),
      );
    refused({ peerName: 'alpha' }, /different node name/);
    refused({ nodeName: '' }, /node name must be/);
    refused({ secret: Buffer.from('short') }, /at least 16 bytes/);
    refused({ links: [] }, /at least one heartbeat link/);
    refused({ links: [good.links[0], good.links[0]] }, /configured twice/);
    refused({ links: [{ ...good.links[0], name: 'mgmt' }] }, /link name must be/);
    refused({ links: [{ ...good.links[0], peer: { host: 'peer.example' } }] }, /not an IP address/);
    refused({ links: [{ ...good.links[0], peer: { host: '::1' } }] }, /mixes IPv4 and IPv6/);
    refused({ links: [{ ...good.links[0], peer: { host: '127.0.0.1', port: 0 } }] }, /not a valid UDP port/);
    refused({ intervalMs: 500, deadTimeMs: 600 }, /dead time must be at least 1000/);
    refused({ pingNodes: [{ address: 'router' }] }, /ping node "router"/);
    refused({ pingNodes: [{ address: '10.0.0.1', source: 'eth0; rm -rf /' }] }, /not an address or NIC/);
    refused({ advert: { a: {} } }, /advert field "a"/);
    refused({ workerNice: -21 }, /nice value/);
    const monitor = new HeartbeatMonitor(good);
    assert.equal(monitor.intervalMs, 500);
    assert.equal(monitor.deadTimeMs, 2500);
    const idle = monitor.snapshot();
    assert.equal(idle.links[0]?.alive, false);
    assert.equal(idle.links[0].local.port, 7790);
    assert.equal(idle.peer.alive, false);
  });
});

describe('heartbeat ping nodes', () => {
  it('pings from the worker and reports reachability', async (t) => {
    const [port] = await freeUdpPorts(1);
    const monitor = new HeartbeatMonitor({
      nodeName: 'alpha',
      peerName: 'beta',
      secret: SECRET,
      intervalMs: 100,
      deadTimeMs: 1000,
      pingIntervalMs: 200,
      pingNodes: [{ address: '127.0.0.1' }, { address: '127.0.0.1', source: 'no-such-nic0' }],
      links: [
        { name: 'aux', local: { host: '127.0.0.1', port: port! }, peer: { host: '127.0.0.1', port: 9 } },
      ],
    });
    t.after(() => monitor.stop());
    await monitor.start();
    const view = await waitFor(
      monitor,
      (s) => s.ping.reachable && s.ping.perNode[1]?.error !== null,
      5000,
      'ping results',
    );
    assert.equal(view.ping.perNode[0]?.reachable, true);
    assert.equal(view.ping.perNode[0].error, null);
    assert.equal(view.ping.perNode[1]?.reachable, false);
    assert.match(view.ping.perNode[1].error ?? '', /exit 2.*no-such-nic0/);
  });
});
