// `tandem replication ...` against the real API app with a fake replication service (no daemon): usage
// errors exit 2 before the daemon is asked, the happy paths send what they should, the secret comes
// from a file or the environment and is never printed, and `task watch` follows a resync to its end.
// Runs bin/tandem, i.e. the build in dist/ (scripts/test.mjs builds it first).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../../src/api/app.js';
import type { ApiAuth } from '../../../src/api/auth.js';
import type { ApiContext, NodeInfo } from '../../../src/api/context.js';
import { CliError } from '../../../src/cli/client.js';
import { replicationCommand } from '../../../src/cli/commands/replication.js';
import { notFound } from '../../../src/lib/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import type {
  CreateTaskRequest,
  DestinationVolume,
  PairRequest,
  PairingView,
  ReplicationControl,
  TaskStatus,
  VolumeReplicationSettings,
} from '../../../src/replication/control.js';
import { runCli, type CliResult } from '../../helpers/daemon.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SECRET = 'a-shared-secret-for-the-pair-7f3a';

const status = (name: string, overrides: Partial<TaskStatus> = {}): TaskStatus => ({
  name,
  direction: 'source',
  volume: 'vol1',
  remoteVolume: 'remote1',
  peerAddress: '192.0.2.20:7789',
  running: true,
  role: 'primary',
  connection: 'connected',
  diskState: 'up-to-date',
  peerDiskState: 'up-to-date',
  outOfSyncBytes: 0,
  resync: null,
  verify: null,
  lastError: null,
  rate: { mode: 'dynamic', bytesPerSecond: 100 * MiB },
  ...overrides,
});

const resyncing = (name: string, done: number): TaskStatus =>
  status(name, {
    connection: 'sync-source',
    peerDiskState: 'inconsistent',
    outOfSyncBytes: GiB - done,
    resync: {
      totalBytes: GiB,
      doneBytes: done,
      bytesPerSecond: 50 * MiB,
      etaSeconds: (GiB - done) / (50 * MiB),
    },
  });

/** Answers from fixed data; `w1` and `sb1` walk through a scripted sequence, one step per poll. */
class FakeReplication implements ReplicationControl {
  readonly calls: [string, ...unknown[]][] = [];
  private peer: PairRequest | null = null;
  private readonly scripts = new Map<string, TaskStatus[]>([
    ['w1', [resyncing('w1', 0), resyncing('w1', GiB / 2), resyncing('w1', GiB), status('w1')]],
    ['w2', [resyncing('w2', GiB / 2), status('w2')]],
    [
      'v1',
      [
        status('v1', {
          connection: 'verifying',
          verify: { totalBytes: GiB, doneBytes: 0, mismatchedBytes: 0 },
        }),
        status('v1', {
          connection: 'verifying',
          verify: { totalBytes: GiB, doneBytes: GiB / 2, mismatchedBytes: 4096 },
        }),
        status('v1', { outOfSyncBytes: 4096 }),
      ],
    ],
    [
      'sb1',
      [
        status('sb1', { connection: 'connecting' }),
        status('sb1', { connection: 'split-brain', running: false }),
      ],
    ],
  ]);

