// A stock `rsync --daemon` set up by hand for tests: a generated rsyncd.conf in a temp dir, a 0600
// secrets file, a port chosen at run time. Stopped when the test ends, even on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface StockModule {
  readonly name: string;
  readonly path: string;
  readonly user: string;
  readonly password: string;
}

export interface StockRsyncd {
  readonly port: number;
  readonly child: ChildProcess;
  /** Kills the daemon and the connection processes it forked, right now. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`rsync daemon did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startStockRsyncd(
  t: TestContext,
  dir: string,
  modules: readonly StockModule[],
): Promise<StockRsyncd> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const secrets = join(dir, 'rsyncd.secrets');
  writeFileSync(secrets, modules.map((m) => `${m.user}:${m.password}\n`).join(''), { mode: 0o600 });
  const conf = [
    `port = ${port}`,
    'address = 127.0.0.1',
    'use chroot = yes',
    'uid = root',
    'gid = root',
    'numeric ids = yes',
    'munge symlinks = no',
    `log file = ${join(dir, 'rsyncd.log')}`,
    ...modules.flatMap((m) => [
      `[${m.name}]`,
      `  path = ${m.path}`,
      '  read only = no',
      `  auth users = ${m.user}`,
      `  secrets file = ${secrets}`,
      `  comment = test module ${m.name}`,
    ]),
    '',
  ].join('\n');
  const confFile = join(dir, 'rsyncd.conf');
  writeFileSync(confFile, conf, { mode: 0o600 });
  for (const m of modules) mkdirSync(m.path, { recursive: true });
  // Its own process group: the daemon forks one child per connection, and a kill must take them too.
  const child = spawn('rsync', ['--daemon', '--no-detach', `--config=${confFile}`], {
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
  };
  t.after(kill);
  await waitForPort(port);
  return { port, child, kill };
}
