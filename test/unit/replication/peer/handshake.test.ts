import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  computeProof,
  isPeerError,
  PeerError,
  type PeerErrorCode,
} from '../../../../src/replication/peer/index.js';
import { connectTo, rejection, RawPeer, SECRET, startListener, startRawServer } from './helpers.js';

function assertPeerError(error: unknown, code: PeerErrorCode): void {
  assert.ok(isPeerError(error), `expected a PeerError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.ok(
    !error.message.includes(SECRET) && !error.message.includes('wrong secret'),
    'no secret in messages',
  );
}

describe('handshake proof', () => {
  const challenge = randomBytes(32);

  it('differs between the connecting and the accepting side for the same inputs', () => {
    const connecting = computeProof(SECRET, 'connecting', challenge, 'alpha', 'beta');
    const accepting = computeProof(SECRET, 'accepting', challenge, 'alpha', 'beta');
    assert.notDeepEqual(connecting, accepting);
    assert.equal(connecting.length, 32);
  });

  it('depends on the secret, the challenge and the order of the names', () => {
    const base = computeProof(SECRET, 'connecting', challenge, 'alpha', 'beta');
    assert.deepEqual(computeProof(SECRET, 'connecting', Buffer.from(challenge), 'alpha', 'beta'), base);
    assert.notDeepEqual(computeProof('other', 'connecting', challenge, 'alpha', 'beta'), base);
    assert.notDeepEqual(computeProof(SECRET, 'connecting', randomBytes(32), 'alpha', 'beta'), base);
    assert.notDeepEqual(computeProof(SECRET, 'connecting', challenge, 'beta', 'alpha'), base);
    assert.notDeepEqual(computeProof(SECRET, 'connecting', challenge, 'alphab', 'eta'), base);
  });
});

describe('handshake', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('authenticates both sides and names the peer', async () => {
    const { listener, port, channels } = await startListener({ allowedPeers: ['beta'] });
    cleanups.push(() => listener.close());
    const client = await connectTo(port);
    const server = await channels.take();
    assert.equal(client.peerName, 'alpha');
    assert.equal(server.peerName, 'beta');
    client.close('done');
    assert.equal(await server.closed, 'peer disconnected: done');
  });

  it('refuses a connector with the wrong secret, on both sides with auth-failed', async () => {
    const { listener, port, refusals } = await startListener();
    cleanups.push(() => listener.close());
    assertPeerError(await rejection(connectTo(port, { secret: 'wrong secret' })), 'auth-failed');
    const refusal = await refusals.take();
    assert.equal(refusal.code, 'auth-failed');
    assert.equal(refusal.remoteAddress, '127.0.0.1');
    assert.ok(!refusal.message.includes(SECRET));
  });

  it('refuses when the listener has the wrong secret, on both sides with auth-failed', async () => {
    const { listener, port, refusals } = await startListener({ secret: 'wrong secret' });
    cleanups.push(() => listener.close());
    assertPeerError(await rejection(connectTo(port)), 'auth-failed');
    assert.equal((await refusals.take()).code, 'auth-failed');
  });

  it('refuses a node name that is not an allowed peer', async () => {
    const { listener, port, refusals } = await startListener({ allowedPeers: ['gamma'] });
    cleanups.push(() => listener.close());
    assertPeerError(await rejection(connectTo(port)), 'unknown-node');
    const refusal = await refusals.take();
    assert.equal(refusal.code, 'unknown-node');
    assert.match(refusal.message, /"beta"/);
  });

  it('refuses a fake listener that reflects our own challenge and proof', async () => {
    const { port, peers, server } = await startRawServer();
    cleanups.push(() => void server.close());
    const connecting = connectTo(port);
    const fake = await peers.take();
    const hello = await fake.next();
    assert.ok(hello.type === 'hello');
    fake.send(hello); // our own name and challenge, so only the side label tells the proofs apart
    const auth = await fake.next();
    assert.ok(auth.type === 'auth');
    fake.send(auth);
    fake.send({ type: 'auth-ok' });
    assertPeerError(await rejection(connecting), 'auth-failed');
    assert.deepEqual(await fake.next(), {
      type: 'refused',
      code: 'auth-failed',
      message: 'node "beta" failed authentication: the shared secrets differ',
    });
    await fake.ended;
  });

  it('lets a hand-driven connector in with the right proof and refuses the reflected label', async () => {
    const { listener, port, refusals, channels } = await startListener();
    cleanups.push(() => listener.close());
    async function attempt(side: 'connecting' | 'accepting'): Promise<RawPeer> {
      const raw = await RawPeer.connect(port);
      raw.send({ type: 'hello', protocol: 1, nodeName: 'beta', challenge: randomBytes(32) });
      const hello = await raw.next();
      assert.ok(hello.type === 'hello' && hello.nodeName === 'alpha');
      raw.send({ type: 'auth', proof: computeProof(SECRET, side, hello.challenge, 'beta', 'alpha') });
      return raw;
    }
    const honest = await attempt('connecting');
    assert.equal((await honest.next()).type, 'auth');
    assert.equal((await honest.next()).type, 'auth-ok');
    honest.send({ type: 'auth-ok' });
    const admitted = await channels.take();
    assert.equal(admitted.peerName, 'beta');
    admitted.close('test over');

    // A proof made with the listener's own label is what reflecting its proof would give.
    const reflecting = await attempt('accepting');
    const answer = await reflecting.next();
    assert.ok(answer.type === 'refused' && answer.code === 'auth-failed');
    assert.equal((await refusals.take()).code, 'auth-failed');
    await reflecting.ended;
  });

  it('refuses anything but the handshake before authentication', async () => {
    const { listener, port, refusals } = await startListener();
    cleanups.push(() => listener.close());
    const raw = await RawPeer.connect(port);
    raw.send({ type: 'write', offset: 0n, fua: false, data: Buffer.alloc(512) }, 1);
    const answer = await raw.next();
    assert.ok(answer.type === 'refused' && answer.code === 'protocol-error');
    assert.equal((await refusals.take()).code, 'protocol-error');
    await raw.ended;
  });

  it('drops a connection that sends garbage and goes on serving the next one', async () => {
    const { listener, port, refusals, channels } = await startListener();
    cleanups.push(() => listener.close());
    const raw = await RawPeer.connect(port);
    raw.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'));
    await raw.ended;
    const refusal = await refusals.take();
    assert.equal(refusal.code, 'protocol-error');
    assert.match(refusal.message, /bad magic/);
    const client = await connectTo(port);
    await channels.take();
    client.close('done');
  });

  it('gives up on a connection that never says hello', async () => {
    const { listener, port, refusals } = await startListener({ handshakeTimeoutMs: 100 });
    cleanups.push(() => listener.close());
    const raw = await RawPeer.connect(port);
    assert.equal((await refusals.take()).code, 'handshake-timeout');
    await raw.ended;
  });

  it('times out a connect whose peer never answers', async () => {
    const { port, peers, server } = await startRawServer();
    cleanups.push(() => void server.close());
    const started = Date.now();
    assertPeerError(await rejection(connectTo(port, { timeoutMs: 150 })), 'handshake-timeout');
    assert.ok(Date.now() - started < 2000);
    (await peers.take()).socket.destroy();
  });

  it('reports a port nobody listens on as connect-failed', async () => {
    const { port, server } = await startRawServer();
    await new Promise((resolve) => server.close(resolve));
    const error = await rejection(connectTo(port));
    assertPeerError(error, 'connect-failed');
    assert.ok(error instanceof PeerError && /ECONNREFUSED/.test(error.message));
  });
});