  pairing(): PairingView {
    return {
      nodeName: 'node-a',
      listen: '0.0.0.0:7789',
      peerName: this.peer?.peerName ?? null,
      paired: this.peer !== null,
      tls: this.peer?.tls ?? false,
      fingerprint: this.peer?.tls === true ? 'cd'.repeat(32) : null,
      peerFingerprint: this.peer?.peerFingerprint ?? null,
    };
  }
  pair(request: PairRequest): Promise<PairingView> {
    this.calls.push(['pair', request]);
    this.peer = request;
    return Promise.resolve(this.pairing());
  }
  unpair(): Promise<void> {
    this.calls.push(['unpair']);
    this.peer = null;
    return Promise.resolve();
  }
  volumeSettings(volume: string): VolumeReplicationSettings | null {
    return volume === 'vol1' ? { volume, mode: 'source', mirrorServer: '192.0.2.20:7789' } : null;
  }
  setVolumeSettings(
    volume: string,
    settings: { mode: 'source' | 'destination'; mirrorServer: string; clearMetadata?: boolean },
  ): Promise<VolumeReplicationSettings> {
    this.calls.push(['setVolumeSettings', volume, settings]);
    return Promise.resolve({ volume, mode: settings.mode, mirrorServer: settings.mirrorServer });
  }
  browseDestinations(): Promise<DestinationVolume[]> {
    return Promise.resolve([
      { volume: 'remote1', size: GiB, unavailable: null },
      { volume: 'remote2', size: 64 * MiB, unavailable: 'in task t9' },
    ]);
  }
  tasks(): TaskStatus[] {
    return [status('t1'), resyncing('w1', GiB / 4)];
  }
  task(name: string): TaskStatus {
    const script = this.scripts.get(name);
    if (script) return script.length > 1 ? (script.shift() ?? status(name)) : (script[0] ?? status(name));
    if (name === 't1') return status('t1');
    throw notFound('no-such-replication-task', `replication task ${name} does not exist`);
  }
  createTask(request: CreateTaskRequest): Promise<TaskStatus> {
    this.calls.push(['createTask', request]);
    return Promise.resolve(status(request.name, { running: false, connection: 'standalone', ...request }));
  }
  deleteTask(name: string): Promise<void> {
    this.calls.push(['deleteTask', name]);
    return Promise.resolve();
  }
  startTask(name: string): Promise<TaskStatus> {
    return this.act('startTask', name);
  }
  stopTask(name: string): Promise<TaskStatus> {
    return this.act('stopTask', name);
  }
  verify(name: string): Promise<TaskStatus> {
    return this.act('verify', name);
  }
  demote(name: string): Promise<TaskStatus> {
    return this.act('demote', name);
  }
  promote(name: string, force: boolean): Promise<TaskStatus & { warning?: string }> {
    this.calls.push(['promote', name, force]);
    return Promise.resolve({
      ...this.task(name),
      ...(force ? { warning: 'forced promotion of an outdated disk' } : {}),
    });
  }
  resolveSplitBrain(name: string, discard: 'local' | 'peer'): Promise<TaskStatus & { copy?: string }> {
    this.calls.push(['resolveSplitBrain', name, discard]);
    return Promise.resolve({ ...this.task(name), copy: '/srv/pool/vol1.discarded' });
  }
  private act(method: string, name: string): Promise<TaskStatus> {
    this.calls.push([method, name]);
    return Promise.resolve(this.task(name));
  }
}

const NODE: NodeInfo = {
  name: 'node-a',
  version: '0.0.0-test',
  nodeId: 'n-1',
  hostname: 'node-a.example.com',
  dataDir: '/var/lib/tandem',
  startedAt: '2026-11-02T10:00:00.000Z',
  api: '127.0.0.1:0',
  iscsiPortal: '127.0.0.1:3260',
  replication: '0.0.0.0:7789',
};

