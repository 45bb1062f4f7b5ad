// Test helpers: a listener/connector pair on 127.0.0.1, and a raw peer that speaks frames by hand
// (to play a broken or malicious node).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  connectPeer,
  PeerListener,
  type ConnectPeerOptions,
  type PeerChannel,
  type PeerListenerOptions,
  type RefusalInfo,
} from '../../../../src/replication/peer/index.js';
import {
  encodeFrame,
  FrameDecoder,
  type DecodeResult,
  type ReplMessage,
} from '../../../../src/replication/wire/index.js';

export const SECRET = 'correct horse battery staple';

/** Values pushed by callbacks, taken in order by tests. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  readonly put = (item: T): void => {
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.items.push(item);
    else waiter(item);
  };

  take(timeoutMs = 3000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing arrived within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }

  get size(): number {
    return this.items.length;
  }
}

export interface TestListener {
  readonly listener: PeerListener;
  readonly port: number;
  readonly channels: Inbox<PeerChannel>;
  readonly refusals: Inbox<RefusalInfo>;
}

export async function startListener(overrides: Partial<PeerListenerOptions> = {}): Promise<TestListener> {
  const channels = new Inbox<PeerChannel>();
  const refusals = new Inbox<RefusalInfo>();
  const listener = await PeerListener.listen(
    { host: '127.0.0.1', port: 0, nodeName: 'alpha', secret: SECRET, onRefused: refusals.put, ...overrides },
    channels.put,
  );
  return { listener, port: listener.address().port, channels, refusals };
}

export function connectTo(port: number, overrides: Partial<ConnectPeerOptions> = {}): Promise<PeerChannel> {
  return connectPeer({ host: '127.0.0.1', port, nodeName: 'beta', secret: SECRET, ...overrides });
}

/** A connected, authenticated pair: `client` (beta) and `server` (alpha). */
export async function startPair(
  listenerOverrides: Partial<PeerListenerOptions> = {},
  connectOverrides: Partial<ConnectPeerOptions> = {},
): Promise<{ client: PeerChannel; server: PeerChannel; stop: () => Promise<void> }> {
  const started = await startListener(listenerOverrides);
  const client = await connectTo(started.port, connectOverrides);
  const server = await started.channels.take();
  return {
    client,
    server,
    stop: async () => {
      client.close('test over');
      server.close('test over');
      await started.listener.close();
    },
  };
}

/** A socket that reads and writes frames directly. */
export class RawPeer {
  private readonly decoder = new FrameDecoder();
  private readonly frames = new Inbox<DecodeResult>();
  readonly ended: Promise<unknown>;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (const result of this.decoder.frames()) this.frames.put(result);
    });
    socket.on('error', () => undefined);
    this.ended = once(socket, 'close');
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  send(message: ReplMessage, id = 0, isReply = false): void {
    for (const part of encodeFrame(message, id, isReply)) this.socket.write(part);
  }

  /** The next frame's message; fails the test on a decode error. */
  async next(timeoutMs?: number): Promise<ReplMessage> {
    const result = await this.frames.take(timeoutMs);
    assert.ok(!('error' in result), 'error' in result ? result.error : '');
    return result.message;
  }

  /** Messages received so far and not taken. */
  get waiting(): number {
    return this.frames.size;
  }
}

/** A plain TCP server whose connections become RawPeers. */
export async function startRawServer(): Promise<{ port: number; peers: Inbox<RawPeer>; server: Server }> {
  const peers = new Inbox<RawPeer>();
  const server = createServer((socket) => peers.put(new RawPeer(socket)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, peers, server };
}

/** Resolves with how a promise rejects; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}
