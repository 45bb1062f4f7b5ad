// The agent against real rsync: files written 0600, config changes picked up per connection without
// a restart, a new port moves the gate (not rsync), disabling stops it and removes the secrets.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataReplicationAgent, type AgentDesiredState } from '../../../../src/datarep/agent/agent.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { run } from '../../../helpers/programs.js';
import { tempDir } from '../../../helpers/temp-dir.js';
import { freePort } from '../../../../src/lib/free-port.js';

async function listModules(port: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const listed = await run('rsync', ['--list-only', `rsync://127.0.0.1:${port}/`]);
    if (listed.code === 0) return listed.stdout;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

test('the agent follows its desired state', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const share = join(dir, 'share');
  mkdirSync(share);
  let log = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const agent = new DataReplicationAgent({
    dir: join(dir, 'agent'),
    logger: createLogger({ destination: sink }),
  });
  t.after(() => agent.close());
  const port = await freePort();
  const desired: AgentDesiredState = {
    enabled: true,
    listen: { port, address: '127.0.0.1' },
    allowedHosts: [],
    maxConnections: 4,
    shares: [
      { name: 'office', path: share, comment: 'first words', id: 'alice', password: 'secret password' },
    ],
  };

  await agent.apply(desired);
  const started = agent.status();
  assert.equal(started.running, true, started.lastError ?? '');
  assert.deepEqual(started.modules, ['office']);
  const secrets = join(dir, 'agent', 'secrets', 'office.secrets');
  assert.equal(readFileSync(secrets, 'utf8'), 'alice:secret password\n');
  assert.equal(statSync(secrets).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'agent')).mode & 0o777, 0o700);
  assert.match(await listModules(port), /^office\s+\tfirst words$/m);

  // A new comment: the file changes, rsync reads it on the next connection, same process.
  await agent.apply({ ...desired, shares: [{ ...desired.shares[0]!, comment: 'second words' }] });
  assert.equal(agent.status().pid, started.pid);
  assert.match(await listModules(port), /^office\s+\tsecond words$/m);

  // rsync itself listens on loopback only, on a port of its own, behind the gate.
  const config = readFileSync(join(dir, 'agent', 'rsyncd.conf'), 'utf8');
  assert.match(config, /^address = 127\.0\.0\.1$/m);
  assert.match(config, /^proxy protocol = yes$/m);
  assert.doesNotMatch(config, /^port = /m);
  assert.ok(started.gate.listening);

  // A new port moves the gate; rsync goes on, and the old port is closed.
  const port2 = await freePort();
  await agent.apply({ ...desired, listen: { port: port2, address: '127.0.0.1' } });
  const moved = agent.status();
  assert.equal(moved.pid, started.pid);
  assert.equal(moved.port, port2);
  assert.match(await listModules(port2), /^office\s/m);
  const old = await run('rsync', ['--list-only', `rsync://127.0.0.1:${port}/`]);
  assert.equal(old.code, 10, 'nothing listens on the old port');

  // No shares: still running, nothing offered, the old secrets gone.
  await agent.apply({ ...desired, listen: { port: port2, address: '127.0.0.1' }, shares: [] });
  assert.equal((await listModules(port2)).trim(), '');
  assert.deepEqual(readdirSync(join(dir, 'agent', 'secrets')), []);

  await agent.apply({ ...desired, enabled: false });
  const stopped = agent.status();
  assert.equal(stopped.running, false);
  assert.equal(stopped.pid, null);
  assert.ok(!existsSync(secrets));
  assert.ok(!log.includes('secret password'), 'the password is never logged');
});

test(
  'a port already taken shows as an error and is retried until it is free',
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir(t);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const agent = new DataReplicationAgent({
      dir: join(dir, 'agent'),
      logger: createLogger({ destination: new PassThrough() }),
      initialBackoffMs: 50,
    });
    t.after(() => agent.close());
    await agent.apply({
      enabled: true,
      listen: { port, address: '127.0.0.1' },
      allowedHosts: [],
      maxConnections: 1,
      shares: [],
    });
    const status = agent.status();
    assert.equal(status.running, false);
    assert.equal(status.gate.listening, false);
    assert.match(status.lastError ?? '', /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    for (let i = 0; i < 200 && !agent.status().running; i++) await sleep(25);
    const after = agent.status();
    assert.equal(after.running, true, after.lastError ?? '');
    assert.equal(after.lastError, null);
    await listModules(port);
  },
);
