// Data replication runs with the real rsync against a stock `rsync --daemon` set up by hand (generated
// rsyncd.conf, 0600 secrets, a port chosen at run time), the service in-process over a directory-backed
// NAS whose snapshots are real copies. Same-system replication: the agent serves a directory of this node.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createRepositories } from '../../src/config/repositories/index.js';
import { openStore } from '../../src/config/store.js';
import {
  DATAREP_TASK_TYPE,
  DatarepService,
  type DatarepTaskView,
  type RunResultView,
} from '../../src/datarep/datarep-service.js';
import { PasswordStore } from '../../src/datarep/password-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { RunningTasks } from '../../src/tasks/running-tasks.js';
import { TaskLog } from '../../src/tasks/task-log.js';
import type { Trigger } from '../../src/datarep/schedule.js';
import { DirectoryNas } from '../unit/datarep/helpers/fake-nas.js';
import { startStockRsyncd, type StockRsyncd } from '../unit/datarep/helpers/rsyncd.js';
import { buildHardTree, describeTree } from '../unit/datarep/helpers/tree.js';
import { canMountBtrfs, mountBtrfs } from '../helpers/btrfs-loop.js';
import { tempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'correct horse battery';

interface Lab {
  readonly dir: string;
  readonly nas: DirectoryNas;
  readonly source: string;
  readonly dest: string;
  readonly rsyncd: StockRsyncd;
  readonly service: DatarepService;
  readonly log: TaskLog;
  readonly passwords: string;
  restartRsyncd(): Promise<StockRsyncd>;
}

async function lab(
  t: TestContext,
  options: { triggerFor?: (spec: unknown) => Trigger; btrfsMount?: string } = {},
): Promise<Lab> {
  const dir = tempDir(t, 'tandem-datarep-');
  const db = openStore(join(dir, 'tandem.db'));
  const repos = createRepositories(db);
  const nas =
    options.btrfsMount === undefined
      ? new DirectoryNas(join(dir, 'nas'))
      : new DirectoryNas(join(options.btrfsMount, 'nas'), { btrfs: true });
  const source = nas.addShare('office', 'vol1', 'shares/office').path;
  // Same system: the destination is another share of this node's NAS.
  const dest = nas.addShare('office-copy', 'vol2', 'office-copy').path;
  const modules = [{ name: 'backup', path: dest, user: 'agent', password: PASSWORD }];
  let rsyncd = await startStockRsyncd(t, join(dir, 'rsyncd'), modules);
  const log = new TaskLog(repos.taskLog);
  const passwords = join(dir, 'passwords');
  const service = new DatarepService({
    repo: repos.datarep,
    taskLog: log,
    running: new RunningTasks(),
    nas: () => nas,
    passwords: new PasswordStore(passwords),
    logger: createLogger({ level: 'silent' }),
    cancelGraceMs: 1000,
    ...(options.triggerFor ? { triggerFor: options.triggerFor } : {}),
  });
  service.start();
  t.after(async () => {
    await service.close();
    db.close();
  });
  return {
    dir,
    nas,
    source,
    dest,
    get rsyncd() {
      return rsyncd;
    },
    service,
    log,
    passwords,
    async restartRsyncd() {
      await rsyncd.kill();
      rsyncd = await startStockRsyncd(t, join(dir, 'rsyncd'), modules);
      return rsyncd;
    },
  };
}

function createTask(l: Lab, extra: Partial<Parameters<DatarepService['create']>[0]> = {}): DatarepTaskView {
  return l.service.create({
    name: 'nightly',
    sourceShare: 'office',
    destination: `127.0.0.1:${l.rsyncd.port}`,
    destinationShare: 'backup',
    agentId: 'agent',
    password: PASSWORD,
    delete: true,
    ...extra,
  });
}

async function until<T>(
  what: string,
  probe: () => T | undefined | null | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the task by hand and waits for its result. */
async function runAndWait(l: Lab, name = 'nightly'): Promise<RunResultView> {
  const { runId } = l.service.run(name);
  return until(`run ${runId}`, () => {
    const last = l.service.show(name).lastRun;
    return last?.runId === runId ? last : undefined;
  });
}

function assertNoSnapshotsLeft(l: Lab): void {
  assert.deepEqual(l.nas.snapshots('vol1'), [], 'every snapshot was released');
  const snapDir = join(l.dir, 'nas', 'snapshots', 'vol1');
  assert.deepEqual(existsSync(snapDir) ? readdirSync(snapDir) : [], [], 'no snapshot directory left behind');
}

describe('data replication with real rsync', { concurrency: false }, () => {
  it('replicates unicode names, spaces, symlinks, hard links, sparse files and permissions intact', async (t) => {
    const l = await lab(t);
    buildHardTree(l.source);
    createTask(l);
    const result = await runAndWait(l);
    assert.equal(result.status, 'ok', result.details);
    const src = describeTree(l.source);
    const dst = describeTree(l.dest);
    assert.deepEqual(dst.entries, src.entries, 'names, types, modes, sizes, contents and link targets');
    assert.deepEqual(
      dst.hardLinkGroups,
      [['dir with spaces/hard-b', 'hard-a']],
      'hard links share one inode',
    );
    assert.ok(
      (dst.allocated['sparse.img'] ?? Infinity) <= 64 * 1024,
      `sparse file stays sparse: ${dst.allocated['sparse.img']} bytes allocated`,
    );
    assert.equal(statSync(join(l.dest, 'sparse.img')).size, 64 * 1024 * 1024);
    assert.ok(
      result.stats !== null && result.stats.files !== null && result.stats.files >= 15,
      JSON.stringify(result.stats),
    );
    assert.equal(result.stats.transferredFiles, 8, 'regular files sent, the hard link only once');
    assertNoSnapshotsLeft(l);

    const rows = l.log.query({ name: 'nightly' });
    assert.deepEqual(
      rows.map((r) => [r.status, r.action]),
      [
        ['ok', 'finished'],
        ['ok', 'started'],
      ],
    );
    assert.equal(rows[0]?.runId, rows[1]?.runId);
    assert.equal(rows[0]?.type, DATAREP_TASK_TYPE);
    assert.match(rows[0].details, /transferred/);
  });

  it('adds, changes, deletes and renames show up after the next run', async (t) => {
    const l = await lab(t);
    writeFileSync(join(l.source, 'keep.txt'), 'v1\n');
    writeFileSync(join(l.source, 'doomed.txt'), 'bye\n');
    writeFileSync(join(l.source, 'old-name.txt'), 'moving\n');
    mkdirSync(join(l.source, 'gone-dir'));
    writeFileSync(join(l.source, 'gone-dir', 'inner'), 'x');
    createTask(l);
    assert.equal((await runAndWait(l)).status, 'ok');
    appendFileSync(join(l.source, 'keep.txt'), 'v2\n');
    writeFileSync(join(l.source, 'new file ✓.txt'), 'new\n');
    rmSync(join(l.source, 'doomed.txt'));
    rmSync(join(l.source, 'gone-dir'), { recursive: true });
    renameSync(join(l.source, 'old-name.txt'), join(l.source, 'new-name.txt'));
    const second = await runAndWait(l);
    assert.equal(second.status, 'ok', second.details);
    assert.deepEqual(describeTree(l.dest).entries, describeTree(l.source).entries);
    assert.equal(readFileSync(join(l.dest, 'keep.txt'), 'utf8'), 'v1\nv2\n');
    assert.ok(!existsSync(join(l.dest, 'doomed.txt')) && !existsSync(join(l.dest, 'old-name.txt')));
    assert.equal(second.stats?.deletedFiles, 4, 'doomed.txt, old-name.txt, gone-dir and its file');

    // Without --delete, files gone from the source stay on the destination.
    l.service.update('nightly', { delete: false });
    rmSync(join(l.source, 'keep.txt'));
    assert.equal((await runAndWait(l)).status, 'ok');
    assert.ok(existsSync(join(l.dest, 'keep.txt')));
  });

  it('a file changed while a run is in progress arrives as it was at snapshot time', async (t) => {
    const l = await lab(t);
    const before = Buffer.alloc(3 * 1024 * 1024, 'a');
    writeFileSync(join(l.source, 'big.bin'), before);
    writeFileSync(join(l.source, 'small.txt'), 'snapshot time\n');
    // 1 MiB/s: the transfer takes about three seconds.
    createTask(l, { bandwidthLimit: 1024 * 1024 });
    const { runId } = l.service.run('nightly');
    await until('transfer phase', () => l.service.show('nightly').running?.progress.phase === 'transfer');
    writeFileSync(join(l.source, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 'b'));
    writeFileSync(join(l.source, 'small.txt'), 'changed later\n');
    const seen = await until('progress', () => {
      const p = l.service.show('nightly').running?.progress;
      return p && p.bytesDone > 0 && (p.bytesPerSecond ?? 0) > 0 ? p : undefined;
    });
    assert.ok(seen.percent !== null && seen.percent < 100, 'live percentage');
    const result = await until('finish', () => {
      const last = l.service.show('nightly').lastRun;
      return last?.runId === runId ? last : undefined;
    });
    assert.equal(result.status, 'ok', result.details);
    assert.ok(readFileSync(join(l.dest, 'big.bin')).equals(before), 'big.bin as at snapshot time');
    assert.equal(readFileSync(join(l.dest, 'small.txt'), 'utf8'), 'snapshot time\n');
    assertNoSnapshotsLeft(l);
  });

  it('a wrong password fails the run with a clear error row, and nothing is written', async (t) => {
    const l = await lab(t);
    writeFileSync(join(l.source, 'data.txt'), 'x\n');
    createTask(l, { password: 'not the password' });
    const result = await runAndWait(l);
    assert.equal(result.status, 'error');
    assert.match(result.details, /^authentication failed: wrong ID or password/);
    assert.deepEqual(readdirSync(l.dest), []);
    const [finish] = l.log.query({ name: 'nightly', status: 'error' });
    assert.equal(finish?.action, 'finished');
    assert.match(finish.details, /authentication failed/);
    assert.ok(!finish.details.includes('not the password'), 'the password is not in the log');
    assertNoSnapshotsLeft(l);

    // With the right password (an update never shows it back) the same task succeeds.
    const updated = l.service.update('nightly', { password: PASSWORD });
    assert.ok(!JSON.stringify(updated).includes(PASSWORD));
    assert.equal((await runAndWait(l)).status, 'ok');
    assert.equal(statSync(join(l.passwords, 'nightly.password')).mode & 0o777, 0o600);
  });

  it('the agent killed mid-run: the run fails cleanly, the snapshot is released, the next run succeeds', async (t) => {
    const l = await lab(t);
    writeFileSync(join(l.source, 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 'z'));
    createTask(l, { bandwidthLimit: 512 * 1024 });
    const { runId } = l.service.run('nightly');
    await until('bytes moving', () => (l.service.show('nightly').running?.progress.bytesDone ?? 0) > 0);
    await l.rsyncd.kill();
    const failed = await until('failure', () => {
      const last = l.service.show('nightly').lastRun;
      return last?.runId === runId ? last : undefined;
    });
    assert.equal(failed.status, 'error');
    assert.match(failed.details, /exit (12|10|30|35)/);
    assertNoSnapshotsLeft(l);
    await l.restartRsyncd();
    l.service.update('nightly', { destination: `127.0.0.1:${l.rsyncd.port}`, bandwidthLimit: null });
    const next = await runAndWait(l);
    assert.equal(next.status, 'ok', next.details);
    assert.equal(readFileSync(join(l.dest, 'big.bin')).length, 4 * 1024 * 1024);
  });

  it('cancel stops rsync and logs the run as cancelled, releasing the snapshot', async (t) => {
    const l = await lab(t);
    writeFileSync(join(l.source, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 'c'));
    createTask(l, { bandwidthLimit: 256 * 1024 });
    const { runId } = l.service.run('nightly');
    await until('transfer', () => (l.service.show('nightly').running?.progress.bytesDone ?? 0) > 0);
    assert.throws(() => l.service.run('nightly'), /already running/);
    const cancelling = l.service.cancel('nightly');
    assert.equal(cancelling.cancelling, true);
    const result = await until(
      'cancel',
      () => {
        const last = l.service.show('nightly').lastRun;
        return last?.runId === runId ? last : undefined;
      },
      15_000,
    );
    assert.equal(result.action, 'cancelled');
    const [row] = l.log.query({ name: 'nightly', limit: 1 });
    assert.equal(row?.action, 'cancelled');
    assertNoSnapshotsLeft(l);
    assert.throws(() => l.service.cancel('nightly'), /not running/);
  });

  it('a schedule fires and logs start and finish; a run due while one is going is logged as skipped', async (t) => {
    const l = await lab(t, { triggerFor: () => ({ kind: 'cron', pattern: '*/2 * * * * *' }) });
    writeFileSync(join(l.source, 'data.txt'), 'scheduled\n');
    createTask(l, {
      schedules: [{ kind: 'weekly', days: ['mon', 'tue', 'wed', 'thu', 'fri'], time: '18:00' }],
    });
    const schedule = l.service.show('nightly').schedules[0];
    assert.equal(schedule?.description, 'Mon-Fri at 18:00');
    const finished = await until(
      'a scheduled finish',
      () => l.log.query({ name: 'nightly' }).find((r) => r.action === 'finished'),
      20_000,
    );
    assert.equal(finished.status, 'ok');
    const started = l.log.query({ runId: finished.runId ?? '' }).find((r) => r.action === 'started');
    assert.match(started?.details ?? '', /^schedule run/);
    assert.equal(readFileSync(join(l.dest, 'data.txt'), 'utf8'), 'scheduled\n');

    // A slow run now, so the next firing finds it busy.
    writeFileSync(join(l.source, 'big.bin'), Buffer.alloc(6 * 1024 * 1024, 's'));
    l.service.update('nightly', { bandwidthLimit: 1024 * 1024 });
    await until('a skipped row', () => l.log.query({ name: 'nightly', status: 'skipped' })[0], 20_000);
    l.service.removeSchedule('nightly', schedule.id);
    assert.deepEqual(l.service.show('nightly').schedules, []);
  });

  it(
    'on btrfs, later runs send only the changes since the base snapshot, which the task keeps',
    { skip: canMountBtrfs === true ? false : canMountBtrfs },
    async (t) => {
      const mount = mountBtrfs(t, '512M');
      if (mount === undefined) return;
      const l = await lab(t, { btrfsMount: mount });
      buildHardTree(l.source);
      for (let d = 0; d < 5; d++) {
        mkdirSync(join(l.source, `dir${d}`));
        for (let f = 0; f < 20; f++) writeFileSync(join(l.source, `dir${d}`, `f${f}`), `${d}/${f}\n`);
      }
      createTask(l);
      const first = await runAndWait(l);
      assert.equal(first.status, 'ok', first.details);
      assert.deepEqual(first.transfer, { kind: 'full', reason: 'no earlier run to build on' });
      const bases = (): string[] => l.nas.snapshots('vol1').map((s) => s.name);
      assert.equal(bases().length, 1, 'the snapshot the destination now holds is kept as the base');
      const firstBase = bases()[0];

      appendFileSync(join(l.source, 'dir1', 'f3'), 'changed\n');
      writeFileSync(join(l.source, 'dir2', 'new ✓'), 'new\n');
      rmSync(join(l.source, 'dir3', 'f7'));
      renameSync(join(l.source, 'dir4'), join(l.source, 'dir4 renamed'));
      const second = await runAndWait(l);
      assert.equal(second.status, 'ok', second.details);
      assert.equal(second.transfer?.kind, 'incremental', second.details);
      assert.ok(second.transfer.paths < 40, `${second.transfer.paths} paths listed`);
      assert.match(second.details, /changes only/);
      assert.deepEqual(describeTree(l.dest).entries, describeTree(l.source).entries);
      assert.deepEqual(describeTree(l.dest).hardLinkGroups, [['dir with spaces/hard-b', 'hard-a']]);
      // The old base goes right after the finish row.
      await until('the old base released', () => bases().length === 1, 10_000);
      assert.notEqual(bases()[0], firstBase);

      // A change of target (here: keep files gone from the source) makes the next run a whole-tree one.
      l.service.update('nightly', { delete: false });
      const third = await runAndWait(l);
      assert.deepEqual(third.transfer, { kind: 'full', reason: 'the task changed since its last run' });

      // A transfer that fails leaves the destination between two snapshots: the base goes too.
      await l.rsyncd.kill();
      writeFileSync(join(l.source, 'dir0', 'f0'), 'while the agent is down\n');
      const failed = await runAndWait(l);
      assert.equal(failed.status, 'error');
      await until('the base dropped', () => bases().length === 0, 10_000);
      await l.restartRsyncd();
      l.service.update('nightly', { destination: `127.0.0.1:${l.rsyncd.port}`, delete: true });
      const fourth = await runAndWait(l);
      assert.equal(fourth.transfer?.kind, 'full', fourth.details);
      assert.deepEqual(describeTree(l.dest).entries, describeTree(l.source).entries);

      // A deleted task takes its base snapshot with it.
      await until('one base', () => bases().length === 1, 10_000);
      l.service.delete('nightly');
      await until('the base released', () => bases().length === 0, 10_000);
    },
  );

  it('browse lists the modules of a stock agent; bad destinations are refused and change nothing', async (t) => {
    const l = await lab(t);
    assert.deepEqual(await l.service.browse(`127.0.0.1:${l.rsyncd.port}`), [
      { name: 'backup', comment: 'test module backup' },
    ]);
    for (const bad of [
      { destinationShare: '../etc' },
      { destinationShare: 'a;b' },
      { destination: 'x y' },
      { agentId: 'a@b' },
      { sourceShare: 'no-such-share' },
    ]) {
      assert.throws(() => createTask(l, bad));
    }
    assert.deepEqual(l.service.list(), []);
    assert.ok(!existsSync(join(l.passwords, 'nightly.password')));
  });
});
