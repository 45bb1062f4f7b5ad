// Data replication node to node: two real daemons on loopback, the destination's agent (a supervised
// rsync --daemon) serving a share, the source's task run through the CLI, the log read back with
// `tandem tasks log`.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { DatarepTaskView, RunResultView } from '../../src/datarep/datarep-service.js';
import type { TaskLogEntry } from '../../src/tasks/task-log.js';
import { cliJson, runCli, startDaemon, type Daemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/temp-dir.js';
import { freePort } from '../unit/datarep/helpers/rsyncd.js';
import { buildHardTree, describeTree } from '../unit/datarep/helpers/tree.js';

const PASSWORD = 'agent password 42';
const ENV = { AGENT_PW: PASSWORD, WRONG_PW: 'not it' };

interface Pair {
  readonly a: string[];
  readonly b: string[];
  readonly source: string;
  readonly dest: string;
  readonly agentPort: number;
  readonly dataA: string;
}

/**
 * Runs `body` with a fresh pair and stops both daemons with SIGTERM afterwards, pass or fail: a
 * daemon killed with SIGKILL (the helper's last resort) cannot stop the agent it supervises.
 */
async function withPair(t: TestContext, body: (p: Pair) => Promise<void>): Promise<void> {
  const { p, daemons } = await pair(t);
  try {
    await body(p);
  } finally {
    for (const daemon of daemons) await daemon.stop('SIGTERM');
  }
}

async function pair(t: TestContext): Promise<{ p: Pair; daemons: Daemon[] }> {
  const dir = tempDir(t, 'tandem-datarep-e2e-');
  const dataA = join(dir, 'a');
  const dataB = join(dir, 'b');
  const daemons = [
    await startDaemon(t, dataA, { args: ['--replication', '127.0.0.1:0'] }),
    await startDaemon(t, dataB, { args: ['--replication', '127.0.0.1:0'] }),
  ];
  const a = ['--data', dataA];
  const b = ['--data', dataB];
  await cliJson([...a, 'volume', 'create', 'data', '--type', 'nas', '--size', '1GiB']);
  const share = await cliJson<{ path: string }>([
    ...a,
    'nas',
    'share',
    'create',
    'office',
    '--volume',
    'data',
  ]);
  await cliJson([...b, 'volume', 'create', 'vault', '--type', 'nas', '--size', '1GiB']);
  const backup = await cliJson<{ path: string }>([
    ...b,
    'nas',
    'share',
    'create',
    'backup',
    '--volume',
    'vault',
  ]);
  await cliJson(
    [
      ...b,
      'nas',
      'share',
      'replication',
      'backup',
      '--enable',
      '--id',
      'agent1',
      '--password-env',
      'AGENT_PW',
    ],
    ENV,
  );
  const agentPort = await freePort();
  await cliJson([
    ...b,
    'nas',
    'settings',
    'set',
    '--agent',
    'on',
    '--agent-port',
    String(agentPort),
    '--agent-address',
    '127.0.0.1',
  ]);
  return { p: { a, b, source: share.path, dest: backup.path, agentPort, dataA }, daemons };
}

async function runWatch(p: Pair, name: string): Promise<{ code: number | null; result: RunResultView }> {
  const run = await runCli([...p.a, 'datarep', 'task', 'run', name, '--watch', '--json']);
  const lines = run.stdout.trim().split('\n');
  return { code: run.code, result: JSON.parse(lines.at(-1) ?? '{}') as RunResultView };
}

/** The agent's processes: the daemon and the connection processes it forked. */
function processTree(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children.flatMap(processTree)];
}

