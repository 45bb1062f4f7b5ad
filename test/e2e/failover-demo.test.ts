// Failover end to end on one machine, through `tandem demo` (loopback virtual IP): a client writes
// through the virtual IP; kill -9 the active node; the passive one takes over and the client's data
// reads back; the old primary restarts passive and behind, is refused a failback until Sync volume
// resyncs it, then takes the service back by Failback, with every write there.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { api, TANDEM_BIN } from '../helpers/daemon.js';
import { run } from '../helpers/programs.js';
import { TestInitiator } from '../interop/iscsi-robustness/harness.js';
import { readyLine, waitFor } from '../helpers/demo.js';
import { tempDir } from '../helpers/temp-dir.js';

function spawnTracked(t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [TANDEM_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Daemons log to stdout: drain it (a full pipe would stall the daemon), to a file when asked.
  const log = process.env.FAILOVER_TEST_LOG;
  if (log && args[0] === 'serve') child.stdout.pipe(createWriteStream(`${log}.${String(child.pid)}`));
  else if (args[0] === 'serve') child.stdout.resume();
  child.stderr.resume();
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return child;
}

const IQN = 'iqn.2026-11.local.tandem:demo';
const KEY = 0x7a4d_1e55n;

type CommandOptions = Parameters<TestInitiator['command']>[1];

/**
 * One command on LUN 1 in a fresh session of its own, repeated past the unit attentions (POWER ON,
 * then any other queued news) that come first, one per command.
 */
async function commandPastAttentions(
  port: number,
  initiatorName: string,
  isid: number,
  cdb: Buffer,
  options: CommandOptions,
): Promise<Awaited<ReturnType<TestInitiator['command']>>> {
  const initiator = await TestInitiator.connect(port);
  try {
    await initiator.login({ initiatorName, isid, target: IQN });
    let result = await initiator.command(cdb, options);
    for (let retry = 0; retry < 5 && result.status !== 0; retry++) {
      result = await initiator.command(cdb, options);
    }
    return result;
  } finally {
    initiator.socket.destroy();
  }
}

/** PERSISTENT RESERVE OUT, REGISTER: this I_T nexus registers KEY (SPC-4 6.17). */
async function registerKey(port: number): Promise<void> {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x5f;
  cdb.writeUInt32BE(24, 5);
  const parameters = Buffer.alloc(24);
  parameters.writeBigUInt64BE(KEY, 8);
  const result = await commandPastAttentions(port, 'iqn.2026-11.test:pr-client', 0x4242, cdb, {
    writeData: parameters,
    lun: 1,
  });
  assert.equal(result.status, 0, `REGISTER: sense ${result.sense?.toString('hex') ?? '-'}`);
}

/** PERSISTENT RESERVE IN, READ KEYS: the registered keys. */
async function readKeys(port: number): Promise<bigint[]> {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x5e;
  cdb.writeUInt16BE(512, 7);
  const result = await commandPastAttentions(port, 'iqn.2026-11.test:pr-reader', 0x4343, cdb, {
    readLength: 512,
    lun: 1,
  });
  assert.equal(result.status, 0, 'READ KEYS');
  const length = result.data.readUInt32BE(4);
  const keys: bigint[] = [];
  for (let at = 8; at < 8 + length; at += 8) keys.push(result.data.readBigUInt64BE(at));
  return keys;
}

const qemuIo = (url: string, ...commands: string[]) =>
  run('qemu-io', [...commands.flatMap((c) => ['-c', c]), url], { timeoutMs: 30_000 });

/** qemu-io exits 0 even when a pattern does not match; this does not. */
async function verified(url: string, ...commands: string[]): Promise<boolean> {
  const result = await qemuIo(url, ...commands);
  return result.code === 0 && !/failed|error/i.test(result.stdout + result.stderr);
}

describe('failover with the loopback demo pair', { timeout: 600_000 }, () => {
  it('kill -9 the active node: the passive one takes over; Sync volume, then Failback, and no write is lost', async (t) => {
    const dir = tempDir(t);
    const base = 20_000 + Math.floor(Math.random() * 400) * 20;
    const vip = `127.0.${String(1 + Math.floor(Math.random() * 250))}.100`;
    const demo = spawnTracked(t, [
      'demo',
      '--dir',
      join(dir, 'demo'),
      '--base-port',
      String(base),
      '--vip',
      vip,
      '--json',
    ]);
    const ready = await readyLine(demo, 240_000);
    const [a, b] = ready.nodes;
    assert.ok(a && b);
    // The demo's nodes outlive a killed demo: stop them by pid (they hold the test's stderr open).
    t.after(() => {
      for (const node of ready.nodes) {
        try {
          process.kill(node.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    const call = (node: { api: string }, method: string, path: string) =>
      api(node.api, method, path, { password: ready.password });
    const status = async (node: { api: string }) =>
      (await call(node, 'GET', '/api/v1/failover')).body as {
        state: string;
        term: number;
        peer: { upToDate: boolean | null };
        tasks: { connection: string; diskState: string; peerDiskState: string; held: boolean }[];
        warnings: string[];
      };

    // A client writes through the virtual IP, to the active node A.
    assert.ok(await verified(ready.url, 'write -P 0xa1 0 4M', 'read -P 0xa1 0 4M'));
    assert.equal((await status(a)).state, 'active');
    // Ping-node mode says what it cannot prevent.
    assert.ok((await status(a)).warnings.some((w) => w.includes('both links between the nodes fail')));
    // A persistent reservation key registered on the active node survives the failover.
    const port = (address: string, offset: number) =>
      `127.0.0.1:${String(Number(address.split(':').pop()) + offset)}`;
    const iscsiPort = (node: { api: string }) => Number(port(node.api, 2).split(':')[1]);
    await registerKey(iscsiPort(a));
    const termBefore = (await status(b)).term;

    // kill -9 A: B takes over; the client's next I/O through the same address succeeds with A's data.
    const killedAt = performance.now();
    process.kill(a.pid, 'SIGKILL');
    const seconds = await waitFor(
      'first I/O through the virtual IP after the kill',
      async () =>
        (await verified(ready.url, 'read -P 0xa1 0 4M')) ? (performance.now() - killedAt) / 1000 : undefined,
      60_000,
    );
    t.diagnostic(`kill -9 -> first successful I/O through the virtual IP: ${seconds.toFixed(2)} s`);
    const afterTakeOver = await status(b);
    assert.equal(afterTakeOver.state, 'active');
    assert.ok(afterTakeOver.term > termBefore);
    assert.ok(
      afterTakeOver.tasks.every((task) => task.held),
      'replication is held until Sync volume',
    );
    assert.deepEqual(await readKeys(iscsiPort(b)), [KEY], 'the reservation key survived the failover');
    assert.ok(await verified(ready.url, 'write -P 0xb2 4M 4M'));

    // A comes back: passive, behind, and never takes the service back by itself.
    const apiA = a.api.replace('http://', '');
    spawnTracked(
      t,
      [
        'serve',
        '--data',
        a.dataDir,
        '--api',
        apiA,
        '--iscsi',
        port(apiA, 2),
        '--replication',
        port(apiA, 4),
        '--node-name',
        a.name,
      ],
      { TANDEM_ADMIN_PASSWORD: ready.password },
    );
    await waitFor('A back and heard by B', async () =>
      (await status(b)).peer.upToDate === false ? true : undefined,
    );
    assert.equal(await waitFor('A answering its API', async () => (await status(a)).state), 'passive');
    const refused = await call(b, 'POST', '/api/v1/failover/failback');
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /not up to date/);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal((await status(b)).state, 'active', 'A must not take the service back by itself');

    // Sync volume: A reconnects and resyncs from B; then Failback gives A the service again.
    assert.equal((await call(b, 'POST', '/api/v1/failover/sync-volume')).status, 200);
    await waitFor(
      'A resynced',
      async () => {
        const task = (await status(a)).tasks[0];
        return task?.connection === 'connected' && task.diskState === 'up-to-date' ? true : undefined;
      },
      120_000,
    );
    await waitFor('B sees A up to date', async () =>
      (await status(b)).peer.upToDate === true ? true : undefined,
    );
    const back = await call(b, 'POST', '/api/v1/failover/failback');
    assert.equal(back.status, 200, JSON.stringify(back.body));
    await waitFor(
      'A active again',
      async () => ((await status(a)).state === 'active' ? true : undefined),
      30_000,
    );
    await waitFor('both writes read back through the virtual IP after failback', async () =>
      (await verified(ready.url, 'read -P 0xa1 0 4M', 'read -P 0xb2 4M 4M')) ? true : undefined,
    );
    assert.equal((await status(b)).state, 'passive');
  });
});
