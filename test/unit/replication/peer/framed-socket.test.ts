import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FramedSocket } from '../../../../src/replication/peer/framed-socket.js';
import { encodeFrame, type DecodedFrame } from '../../../../src/replication/wire/index.js';

async function socketPair(): Promise<{ near: Socket; far: Socket; close: () => void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const near = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  await once(near, 'connect');
  const [far] = await accepted;
  return {
    near,
    far,
    close: () => {
      near.destroy();
      far.destroy();
      server.close();
    },
  };
}

describe('framed socket', () => {
  it('stops reading while the peer does not drain the answers we owe it, and resumes after', async () => {
    const { near, far, close } = await socketPair();
    far.pause(); // the peer reads nothing for now
    const framed = new FramedSocket(near, 256 * 1024);
    const received: DecodedFrame[] = [];
    framed.setReceiver((frame) => received.push(frame));
    const digest = Buffer.alloc(32);
    // Answers to a peer that keeps asking and never reads: verify replies, queued and queued. About
    // 12 MB, more than the kernel's socket buffers on both ends can take, so the backlog is ours.
    for (let i = 0; i < 200_000; i++)
      framed.send({ type: 'verify-reply', offset: BigInt(i), length: 4096, digest }, i + 1, true);
    await sleep(20);
    assert.ok(near.writableLength > 256 * 1024);
    assert.equal(near.isPaused(), true, 'reading stops while answers back up');
    far.on('data', () => undefined);
    far.resume();
    await once(near, 'drain');
    await sleep(5);
    assert.equal(near.isPaused(), false, 'reading resumes once the output drained');
    close();
  });

  it('keeps reading while only its own requests back up, so their acknowledgements get through', async () => {
    const { near, far, close } = await socketPair();
    far.pause();
    const framed = new FramedSocket(near, 256 * 1024);
    const received: DecodedFrame[] = [];
    framed.setReceiver((frame) => received.push(frame));
    const block = Buffer.alloc(64 * 1024);
    // 6 MiB of our own resync data: over the limit, under the hard limit (32 × 256 KiB = 8 MiB).
    for (let i = 0; i < 96; i++)
      framed.send({ type: 'resync-data', offset: BigInt(i), data: block }, i + 1, false);
    await sleep(20);
    assert.ok(near.writableLength > 256 * 1024);
    assert.equal(near.isPaused(), false, 'still reading');
    // The peer acknowledges (it writes, even though it has not read our data yet).
    far.write(Buffer.concat(encodeFrame({ type: 'ack', status: 'ok', message: '' }, 1, true)));
    for (let i = 0; i < 100 && received.length === 0; i++) await sleep(5);
    assert.equal(received.length, 1);
    assert.equal(received[0]?.message.type, 'ack');
    close();
  });

  it('stops reading past the hard limit whatever is queued', async () => {
    const { near, far, close } = await socketPair();
    far.pause();
    const framed = new FramedSocket(near, 16 * 1024); // hard limit: 32 × 16 KiB = 512 KiB
    framed.setReceiver(() => undefined);
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 128; i++)
      framed.send({ type: 'resync-data', offset: BigInt(i), data: block }, i + 1, false);
    await sleep(20);
    assert.ok(near.writableLength > 512 * 1024);
    assert.equal(near.isPaused(), true);
    far.on('data', () => undefined);
    far.resume();
    await once(near, 'drain');
    await sleep(5);
    assert.equal(near.isPaused(), false);
    close();
  });

  it('sends the frames of one event-loop turn in one write', async () => {
    const { near, far, close } = await socketPair();
    const framed = new FramedSocket(near);
    framed.setReceiver(() => undefined);
    const writes: number[] = [];
    const original = near._writev?.bind(near);
    assert.ok(original !== undefined);
    near._writev = (chunks, callback) => {
      writes.push(chunks.length);
      original(chunks, callback);
    };
    for (let i = 0; i < 50; i++) framed.send({ type: 'ack', status: 'ok', message: '' }, i + 1, true);
    const arrived = once(far, 'data');
    await arrived;
    assert.deepEqual(writes, [50]);
    close();
  });

  it('reports the end once, with the first reason', async () => {
    const { near, far, close } = await socketPair();
    const framed = new FramedSocket(near);
    const ends: string[] = [];
    framed.onEnd((reason, cause) => ends.push(`${cause}: ${reason}`));
    far.end();
    await once(near, 'close');
    assert.deepEqual(ends, ['remote: peer closed the connection']);
    close();
  });

  it('ends on bytes that are not frames', async () => {
    const { near, far, close } = await socketPair();
    const framed = new FramedSocket(near);
    const ended = new Promise<string>((resolve) =>
      framed.onEnd((reason, cause) => resolve(`${cause}: ${reason}`)),
    );
    framed.setReceiver(() => assert.fail('no frame expected'));
    far.write('not a frame at all');
    assert.match(await ended, /^protocol-error: protocol error: bad magic/);
    close();
  });
});
