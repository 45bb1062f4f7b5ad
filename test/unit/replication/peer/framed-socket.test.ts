import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FramedSocket } from '../../../../src/replication/peer/framed-socket.js';
import type { DecodedFrame } from '../../../../src/replication/wire/index.js';

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
  it('stops reading while the peer does not drain our output, and resumes after', async () => {
    const { near, far, close } = await socketPair();
    far.pause(); // the peer reads nothing for now
    const framed = new FramedSocket(near, 256 * 1024);
    const received: DecodedFrame[] = [];
    framed.setReceiver((frame) => received.push(frame));
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 200; i++)
      framed.send({ type: 'resync-data', offset: BigInt(i), data: block }, 0, false);
    await sleep(20);
    assert.ok(near.writableLength > 256 * 1024);
    assert.equal(near.isPaused(), true, 'reading stops while output is backed up');
    far.on('data', () => undefined);
    far.resume();
    await once(near, 'drain');
    await sleep(5);
    assert.equal(near.isPaused(), false, 'reading resumes once the output drained');
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
