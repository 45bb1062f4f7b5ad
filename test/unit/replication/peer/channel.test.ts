import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  computeProof,
  isPeerError,
  type PeerChannel,
  type PeerErrorCode,
} from '../../../../src/replication/peer/index.js';
import type { ReplMessage } from '../../../../src/replication/wire/index.js';
import { connectTo, Inbox, rejection, RawPeer, SECRET, startListener, startPair } from './helpers.js';

async function expectPeerError(promise: Promise<unknown>, code: PeerErrorCode): Promise<void> {
  const error = await rejection(promise);
  assert.ok(isPeerError(error), String(error));
  assert.equal(error.code, code, error.message);
}

/** Answers every write with an ack whose message is the write's offset and data length. */
function ackWrites(channel: PeerChannel): void {
  channel.onMessage((message, _id, respond) => {
    if (message.type === 'write') {
      respond({ type: 'ack', status: 'ok', message: `${message.offset}:${message.data.length}` });
    }
  });
}

describe('peer channel', () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const stop of stops) await stop();
  });

  it('matches many concurrent requests to their replies, in both directions', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    ackWrites(pair.server);
    ackWrites(pair.client);
    const count = 2000;
    const write = (i: number): ReplMessage => ({
      type: 'write',
      offset: BigInt(i) * 4096n,
      fua: i % 2 === 0,
      data: Buffer.alloc(i % 7),
    });
    const [fromClient, fromServer] = await Promise.all([
      Promise.all(Array.from({ length: count }, (_, i) => pair.client.request(write(i)))),
      Promise.all(Array.from({ length: count }, (_, i) => pair.server.request(write(count - i)))),
    ]);
    fromClient.forEach((reply, i) => {
      assert.deepEqual(reply, { type: 'ack', status: 'ok', message: `${BigInt(i) * 4096n}:${i % 7}` });
    });
    fromServer.forEach((reply, i) => {
      assert.deepEqual(reply, {
        type: 'ack',
        status: 'ok',
        message: `${BigInt(count - i) * 4096n}:${(count - i) % 7}`,
      });
    });
  });

  it('carries a 1 MiB write intact', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    const data = randomBytes(1024 * 1024);
    const received = new Inbox<Buffer>();
    pair.server.onMessage((message, _id, respond) => {
      if (message.type !== 'write') return;
      received.put(Buffer.from(message.data));
      respond({ type: 'ack', status: 'ok', message: '' });
    });
    const reply = await pair.client.request({ type: 'write', offset: 1n << 40n, fua: true, data });
    assert.deepEqual(reply, { type: 'ack', status: 'ok', message: '' });
    assert.ok((await received.take()).equals(data));
  });

  it('delivers one-way messages with id 0, in order, and refuses to answer them', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    const got = new Inbox<{ message: ReplMessage; id: number; answerError: unknown }>();
    pair.server.onMessage((message, id, respond) => {
      let answerError: unknown;
      try {
        respond({ type: 'ack', status: 'ok', message: '' });
      } catch (error) {
        answerError = error;
      }
      got.put({ message, id, answerError });
    });
    pair.client.send({ type: 'state', role: 'primary', diskState: 'up-to-date' });
    pair.client.send({ type: 'outdate' });
    const first = await got.take();
    assert.deepEqual(first.message, { type: 'state', role: 'primary', diskState: 'up-to-date' });
    assert.equal(first.id, 0);
    assert.match(String(first.answerError), /cannot be answered/);
    assert.deepEqual((await got.take()).message, { type: 'outdate' });
  });

  it('holds messages that arrive before a handler is set', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    for (let i = 0; i < 5; i++) pair.client.send({ type: 'discard', offset: BigInt(i), length: i });
    const reply = pair.client.request({ type: 'flush' });
    await sleep(50);
    const seen: ReplMessage[] = [];
    pair.server.onMessage((message, id, respond) => {
      seen.push(message);
      if (id !== 0) respond({ type: 'ack', status: 'ok', message: 'flushed' });
    });
    assert.deepEqual(await reply, { type: 'ack', status: 'ok', message: 'flushed' });
    assert.deepEqual(seen, [
      ...Array.from({ length: 5 }, (_, i) => ({ type: 'discard', offset: BigInt(i), length: i })),
      { type: 'flush' },
    ]);
  });

  it('rejects a request the peer does not answer in time', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    pair.server.onMessage(() => undefined);
    await expectPeerError(pair.client.request({ type: 'flush' }, 50), 'request-timeout');
    assert.equal(pair.client.isClosed, false);
  });

  it('times each request out by its own deadline, earliest first, and still takes later replies', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    const held: (() => void)[] = [];
    pair.server.onMessage((message, id, respond) => {
      // Answers only the `outdate`, and only when the test says so.
      if (message.type === 'outdate')
        held.push(() => respond({ type: 'ack', status: 'ok', message: 'late' }));
    });
    const started = performance.now();
    const long = pair.client.request({ type: 'outdate' }, 5000);
    const short = pair.client.request({ type: 'flush' }, 60);
    await expectPeerError(short, 'request-timeout');
    const waited = performance.now() - started;
    assert.ok(waited >= 55 && waited < 2000, `timed out after ${waited} ms`);
    await sleep(20);
    held.shift()?.();
    assert.deepEqual(await long, { type: 'ack', status: 'ok', message: 'late' });
    // The channel keeps working, and a later short request times out again.
    await expectPeerError(pair.client.request({ type: 'flush' }, 30), 'request-timeout');
    assert.equal(pair.client.isClosed, false);
  });

  it('rejects pending requests when it closes, and tells the peer why', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    pair.server.onMessage(() => undefined);
    const pending = [pair.client.request({ type: 'flush' }), pair.client.request({ type: 'outdate' })];
    await sleep(20);
    pair.client.close('administrator said so');
    for (const request of pending) await expectPeerError(request, 'closed');
    assert.equal(await pair.client.closed, 'administrator said so');
    assert.equal(await pair.server.closed, 'peer disconnected: administrator said so');
    await expectPeerError(pair.client.request({ type: 'flush' }), 'closed');
    pair.client.send({ type: 'outdate' }); // dropped, not thrown
  });

  it('rejects pending requests when the peer goes away', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    pair.server.onMessage(() => undefined);
    const pending = pair.client.request({ type: 'flush' });
    await sleep(20);
    pair.server.close('shutting down');
    await expectPeerError(pending, 'closed');
    assert.equal(await pair.client.closed, 'peer disconnected: shutting down');
  });

  it('carries a refusal as the answer to a request once authenticated', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    pair.server.onMessage((message, _id, respond) => {
      if (message.type === 'attach')
        respond({ type: 'refused', code: 'no-such-task', message: message.task });
    });
    const reply = await pair.client.request({
      type: 'attach',
      task: 'nightly',
      volume: 'vol1',
      sizeBytes: 1n << 30n,
      role: 'primary',
      diskState: 'up-to-date',
      generations: { current: 1n, bitmap: 0n, history: [0n, 0n] },
      flags: 0,
    });
    assert.deepEqual(reply, { type: 'refused', code: 'no-such-task', message: 'nightly' });
    assert.equal(pair.client.isClosed, false);
  });

  it('closes on a handshake message after authentication', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    // Reach under the channel: its own API refuses to send this.
    const framed = (
      pair.client as unknown as { framed: { send: (m: ReplMessage, id: number, r: boolean) => void } }
    ).framed;
    framed.send({ type: 'auth-ok' }, 0, false);
    assert.equal(await pair.server.closed, 'protocol error: auth-ok is not allowed after authentication');
  });

  it('refuses to send messages the channel owns', async () => {
    const pair = await startPair();
    stops.push(pair.stop);
    assert.throws(() => pair.client.send({ type: 'ping' }), /sent by the channel itself/);
    assert.throws(() => pair.client.send({ type: 'auth-ok' }), /sent by the channel itself/);
    assert.throws(() => pair.client.send({ type: 'disconnect', reason: 'x' }), /sent by the channel itself/);
  });

  it('stays up while idle because both sides ping', async () => {
    const pair = await startPair({ keepaliveMs: 20, deadMs: 100 }, { keepaliveMs: 20, deadMs: 100 });
    stops.push(pair.stop);
    await sleep(400);
    assert.equal(pair.client.isClosed, false);
    assert.equal(pair.server.isClosed, false);
  });

  it('closes with "peer timed out" when the peer stops answering', async () => {
    const { listener, port, channels } = await startListener({ keepaliveMs: 30, deadMs: 200 });
    stops.push(() => listener.close());
    // A peer that authenticates properly, then falls silent.
    const raw = await RawPeer.connect(port);
    raw.send({ type: 'hello', protocol: 1, nodeName: 'beta', challenge: randomBytes(32) });
    const hello = await raw.next();
    assert.ok(hello.type === 'hello');
    raw.send({ type: 'auth', proof: computeProof(SECRET, 'connecting', hello.challenge, 'beta', 'alpha') });
    assert.equal((await raw.next()).type, 'auth');
    assert.equal((await raw.next()).type, 'auth-ok');
    raw.send({ type: 'auth-ok' });
    const channel = await channels.take();
    const started = Date.now();
    assert.equal(await channel.closed, 'peer timed out');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2000, `closed after ${elapsed} ms`);
    assert.equal((await raw.next()).type, 'ping');
    raw.socket.destroy();
  });

  it('lets the daemon see who connected', async () => {
    const { listener, port, channels } = await startListener();
    stops.push(() => listener.close());
    const client = await connectTo(port);
    const server = await channels.take();
    assert.equal(server.remoteAddress, '127.0.0.1');
    assert.equal(server.closeReason, undefined);
    client.close('bye');
    await server.closed;
    assert.equal(server.closeReason, 'peer disconnected: bye');
  });
});