describe('data replication between two daemons', { concurrency: false }, () => {
  it('browse, create, run with --watch, and the tree arrives intact; the log has start and finish', (t) =>
    withPair(t, async (p) => {
      buildHardTree(p.source);
      const shares = await cliJson<{ name: string }[]>([
        ...p.a,
        'datarep',
        'browse',
        `127.0.0.1:${p.agentPort}`,
      ]);
      assert.deepEqual(
        shares.map((s) => s.name),
        ['backup'],
      );

      const noPassword = await runCli([
        ...p.a,
        'datarep',
        'task',
        'create',
        'nightly',
        '--share',
        'office',
        '--destination',
        `127.0.0.1:${p.agentPort}`,
        '--destination-share',
        'backup',
        '--agent-id',
        'agent1',
      ]);
      assert.equal(noPassword.code, 2);
      assert.match(noPassword.stderr, /--password-file FILE or --password-env VAR/);

      const task = await cliJson<DatarepTaskView>(
        [
          ...p.a,
          'datarep',
          'task',
          'create',
          'nightly',
          '--share',
          'office',
          '--destination',
          `127.0.0.1:${p.agentPort}`,
          '--destination-share',
          'backup',
          '--agent-id',
          'agent1',
          '--password-env',
          'AGENT_PW',
          '--delete',
          '--every',
          '6',
        ],
        ENV,
      );
      assert.equal(task.schedules[0]?.description, 'every 6 hours');
      assert.ok(!JSON.stringify(task).includes(PASSWORD), 'the API never shows the password');
      const passwordFile = join(p.dataA, 'datarep', 'passwords', 'nightly.password');
      assert.equal(statSync(passwordFile).mode & 0o777, 0o600);

      const { code, result } = await runWatch(p, 'nightly');
      assert.equal(code, 0, JSON.stringify(result));
      assert.equal(result.status, 'ok');
      const src = describeTree(p.source);
      const dst = describeTree(p.dest);
      assert.deepEqual(dst.entries, src.entries);
      assert.deepEqual(dst.hardLinkGroups, src.hardLinkGroups);
      assert.ok((dst.allocated['sparse.img'] ?? Infinity) <= 64 * 1024, 'sparse stays sparse');

      const log = await cliJson<TaskLogEntry[]>([
        ...p.a,
        'tasks',
        'log',
        '--name',
        'nightly',
        '--type',
        'data-replication',
      ]);
      assert.deepEqual(
        log.map((r) => [r.status, r.action]),
        [
          ['ok', 'finished'],
          ['ok', 'started'],
        ],
      );
      const table = await runCli([...p.a, 'tasks', 'log']);
      assert.equal(table.code, 0);
      assert.match(table.stdout, /nightly.*data-replication.*OK.*finished/);
      assert.deepEqual(await cliJson([...p.a, 'tasks', 'list']), []);
      const snapshots = await cliJson<{ snapshots: unknown[] }>([...p.a, 'nas', 'snapshot', 'list', 'data']);
      assert.deepEqual(snapshots.snapshots, [], 'the run released its snapshot');

      // Incremental: a change and a delete arrive on the next run.
      writeFileSync(join(p.source, 'plain.txt'), 'changed\n');
      const second = await runWatch(p, 'nightly');
      assert.equal(second.code, 0);
      assert.equal(second.result.stats?.transferredFiles, 1);
      assert.equal(readFileSync(join(p.dest, 'plain.txt'), 'utf8'), 'changed\n');
    }));

  it('a wrong password fails with a clear error row and writes nothing; bad input is refused', (t) =>
    withPair(t, async (p) => {
      writeFileSync(join(p.source, 'a.txt'), 'a\n');
      await cliJson(
        [
          ...p.a,
          'datarep',
          'task',
          'create',
          'bad',
          '--share',
          'office',
          '--destination',
          `127.0.0.1:${p.agentPort}`,
          '--destination-share',
          'backup',
          '--agent-id',
          'agent1',
          '--password-env',
          'WRONG_PW',
        ],
        ENV,
      );
      const { code, result } = await runWatch(p, 'bad');
      assert.equal(code, 1);
      assert.match(result.details, /authentication failed: wrong ID or password/);
      assert.deepEqual(readdirSync(p.dest), []);
      const [row] = await cliJson<TaskLogEntry[]>([...p.a, 'tasks', 'log', '--status', 'error']);
      assert.match(row?.details ?? '', /authentication failed/);

      for (const [flag, value] of [
        ['--destination-share', '../etc'],
        ['--destination-share', 'a;b'],
        ['--agent-id', '$(id)'],
        ['--destination', 'host;rm'],
        ['--share', 'nope'],
      ]) {
        const args = [
          '--share',
          'office',
          '--destination',
          `127.0.0.1:${p.agentPort}`,
          '--destination-share',
          'backup',
          '--agent-id',
          'agent1',
        ];
        const i = args.indexOf(flag ?? '');
        args[i + 1] = value ?? '';
        const refused = await runCli(
          [...p.a, 'datarep', 'task', 'create', 'evil', ...args, '--password-env', 'AGENT_PW'],
          ENV,
        );
        assert.notEqual(refused.code, 0, `${flag} ${value}`);
        assert.match(refused.stderr, /error:/);
      }
      const names = (await cliJson<DatarepTaskView[]>([...p.a, 'datarep', 'task', 'list'])).map(
        (x) => x.name,
      );
      assert.deepEqual(names, ['bad']);
      assert.ok(!existsSync(join(p.dataA, 'datarep', 'passwords', 'evil.password')));
    }));

  it('the agent killed mid-run: the run fails cleanly, the agent comes back, the next run succeeds', (t) =>
    withPair(t, async (p) => {
      writeFileSync(join(p.source, 'big.bin'), Buffer.alloc(24 * 1024 * 1024, 'k'));
      await cliJson(
        [
          ...p.a,
          'datarep',
          'task',
          'create',
          'slow',
          '--share',
          'office',
          '--destination',
          `127.0.0.1:${p.agentPort}`,
          '--destination-share',
          'backup',
          '--agent-id',
          'agent1',
          '--password-env',
          'AGENT_PW',
          '--bwlimit',
          '1MiB',
        ],
        ENV,
      );
      // About 24 s at 1 MiB/s: time enough to find the agent's connection process and kill it mid-run.
      const agent = await cliJson<{ pid: number }>([...p.b, 'nas', 'agent', 'status']);
      await cliJson([...p.a, 'datarep', 'task', 'run', 'slow']);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const t1 = await cliJson<DatarepTaskView>([...p.a, 'datarep', 'task', 'show', 'slow']);
        if ((t1.running?.progress.bytesDone ?? 0) > 0) break;
        assert.ok(Date.now() < deadline, 'the transfer started');
        await new Promise((r) => setTimeout(r, 100));
      }
      const victims = processTree(agent.pid);
      assert.ok(victims.length >= 2, `the agent and its connection process: ${victims.join(' ')}`);
      for (const pid of victims) process.kill(pid, 'SIGKILL');
      let failed: RunResultView | null = null;
      while (failed === null) {
        const t2 = await cliJson<DatarepTaskView>([...p.a, 'datarep', 'task', 'show', 'slow']);
        if (t2.running === null && t2.lastRun) failed = t2.lastRun;
        else await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(failed.status, 'error', JSON.stringify(failed));
      assert.deepEqual(
        (await cliJson<{ snapshots: unknown[] }>([...p.a, 'nas', 'snapshot', 'list', 'data'])).snapshots,
        [],
      );
      // The supervisor restarts the agent; then the next run goes through.
      for (const until = Date.now() + 30_000; ;) {
        const status = await cliJson<{ running: boolean; pid: number | null }>([
          ...p.b,
          'nas',
          'agent',
          'status',
        ]);
        if (status.running && status.pid !== agent.pid) break;
        assert.ok(Date.now() < until, 'the agent was restarted');
        await new Promise((r) => setTimeout(r, 200));
      }
      await cliJson([...p.a, 'datarep', 'task', 'update', 'slow', '--unlimited']);
      const next = await runWatch(p, 'slow');
      assert.equal(next.code, 0, JSON.stringify(next.result));
      assert.equal(readFileSync(join(p.dest, 'big.bin')).length, 24 * 1024 * 1024);
    }));
});