describe('tandem replication', () => {
  const fake = new FakeReplication();
  let app: FastifyInstance;
  let api: string;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-cli-test-'));
    const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const ctx = { node: () => NODE, replication: fake } as unknown as ApiContext;
    const noAuth = { register: () => undefined } as unknown as ApiAuth;
    app = await buildApiApp(ctx, noAuth, createLogger({ level: 'silent', destination: quiet }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tandem = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    runCli(['replication', ...args, '--api', api], env);
  const ok = async (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => {
    const result = await tandem(args, env);
    assert.equal(result.code, 0, `tandem replication ${args.join(' ')}: ${result.stderr}`);
    assert.ok(
      !result.stdout.includes(SECRET) && !result.stderr.includes(SECRET),
      'the secret is never printed',
    );
    return result;
  };
  const json = async <T>(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<T> =>
    JSON.parse((await ok([...args, '--json'], env)).stdout) as T;

  /** Runs the command in this process, as main.ts would, expecting a refusal; the exit code main.ts
   * would use and the message it would print. */
  async function refusal(args: readonly string[]): Promise<{ exitCode: number; message: string }> {
    let commanderOutput = '';
    const program = new Command('tandem').enablePositionalOptions();
    program.addCommand(replicationCommand());
    const quietly = (command: Command): void => {
      command.exitOverride().configureOutput({
        writeErr: (text) => (commanderOutput += text),
        writeOut: (text) => (commanderOutput += text),
      });
      command.commands.forEach(quietly);
    };
    quietly(program);
    try {
      await program.parseAsync(['replication', ...args, '--api', api], { from: 'user' });
    } catch (error) {
      if (error instanceof CommanderError)
        return { exitCode: error.exitCode === 0 ? 0 : 2, message: commanderOutput };
      if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message };
      throw error;
    }
    return assert.fail(`tandem replication ${args.join(' ')} was not refused`);
  }

  it('refuses bad arguments with exit code 2 and a clear message, before asking the daemon', async () => {
    const shortFile = join(dir, 'short-secret');
    writeFileSync(shortFile, 'short\n', { mode: 0o600 });
    process.env.TANDEM_TEST_SECRET = SECRET;
    delete process.env.TANDEM_TEST_UNSET;
    const cases: [string[], RegExp][] = [
      [['pair', '--peer-name', 'node-b'], /--secret-file FILE or --secret-env VAR/],
      [['pair', '--peer-name', 'node-b', '--secret', SECRET], /unknown option '--secret'/],
      [
        ['pair', '--peer-name', 'node-b', '--secret-file', shortFile, '--secret-env', 'S'],
        /'--secret-file <file>' cannot be used with option '--secret-env <var>'/,
      ],
      [
        ['pair', '--peer-name', 'node-b', '--secret-file', join(dir, 'missing')],
        /cannot read the secret file .*ENOENT/,
      ],
      [
        ['pair', '--peer-name', 'node-b', '--secret-env', 'TANDEM_TEST_UNSET'],
        /TANDEM_TEST_UNSET is not set/,
      ],
      [['pair', '--peer-name', 'node-b', '--secret-file', shortFile], /16 to 256 bytes; it is 5/],
      [
        ['pair', '--peer-name', 'node-b', '--secret-env', 'TANDEM_TEST_SECRET', '--peer-fingerprint', 'abc'],
        /64 hex digits/,
      ],
      [['pair', '--secret-env', 'TANDEM_TEST_SECRET'], /required option '--peer-name <name>' not specified/],
      [
        ['volume-mode', 'vol1', '--mode', 'both', '--mirror-server', '192.0.2.20:7789'],
        /Allowed choices are source, destination/,
      ],
      [['volume-mode', 'vol1', '--mirror-server', '192.0.2.20:7789'], /required option '--mode <mode>'/],
      [['volume-mode', 'vol1', '--mode', 'source', '--mirror-server', '7789'], /HOST:PORT/],
      [
        ['volume-mode', 'vol1', '--mode', 'source', '--mirror-server', 'peer.example:7789'],
        /not an IP address/,
      ],
      [['volume-mode', 'vol1', '--mode', 'source', '--mirror-server', '192.0.2.20:0'], /1 to 65535/],
      [['volume-mode', 'vol1', '--mode', 'source', '--mirror-server', '192.0.2.20:99999'], /no valid port/],
      [['task', 'create', 't2', '--volume', 'v', '--remote-volume', 'r', '--rate', 'fast'], /not a size/],
      [['task', 'create', 't2', '--volume', 'v', '--remote-volume', 'r', '--rate', '0'], /at least 1 byte/],
      [
        ['task', 'create', 't2', '--volume', 'v', '--remote-volume', 'r', '--fixed-rate'],
        /--fixed-rate needs --rate/,
      ],
      [['task', 'create', 't2', '--volume', 'v'], /required option '--remote-volume <volume>'/],
      [['task', 'resolve', 't1', '--discard', 'both'], /Allowed choices are local, peer/],
      [['task', 'resolve', 't1'], /required option '--discard <side>'/],
      [['task', 'promote'], /missing required argument 'name'/],
      [['task', 'watch', 't1', '--interval', '0'], /seconds from 0.01 to 3600/],
      [['task', 'frobnicate', 't1'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const what = `tandem replication ${args.join(' ')}`;
      const refused = await refusal(args);
      assert.equal(refused.exitCode, 2, `${what}: ${refused.message}`);
      assert.match(refused.message, message, what);
      assert.ok(!refused.message.includes(SECRET), `${what} does not echo the secret`);
    }
    assert.deepEqual(fake.calls, [], 'no refused command reached the service');
    delete process.env.TANDEM_TEST_SECRET;
  });

  it('exits 2 from the real command line, with the message on stderr only', async () => {
    const cases: [string[], RegExp][] = [
      [['pair', '--peer-name', 'node-b'], /error: give the shared secret with --secret-file FILE/],
      [['pair', '--peer-name', 'node-b', '--secret', SECRET], /unknown option '--secret'/],
      [['task', 'resolve', 't1', '--discard', 'both'], /Allowed choices are local, peer/],
    ];
    const results = await Promise.all(cases.map(([args]) => tandem(args)));
    cases.forEach(([args, message], index) => {
      const result = results[index]!;
      const what = `tandem replication ${args.join(' ')}`;
      assert.equal(result.code, 2, `${what}: exit ${String(result.code)} ${result.stderr}`);
      assert.match(result.stderr, message, what);
      assert.equal(result.stdout, '', `${what} prints nothing on stdout`);
    });
    assert.deepEqual(fake.calls, []);
  });

  it('pairs with the secret from a file or the environment, shows the pairing and unpairs', async () => {
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    chmodSync(secretFile, 0o600);
    const paired = await json<PairingView>([
      'pair',
      '--peer-name',
      'node-b',
      '--secret-file',
      secretFile,
      '--tls',
      '--peer-fingerprint',
      'AB:'.repeat(31) + 'AB',
    ]);
    assert.equal(paired.paired, true);
    assert.deepEqual(fake.calls.at(-1), [
      'pair',
      { peerName: 'node-b', secret: SECRET, tls: true, peerFingerprint: 'ab'.repeat(32) },
    ]);

    const fromEnv = await ok(['pair', '--peer-name', 'node-c', '--secret-env', 'PAIR_SECRET'], {
      PAIR_SECRET: SECRET,
    });
    assert.match(fromEnv.stdout, /node-c/);
    assert.deepEqual(fake.calls.at(-1), ['pair', { peerName: 'node-c', secret: SECRET }]);

    chmodSync(secretFile, 0o644);
    const loose = await ok(['pair', '--peer-name', 'node-b', '--secret-file', secretFile]);
    assert.match(loose.stderr, /can be read by other users; chmod 600/);

    const shown = await ok(['pairing']);
    assert.match(shown.stdout, /node-a/);
    assert.match(shown.stdout, /0\.0\.0\.0:7789/);
    assert.match((await ok(['unpair'])).stdout, /unpaired/);
    assert.equal((await json<PairingView>(['pairing'])).paired, false);
  });

  it('sets and shows volume modes, and browses the peer', async () => {
    const settings = await json<VolumeReplicationSettings>([
      'volume-mode',
      'vol2',
      '--mode',
      'destination',
      '--mirror-server',
      '[2001:db8::1]:7789',
      '--clear-metadata',
    ]);
    assert.deepEqual(settings, { volume: 'vol2', mode: 'destination', mirrorServer: '[2001:db8::1]:7789' });
    assert.deepEqual(fake.calls.at(-1), [
      'setVolumeSettings',
      'vol2',
      { mode: 'destination', mirrorServer: '[2001:db8::1]:7789', clearMetadata: true },
    ]);
    assert.match((await ok(['volume-show', 'vol1'])).stdout, /192\.0\.2\.20:7789/);
    const none = await tandem(['volume-show', 'vol9']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /vol9 has no replication settings/);

    const browse = await ok(['browse']);
    assert.match(browse.stdout, /remote1/);
    assert.match(browse.stdout, /in task t9/);
  });

  it('creates, lists, shows, drives and deletes tasks', async () => {
    const created = await json<TaskStatus>([
      'task',
      'create',
      't2',
      '--volume',
      'vol2',
      '--remote-volume',
      'remote2',
      '--rate',
      '40MiB',
      '--fixed-rate',
    ]);
    assert.equal(created.name, 't2');
    assert.deepEqual(fake.calls.at(-1), [
      'createTask',
      {
        name: 't2',
        volume: 'vol2',
        remoteVolume: 'remote2',
        rate: { mode: 'fixed', bytesPerSecond: 40 * MiB },
      },
    ]);
    await ok(['task', 'create', 't3', '--volume', 'vol3', '--remote-volume', 'remote3', '--rate', '1G']);
    assert.deepEqual(fake.calls.at(-1), [
      'createTask',
      { name: 't3', volume: 'vol3', remoteVolume: 'remote3', rate: { mode: 'dynamic', bytesPerSecond: GiB } },
    ]);

    const list = await ok(['task', 'list']);
    for (const text of ['NAME', 't1', 'w1', 'sync-source', 'resync 25%'])
      assert.ok(list.stdout.includes(text), text);
    const shown = await ok(['task', 'show', 't1']);
    for (const text of ['peer disk state', 'out of sync', 'dynamic, at most 100 MiB/s', 'last error'])
      assert.ok(shown.stdout.includes(text), text);

    for (const action of ['start', 'stop', 'verify', 'demote']) await ok(['task', action, 't1']);
    const promoted = await ok(['task', 'promote', 't1', '--force']);
    assert.match(promoted.stderr, /warning: forced promotion of an outdated disk/);
    assert.equal((await ok(['task', 'promote', 't1'])).stderr, '');
    const resolved = await ok(['task', 'resolve', 't1', '--discard', 'local']);
    assert.match(resolved.stdout, /copied to \/srv\/pool\/vol1\.discarded/);
    assert.match((await ok(['task', 'delete', 't2'])).stdout, /task deleted/);
    assert.deepEqual(
      fake.calls.slice(-8).map(([method, ...args]) => [method, ...args]),
      [
        ['startTask', 't1'],
        ['stopTask', 't1'],
        ['verify', 't1'],
        ['demote', 't1'],
        ['promote', 't1', true],
        ['promote', 't1', false],
        ['resolveSplitBrain', 't1', 'local'],
        ['deleteTask', 't2'],
      ],
    );

    const ghost = await tandem(['task', 'show', 'ghost']);
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /replication task ghost does not exist/);
    const badName = await tandem(['task', 'show', '..']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /must not contain "\.\."/);
  });

  it('watches a resync to its end, one JSON line per poll', async () => {
    const result = await ok(['task', 'watch', 'w1', '--interval', '0.05', '--json']);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as TaskStatus);
    assert.deepEqual(
      lines.map((s) => [s.connection, s.resync?.doneBytes ?? null]),
      [
        ['sync-source', 0],
        ['sync-source', GiB / 2],
        ['sync-source', GiB],
        ['connected', null],
      ],
    );
  });

  it('watches without a terminal as plain lines, and fails on split brain', async () => {
    const lines = await ok(['task', 'watch', 'w2', '--interval', '0.05']);
    assert.match(lines.stdout, /^w2: resync 50% 512 MiB of 1 GiB, 50 MiB\/s, ETA 10s$/m);
    assert.match(lines.stdout, /^w2: connected, primary, disk up-to-date\/up-to-date, 0 B out of sync$/m);
    const verify = await ok(['task', 'watch', 'v1', '--interval', '0.05']);
    assert.match(verify.stdout, /^v1: verify 0% 0 B of 1 GiB, -, ETA -, 0 B mismatched$/m);
    assert.match(
      verify.stdout,
      /^v1: verify 50% 512 MiB of 1 GiB, [\d.]+ [KMGT]iB\/s, ETA \w+, 4 KiB mismatched$/m,
      'the verify rate is measured between polls',
    );
    const split = await tandem(['task', 'watch', 'sb1', '--interval', '0.05']);
    assert.equal(split.code, 1);
    assert.match(split.stdout, /sb1: connecting/);
    assert.match(split.stdout, /sb1: split-brain/);
    assert.match(split.stderr, /task sb1 stopped: split-brain/);
  });
});
