// The gate against a fake rsync daemon on loopback (real sockets, short deadlines): the PROXY header,
// piping after "@RSYNCD: OK", refusal of hosts not allowed, the deadline, the per-client and total
// limits. Other loopback addresses (127.0.0.2 ...) stand for other clients.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentGate, type GateOptions } from '../../../../src/datarep/agent/gate.js';
import { HostNameCheck } from '../../../../src/datarep/agent/host-names.js';
import { createLogger } from '../../../../src/observability/logger.js';

const GREETING = '@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n';

/** Reads lines off a socket; the rest (after what the caller took) stays available as raw data. */
class LineReader {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  async line(): Promise<string | null> {
    for (;;) {
      const end = this.buffer.indexOf(10);
      if (end !== -1) {
        const line = this.buffer.subarray(0, end).toString('latin1');
        this.buffer = this.buffer.subarray(end + 1);
        return line;
      }
      if (this.ended) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async bytes(count: number): Promise<Buffer> {
    while (this.buffer.length < count) {
      if (this.ended) throw new Error(`ended after ${this.buffer.length} of ${count} bytes`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const out = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return out;
  }

  /** What is buffered now; the caller reads the socket itself from here on. */
  takeAll(): Buffer {
    const out = this.buffer;
    this.buffer = Buffer.alloc(0);
    return out;
  }

  async rest(): Promise<string> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.buffer.toString('latin1');
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * A fake rsync daemon: reads the PROXY header, greets, answers a listing, or challenges and takes the
 * answer "good" (then echoes everything back), anything else fails.
 */
async function fakeRsync(t: TestContext) {
  const headers: string[] = [];
  let open = 0;
  let maxOpen = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    socket.on('close', () => (open -= 1));
    const reader = new LineReader(socket);
    void (async () => {
      const header = await reader.line();
      if (header === null) return;
      headers.push(header);
      socket.write(GREETING);
      await reader.line(); // the client's greeting
      const module = await reader.line();
      if (module === null) return;
      if (module === '' || module === '#list') {
        socket.end('office         \tOffice backup\n@RSYNCD: EXIT\n');
        return;
      }
      socket.write('@RSYNCD: AUTHREQD challenge\n');
      const answer = await reader.line();
      if (answer !== 'alice good') {
        socket.end(`@ERROR: auth failed on module ${module}\n`);
        return;
      }
      socket.write('@RSYNCD: OK\n');
      socket.removeAllListeners('data');
      socket.write(reader.takeAll());
      socket.pipe(socket);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { port, headers, open: () => open, maxOpen: () => maxOpen };
}

async function startGate(t: TestContext, upstreamPort: number | null, options: Partial<GateOptions> = {}) {
  let log = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const gate = new AgentGate({
    logger: createLogger({ level: 'debug', destination: sink }),
    upstreamPort: () => upstreamPort,
    deadlineMs: 600,
    ...options,
  });
  t.after(() => gate.close());
  await gate.listen({ address: '127.0.0.1', port: 0 });
  // Port 0: ask the OS which one it gave.
  const server = (gate as unknown as { server: Server }).server;
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { gate, port, log: () => log };
}

async function client(port: number, from = '127.0.0.1'): Promise<LineReader> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return new LineReader(socket);
}

/** Greeting and module name, then nothing: what a client that stalls at the password does. */
async function staller(port: number, from: string): Promise<LineReader> {
  const reader = await client(port, from);
  reader.socket.write(`${GREETING}office\n`);
  return reader;
}

async function authenticate(port: number, from = '127.0.0.1'): Promise<LineReader> {
  const reader = await client(port, from);
  reader.socket.write(`${GREETING}office\n`);
  assert.equal(await reader.line(), GREETING.trim());
  assert.equal(await reader.line(), '@RSYNCD: AUTHREQD challenge');
  reader.socket.write('alice good\n');
  assert.equal(await reader.line(), '@RSYNCD: OK');
  return reader;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('the PROXY header names the client; after OK bytes go both ways unchanged', async (t) => {
  const rsync = await fakeRsync(t);
  const { gate, port } = await startGate(t, rsync.port);
  gate.configure({ allowedHosts: [], maxConnections: 10 });
  const reader = await authenticate(port, '127.0.0.2');
  const localPort = reader.socket.localPort ?? 0;
  assert.deepEqual(rsync.headers, [`PROXY TCP4 127.0.0.2 127.0.0.1 ${localPort} ${port}\r`]);
  // Binary data with lines in it that the gate must not read: "@ERROR", "@RSYNCD: OK".
  const payload = Buffer.concat([Buffer.from('\n@ERROR: x\n@RSYNCD: OK\n'), randomBytes(4 * 1024 * 1024)]);
  reader.socket.write(payload);
  const echoed = await reader.bytes(payload.length);
  assert.ok(echoed.equals(payload));
  assert.equal(gate.status().authenticating, 0);
  reader.socket.end();
  await until('the connection to close', () => gate.status().open === 0);
});

test('a host not allowed is refused before rsync sees it; an allowed one lists', async (t) => {
  const rsync = await fakeRsync(t);
  const { gate, port, log } = await startGate(t, rsync.port);
  gate.configure({ allowedHosts: ['127.0.0.1', '192.0.2.0/24'], maxConnections: 10 });

  const stranger = await client(port, '127.0.0.2');
  stranger.socket.write(`${GREETING}\n`);
  assert.equal(await stranger.rest(), '@RSYNCD: 30.0\n@ERROR: access denied to this agent from 127.0.0.2\n');
  assert.equal(rsync.headers.length, 0, 'rsync never saw the stranger');
  assert.match(log(), /"event":"agent-refused"[^\n]*"client":"127\.0\.0\.2"[^\n]*not in allowed hosts/);
  assert.equal(gate.status().refused, 1);

  const friend = await client(port, '127.0.0.1');
  friend.socket.write(`${GREETING}\n`);
  assert.equal(await friend.rest(), `${GREETING}office         \tOffice backup\n@RSYNCD: EXIT\n`);
});

test('allowed by a host name pattern, with a verified reverse name', async (t) => {
  const rsync = await fakeRsync(t);
  const names = new HostNameCheck({
    resolver: {
      reverse: (a) =>
        a === '127.0.0.2' ? Promise.resolve(['nas-b.example.com']) : Promise.reject(new Error('ENOTFOUND')),
      forward: (n) => Promise.resolve(n === 'nas-b.example.com' ? ['127.0.0.2'] : []),
    },
  });
  const { gate, port } = await startGate(t, rsync.port, { names });
  gate.configure({ allowedHosts: ['*.example.com'], maxConnections: 10 });
  await authenticate(port, '127.0.0.2');
  const refused = await client(port, '127.0.0.3');
  assert.match(await refused.rest(), /@ERROR: access denied/);
});

test('a client that stalls at the password is dropped at the deadline; others get through meanwhile', async (t) => {
  const rsync = await fakeRsync(t);
  const { gate, port, log } = await startGate(t, rsync.port, { deadlineMs: 800 });
  gate.configure({ allowedHosts: [], maxConnections: 10 });
  const started = Date.now();
  const stallers = await Promise.all(Array.from({ length: 10 }, () => staller(port, '127.0.0.2')));
  // Two of them reach rsync, the others wait without taking a slot.
  await until('two handshakes', () => rsync.headers.length === 2);
  await sleep(100);
  assert.equal(rsync.headers.length, 2);
  assert.equal(gate.status().authenticating, 2);
  assert.equal(gate.status().waiting, 8);
  // The real client from elsewhere is not held up.
  const real = await authenticate(port, '127.0.0.1');
  assert.ok(Date.now() - started < 700);
  // All ten are closed by the gate at the deadline.
  await Promise.all(stallers.map((s) => s.rest()));
  const took = Date.now() - started;
  assert.ok(took >= 750 && took < 2000, `closed after ${took} ms`);
  assert.equal(rsync.maxOpen(), 3);
  assert.match(
    log(),
    /"event":"agent-dropped"[^\n]*"client":"127\.0\.0\.2"[^\n]*did not authenticate within 0\.8 s/,
  );
  assert.equal(gate.status().dropped, 10);
  // The authenticated one is not subject to the deadline.
  real.socket.write('still here');
  assert.equal((await real.bytes(10)).toString(), 'still here');
});

test('stallers from many addresses: a newcomer takes the place of the oldest after evictAfterMs', async (t) => {
  const rsync = await fakeRsync(t);
  const { gate, port } = await startGate(t, rsync.port, { deadlineMs: 3000, limits: { evictAfterMs: 300 } });
  gate.configure({ allowedHosts: [], maxConnections: 4 }); // at most 3 unauthenticated with rsync
  const stallers = await Promise.all([2, 3, 4, 5, 6].map((i) => staller(port, `127.0.0.${i}`)));
  await until('three handshakes', () => rsync.headers.length === 3);
  const started = Date.now();
  await authenticate(port, '127.0.0.1');
  const took = Date.now() - started;
  assert.ok(took < 1500, `the real client waited ${took} ms`);
  assert.ok(gate.status().dropped >= 3, 'the oldest stallers made room');
  for (const s of stallers) s.socket.destroy();
});

test('while rsync is not up yet the gate keeps trying; without rsync the client is dropped', async (t) => {
  let upstream: number | null = null;
  const { gate, port } = await startGate(t, null, { deadlineMs: 4000, upstreamPort: () => upstream });
  gate.configure({ allowedHosts: [], maxConnections: 10 });
  const rsync = await fakeRsync(t);
  setTimeout(() => (upstream = rsync.port), 300);
  await authenticate(port);
  upstream = null;
  const lost = await staller(port, '127.0.0.1');
  const started = Date.now();
  assert.equal(await lost.rest(), '');
  assert.ok(Date.now() - started < 3500);
});
