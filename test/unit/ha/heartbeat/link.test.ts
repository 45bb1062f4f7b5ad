import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { decodeDatagram, encodeDatagram, type Datagram } from '../../../../src/ha/heartbeat/datagram.js';
import { HeartbeatLink, LinkBindError, type LogLevel } from '../../../../src/ha/heartbeat/link.js';
import { freeUdpPorts } from './pair.js';

const SECRET = Buffer.from('link-test-secret-0123456789abcdef');

interface Rig {
  link: HeartbeatLink;
  peer: Socket;
  accepted: Datagram[];
  logs: { level: LogLevel; message: string; fields: Record<string, unknown> }[];
  /** Datagrams the link sent to the fake peer. */
  inbox: Buffer[];
  sendToLink(datagram: Partial<Datagram>, secret?: Buffer): Promise<void>;
}

const base: Datagram = {
  kind: 'beat',
  link: 'aux',
  offSchedule: false,
  bootId: 'aaaaaaaaaaaaaaaa',
  term: 1,
  seq: 1,
  requestId: 0,
  sentAt: Date.now(),
  echo: null,
  sender: 'beta',
  body: { role: 'secondary' },
};

async function rig(t: TestContext): Promise<Rig> {
  let clock = Date.now();
  const [linkPort, peerPort] = await freeUdpPorts(2);
  const peer = createSocket('udp4');
  await new Promise<void>((resolve) => peer.bind(peerPort, '127.0.0.1', resolve));
  const accepted: Datagram[] = [];
  const logs: Rig['logs'] = [];
  const inbox: Buffer[] = [];
  peer.on('message', (bytes) => inbox.push(bytes));
  const link = new HeartbeatLink({
    config: {
      name: 'aux',
      local: { host: '127.0.0.1', port: linkPort! },
      peer: { host: '127.0.0.1', port: peerPort! },
    },
    secret: SECRET,
    nodeName: 'alpha',
    peerName: 'beta',
    bootId: 'bbbbbbbbbbbbbbbb',
    intervalMs: 100,
    deadTimeMs: 500,
    clock: { wallNow: () => Date.now(), monoNow: () => performance.now() },
    log: (level, message, fields) => logs.push({ level, message, fields }),
    onDatagram: (datagram) => accepted.push(datagram),
  });
  await link.bind();
  t.after(async () => {
    await link.close();
    await new Promise<void>((resolve) => peer.close(() => resolve()));
  });
  return {
    link,
    peer,
    accepted,
    logs,
    inbox,
    sendToLink: async (datagram, secret = SECRET) => {
      // Each datagram is sent later than the one before, as a real peer's would be.
      const bytes = encodeDatagram({ ...base, sentAt: (clock += 10), ...datagram }, secret);
      await new Promise<void>((resolve, reject) =>
        peer.send(bytes, linkPort, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
      );
      await settle();
    },
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));

describe('heartbeat link', () => {
  it('accepts valid datagrams and drops replays, old boots, strangers and forgeries', async (t) => {
    const r = await rig(t);
    await r.sendToLink({ seq: 10 });
    await r.sendToLink({ seq: 10 }); // replayed as-is
    await r.sendToLink({ seq: 9 });
    await r.sendToLink({ seq: 11 });
    await r.sendToLink({ bootId: 'cccccccccccccccc', seq: 1 }); // the peer restarted
    await r.sendToLink({ seq: 12 }); // a recording from the previous boot
    await r.sendToLink({ bootId: 'dddddddddddddddd', seq: 1, sentAt: 1000 }); // a recording from an unseen boot
    await r.sendToLink({ bootId: 'cccccccccccccccc', seq: 2, sender: 'mallory' });
    await r.sendToLink({ bootId: 'cccccccccccccccc', seq: 3, link: 'data' });
    await r.sendToLink({ bootId: 'bbbbbbbbbbbbbbbb', seq: 4 }); // our own boot id: a loop
    await r.sendToLink(
      { bootId: 'cccccccccccccccc', seq: 5 },
      Buffer.from('the wrong secret, same length!!!'),
    );
    await new Promise<void>((resolve) =>
      r.peer.send(Buffer.from('garbage'), r.link.localPort, '127.0.0.1', () => resolve()),
    );
    await settle();
    assert.deepEqual(
      r.accepted.map((d) => `${d.bootId.slice(0, 1)}${d.seq}`),
      ['a10', 'a11', 'c1'],
    );
    const snap = r.link.snapshot(performance.now());
    assert.equal(snap.counters.received, 3);
    assert.deepEqual(snap.counters.rejected, {
      replayed: 2,
      'old-boot': 1,
      'stale-boot': 1,
      'unknown-sender': 1,
      'wrong-link': 1,
      'own-datagram': 1,
      'bad-mac': 1,
      truncated: 1,
    });
    assert.ok(snap.alive);
    // Every refusal reason is logged once, with the source address and never the secret.
    const refusals = r.logs.filter((log) => log.message === 'heartbeat datagram refused');
    assert.equal(refusals.length, 8);
    assert.ok(
      refusals.every(
        (log) => typeof log.fields['from'] === 'string' && log.fields['from'].startsWith('127.0.0.1:'),
      ),
    );
    assert.ok(!JSON.stringify(r.logs).includes(SECRET.toString()));
  });

  it('rate-limits refusal logs per reason', async (t) => {
    const r = await rig(t);
    for (let i = 0; i < 5; i++)
      await r.sendToLink({ seq: i + 1 }, Buffer.from('wrong secret wrong secret wrong!'));
    assert.equal(r.link.snapshot(performance.now()).counters.rejected['bad-mac'], 5);
    assert.equal(r.logs.length, 1);
  });

  it('sends signed datagrams that echo the last one received', async (t) => {
    const r = await rig(t);
    await r.sendToLink({ seq: 77, sentAt: 123456 });
    r.link.send({ kind: 'beat', term: 3, body: { role: 'primary' } });
    await settle();
    const decoded = decodeDatagram(r.inbox.at(-1)!, SECRET);
    assert.ok(decoded.ok);
    assert.equal(decoded.datagram.sender, 'alpha');
    assert.equal(decoded.datagram.term, 3);
    assert.equal(decoded.datagram.link, 'aux');
    assert.equal(decoded.datagram.echo?.seq, 77);
    assert.equal(decoded.datagram.echo.sentAt, 123456);
    const held = decoded.datagram.echo.heldMs;
    assert.ok(held > 0 && held < 5000, `held ${held} ms`);
  });

  it('goes dead after the dead time and ignores traffic while disabled', async (t) => {
    const r = await rig(t);
    await r.sendToLink({ seq: 1 });
    assert.ok(r.link.isAlive(performance.now()));
    assert.ok(!r.link.isAlive(performance.now() + 600));
    r.link.enabled = false;
    await r.sendToLink({ seq: 2 });
    const before = r.inbox.length;
    r.link.send({ kind: 'beat', term: 1, body: {} });
    await settle();
    assert.equal(r.inbox.length, before, 'a disabled link does not send');
    assert.equal(r.link.snapshot(performance.now()).counters.ignoredWhileDisabled, 1);
    assert.equal(r.accepted.length, 1);
  });

  it('fails to bind with a clear error for a used port or a foreign address', async (t) => {
    const r = await rig(t);
    const clash = new HeartbeatLink({
      config: {
        name: 'data',
        local: { host: '127.0.0.1', port: r.link.localPort },
        peer: { host: '127.0.0.1', port: 9 },
      },
      secret: SECRET,
      nodeName: 'alpha',
      peerName: 'beta',
      bootId: 'bbbbbbbbbbbbbbbb',
      intervalMs: 100,
      deadTimeMs: 500,
      clock: { wallNow: () => Date.now(), monoNow: () => performance.now() },
      log: () => undefined,
      onDatagram: () => undefined,
    });
    await assert.rejects(clash.bind(), (error: unknown) => {
      assert.ok(error instanceof LinkBindError);
      assert.equal(error.code, 'EADDRINUSE');
      assert.match(error.message, /heartbeat link data to 127\.0\.0\.1:\d+: the port is already in use/);
      return true;
    });
    await clash.close();
    const foreign = new HeartbeatLink({
      config: {
        name: 'aux',
        local: { host: '203.0.113.77', port: 0 },
        peer: { host: '203.0.113.78', port: 9 },
      },
      secret: SECRET,
      nodeName: 'alpha',
      peerName: 'beta',
      bootId: 'bbbbbbbbbbbbbbbb',
      intervalMs: 100,
      deadTimeMs: 500,
      clock: { wallNow: () => Date.now(), monoNow: () => performance.now() },
      log: () => undefined,
      onDatagram: () => undefined,
    });
    await assert.rejects(foreign.bind(), (error: unknown) => {
      assert.ok(error instanceof LinkBindError);
      assert.equal(error.code, 'EADDRNOTAVAIL');
      assert.match(error.message, /not configured on this machine/);
      return true;
    });
    await foreign.close();
  });
});
