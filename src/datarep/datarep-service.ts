// Data replication, source side: tasks (CRUD), their schedules, and runs. A run freezes the source share's
// NAS volume in a fresh snapshot, pushes the frozen share with rsync to the destination's agent, and
// releases the snapshot whatever happens (success, failure, cancel). Every run logs a start row and a
// finish row in the task log; a task never overlaps itself.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type {
  DatarepBaseRecord,
  DatarepRepo,
  DatarepScheduleRecord,
  DatarepTaskRecord,
} from '../config/repositories/datarep-repo.js';
import { conflict, invalid, messageOf, notFound, TandemError } from '../lib/errors.js';
import { validateName } from '../lib/names.js';
import type { NasControl, NasSnapshotView, ShareView } from '../nas/contract.js';
import type { Logger } from '../observability/logger.js';
import type { RunningTasks, RunningTaskView } from '../tasks/running-tasks.js';
import type { TaskLog } from '../tasks/task-log.js';
import { browseAgent, type AgentShare } from './browse.js';
import {
  formatDestination,
  parseDestination,
  validateAgentId,
  validateModule,
  validatePassword,
} from './destination.js';
import { planIncremental, type TransferPlan } from './incremental/plan.js';
import type { PasswordStore } from './password-store.js';
import { rsyncArgs, rsyncEnv } from './rsync-command.js';
import { explainExit } from './rsync-exit.js';
import type { RsyncStats } from './rsync-output.js';
import { startRsync, type RsyncProcess } from './rsync-process.js';
import {
  describeSchedule,
  triggerOf,
  validateSchedule,
  type ScheduleSpec,
  type Trigger,
} from './schedule.js';
import { Scheduler } from './scheduler.js';

export const DATAREP_TASK_TYPE = 'data-replication';

export type RunTrigger = 'manual' | 'schedule';

export interface TaskOptionsView {
  readonly delete: boolean;
  /** Bytes per second, or null. */
  readonly bandwidthLimit: number | null;
  readonly compress: boolean;
}

export interface ScheduleView {
  readonly id: number;
  readonly spec: ScheduleSpec;
  readonly description: string;
  readonly nextRun: string | null;
}

export interface RunResultView {
  readonly runId: string;
  readonly trigger: RunTrigger;
  readonly status: 'ok' | 'error';
  readonly action: 'finished' | 'cancelled';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly details: string;
  readonly stats: RsyncStats | null;
  readonly snapshot: { readonly mode: string; readonly createMs: number } | null;
  readonly transferMs: number | null;
  readonly releaseMs: number | null;
  /** Deciding what to transfer (on btrfs: btrfs send and building the list). */
  readonly planMs: number | null;
  /** What the run looked at: the changes since the base snapshot, or the whole tree (and why). */
  readonly transfer: TransferView | null;
}

export type TransferView =
  | { readonly kind: 'incremental'; readonly paths: number }
  | { readonly kind: 'full'; readonly reason: string };

export interface DatarepTaskView {
  readonly name: string;
  readonly sourceShare: string;
  /** host:port of the destination's agent. */
  readonly destination: string;
  readonly destinationShare: string;
  readonly agentId: string;
  /** The password itself is never shown. */
  readonly passwordSet: boolean;
  readonly options: TaskOptionsView;
  readonly schedules: ScheduleView[];
  readonly running: RunningTaskView | null;
  readonly lastRun: RunResultView | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface TaskInput {
  readonly sourceShare: string;
  readonly destination: string;
  readonly destinationShare: string;
  readonly agentId: string;
  readonly password: string;
  readonly delete?: boolean;
  readonly bandwidthLimit?: number | null;
  readonly compress?: boolean;
}

export interface CreateTaskInput extends TaskInput {
  readonly name: string;
  readonly schedules?: readonly unknown[];
}

export type UpdateTaskInput = Partial<TaskInput>;

export interface DatarepControl {
  list(): DatarepTaskView[];
  show(name: string): DatarepTaskView;
  create(input: CreateTaskInput): DatarepTaskView;
  update(name: string, input: UpdateTaskInput): DatarepTaskView;
  delete(name: string): void;
  run(name: string): RunningTaskView;
  cancel(name: string): RunningTaskView;
  addSchedule(name: string, spec: unknown): ScheduleView;
  removeSchedule(name: string, id: number): void;
  browse(destination: string): Promise<AgentShare[]>;
}

export interface DatarepServiceOptions {
  readonly repo: DatarepRepo;
  readonly taskLog: TaskLog;
  readonly running: RunningTasks;
  /** The NAS side; undefined while it is not running (runs then fail with a clear error). */
  readonly nas: () => NasControl | undefined;
  readonly passwords: PasswordStore;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Tests: arm each schedule with this trigger instead of its own (e.g. a seconds cron pattern). */
  readonly triggerFor?: (spec: ScheduleSpec) => Trigger;
  readonly cancelGraceMs?: number;
}

const BANDWIDTH_MIN = 1024;
/** Incremental runs trust the destination to still hold what it was sent; once a day a run checks it all. */
export const FULL_RUN_EVERY_MS = 24 * 60 * 60 * 1000;

interface RunState {
  readonly runId: string;
  readonly trigger: RunTrigger;
  readonly startedAt: Date;
  cancelled: boolean;
  process: RsyncProcess | null;
}

class Cancelled extends Error {}

/** Read through a call: the flag changes while the run awaits, which narrowing cannot see. */
const wasCancelled = (state: RunState): boolean => state.cancelled;

export class DatarepService implements DatarepControl {
  private readonly scheduler: Scheduler;
  private readonly now: () => Date;
  private readonly lastRuns = new Map<string, RunResultView>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: DatarepServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.scheduler = new Scheduler((task, id) => this.fired(task, id), this.now);
  }

  /** Arms every stored schedule. */
  start(): void {
    for (const record of this.options.repo.schedules()) this.arm(record);
  }

  /** Stops the schedules, cancels running runs and waits for them to release their snapshots. */
  async close(): Promise<void> {
    this.closed = true;
    this.scheduler.stop();
    for (const view of this.options.running.list(DATAREP_TASK_TYPE)) {
      this.options.running.cancel(DATAREP_TASK_TYPE, view.name);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  // ---- tasks ----

  list(): DatarepTaskView[] {
    return this.options.repo.tasks().map((t) => this.view(t));
  }

  show(name: string): DatarepTaskView {
    return this.view(this.record(name));
  }

  create(input: CreateTaskInput): DatarepTaskView {
    validateName('data replication task', input.name);
    if (this.options.repo.task(input.name)) {
      throw conflict('datarep-task-exists', `data replication task ${input.name} already exists`);
    }
    const fields = this.checkFields(input);
    const password = validatePassword(input.password);
    const schedules = (input.schedules ?? []).map(validateSchedule);
    const at = this.now().toISOString();
    const record: DatarepTaskRecord = { name: input.name, ...fields, createdAt: at, updatedAt: at };
    this.options.passwords.set(input.name, password);
    try {
      this.options.repo.insertTask(record);
    } catch (error) {
      this.options.passwords.delete(input.name);
      throw error;
    }
    for (const spec of schedules)
      this.arm(this.options.repo.insertSchedule(input.name, JSON.stringify(spec), at));
    this.options.logger.info(
      {
        task: input.name,
        destination: formatDestination({ host: record.destinationHost, port: record.destinationPort }),
      },
      'data replication task created',
    );
    return this.view(record);
  }

  update(name: string, input: UpdateTaskInput): DatarepTaskView {
    const current = this.record(name);
    const merged: TaskInput = {
      sourceShare: input.sourceShare ?? current.sourceShare,
      destination:
        input.destination ??
        formatDestination({ host: current.destinationHost, port: current.destinationPort }),
      destinationShare: input.destinationShare ?? current.destinationShare,
      agentId: input.agentId ?? current.agentId,
      password: input.password ?? '',
      delete: input.delete ?? current.deleteExtraneous,
      bandwidthLimit: input.bandwidthLimit === undefined ? current.bandwidthLimit : input.bandwidthLimit,
      compress: input.compress ?? current.compress,
    };
    const fields = this.checkFields(merged);
    const password = input.password === undefined ? undefined : validatePassword(input.password);
    const record: DatarepTaskRecord = { ...current, ...fields, updatedAt: this.now().toISOString() };
    if (password !== undefined) this.options.passwords.set(name, password);
    this.options.repo.updateTask(record);
    return this.view(record);
  }

  delete(name: string): void {
    this.record(name);
    if (this.options.running.get(DATAREP_TASK_TYPE, name)) {
      throw conflict('datarep-task-running', `task ${name} is running; cancel the run first`);
    }
    for (const schedule of this.options.repo.schedules(name)) this.scheduler.disarm(schedule.id);
    const base = this.options.repo.base(name);
    this.options.repo.deleteTask(name);
    if (base) void this.releaseBase(base);
    this.options.passwords.delete(name);
    this.lastRuns.delete(name);
  }

  async browse(destination: string): Promise<AgentShare[]> {
    return browseAgent(parseDestination(destination));
  }

  // ---- schedules ----

  addSchedule(name: string, spec: unknown): ScheduleView {
    this.record(name);
    const checked = validateSchedule(spec);
    const record = this.options.repo.insertSchedule(name, JSON.stringify(checked), this.now().toISOString());
    this.arm(record);
    return this.scheduleView(record);
  }

  removeSchedule(name: string, id: number): void {
    this.record(name);
    if (!this.options.repo.deleteSchedule(name, id)) {
      throw notFound('no-such-schedule', `task ${name} has no schedule ${id}`);
    }
    this.scheduler.disarm(id);
  }

  private arm(record: DatarepScheduleRecord): void {
    const spec = validateSchedule(JSON.parse(record.spec));
    const trigger = this.options.triggerFor?.(spec) ?? triggerOf(spec, new Date(record.createdAt));
    this.scheduler.arm({ id: record.id, taskName: record.taskName, trigger });
  }

  private fired(taskName: string, scheduleId: number): void {
    if (this.closed || !this.options.repo.task(taskName)) return;
    const busy = this.options.running.get(DATAREP_TASK_TYPE, taskName);
    if (busy) {
      this.options.taskLog.append({
        name: taskName,
        type: DATAREP_TASK_TYPE,
        status: 'skipped',
        action: 'skipped',
        runId: null,
        details: `schedule ${scheduleId} was due while the run started at ${busy.startedAt} was still going`,
      });
      return;
    }
    try {
      this.begin(this.record(taskName), 'schedule');
    } catch (error) {
      this.options.logger.error(
        { task: taskName, err: error },
        'scheduled data replication run did not start',
      );
    }
  }

  // ---- runs ----

  run(name: string): RunningTaskView {
    const task = this.record(name);
    if (this.closed) throw new TandemError('unavailable', 'shutting-down', 'the node is shutting down');
    const busy = this.options.running.get(DATAREP_TASK_TYPE, name);
    if (busy)
      throw conflict('datarep-task-running', `task ${name} is already running (since ${busy.startedAt})`);
    return this.begin(task, 'manual');
  }

  cancel(name: string): RunningTaskView {
    this.record(name);
    if (!this.options.running.cancel(DATAREP_TASK_TYPE, name)) {
      throw conflict('datarep-task-not-running', `task ${name} is not running`);
    }
    const view = this.options.running.get(DATAREP_TASK_TYPE, name);
    if (!view) throw conflict('datarep-task-not-running', `task ${name} is not running`);
    return view;
  }

  private begin(task: DatarepTaskRecord, trigger: RunTrigger): RunningTaskView {
    const state: RunState = {
      runId: randomUUID(),
      trigger,
      startedAt: this.now(),
      cancelled: false,
      process: null,
    };
    const added = this.options.running.add(
      {
        runId: state.runId,
        name: task.name,
        type: DATAREP_TASK_TYPE,
        startedAt: state.startedAt.toISOString(),
        trigger,
      },
      () => {
        state.cancelled = true;
        state.process?.cancel();
      },
    );
    if (!added) throw conflict('datarep-task-running', `task ${task.name} is already running`);
    this.options.taskLog.append({
      name: task.name,
      type: DATAREP_TASK_TYPE,
      status: 'ok',
      action: 'started',
      runId: state.runId,
      details: `${trigger} run: share ${task.sourceShare} to ${task.destinationShare} on ${formatDestination({ host: task.destinationHost, port: task.destinationPort })}`,
    });
    const view = this.options.running.get(DATAREP_TASK_TYPE, task.name);
    const done = this.execute(task, state).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    if (!view) throw new TandemError('internal', 'run-lost', 'the run vanished from the registry');
    return view;
  }

  private progress(name: string, update: Parameters<RunningTasks['update']>[2]): void {
    this.options.running.update(DATAREP_TASK_TYPE, name, update);
  }

  private async execute(task: DatarepTaskRecord, state: RunState): Promise<void> {
    const log = this.options.logger.child({ task: task.name, runId: state.runId });
    let nas: NasControl | undefined;
    let share: ShareView | undefined;
    let snapshot: NasSnapshotView | undefined;
    let plan: TransferPlan | undefined;
    let listDir: string | undefined;
    let transferStarted = false;
    let retiredBase: DatarepBaseRecord | undefined;
    let snapshotMs: number | null = null;
    let planMs: number | null = null;
    let transferMs: number | null = null;
    let releaseMs: number | null = null;
    let stats: RsyncStats | null = null;
    let status: 'ok' | 'error' = 'error';
    let action: 'finished' | 'cancelled' = 'finished';
    let details: string;
    try {
      nas = this.options.nas();
      if (!nas) throw new TandemError('unavailable', 'nas-not-running', 'the NAS service is not running');
      share = nas.share(task.sourceShare);
      const password = this.options.passwords.get(task.name);
      this.progress(task.name, { phase: 'snapshot' });
      const snapStart = performance.now();
      snapshot = await nas.createSnapshot(share.volume, { name: snapshotName() });
      snapshotMs = Math.round(performance.now() - snapStart);
      if (state.cancelled) throw new Cancelled();
      const source = inside(snapshot.path, share.relativePath);
      const planStart = performance.now();
      plan = await this.planTransfer(task, share, snapshot, nas);
      planMs = Math.round(performance.now() - planStart);
      let filesFrom: string | undefined;
      if (plan.kind === 'incremental') {
        listDir = await mkdtemp(join(tmpdir(), 'tandem-datarep-'));
        filesFrom = join(listDir, 'files');
        await writeFile(filesFrom, plan.paths.map((p) => `${p}\0`).join(''), { mode: 0o600 });
      }
      if (wasCancelled(state)) throw new Cancelled();
      this.progress(task.name, { phase: 'transfer' });
      const destination = { host: task.destinationHost, port: task.destinationPort };
      const args = rsyncArgs(source, destination, task.destinationShare, task.agentId, {
        deleteExtraneous: task.deleteExtraneous,
        bandwidthLimit: task.bandwidthLimit,
        compress: task.compress,
        ...(filesFrom === undefined ? {} : { filesFrom }),
      });
      const transferStart = performance.now();
      transferStarted = true;
      state.process = startRsync(
        args,
        rsyncEnv(password),
        (p) =>
          this.progress(task.name, {
            bytesDone: p.bytes,
            percent: p.percent,
            bytesPerSecond: p.bytesPerSecond,
            // rsync's time column is elapsed time on lines that end a file; only in-flight lines estimate.
            etaSeconds:
              p.filesTransferred === null ? p.etaSeconds : estimateEta(p.bytes, p.percent, p.bytesPerSecond),
            filesTransferred: p.filesTransferred,
            filesToCheck: p.filesToCheck,
            filesTotal: p.filesTotal,
          }),
        this.options.cancelGraceMs === undefined ? {} : { graceMs: this.options.cancelGraceMs },
      );
      if (wasCancelled(state)) state.process.cancel();
      const result = await state.process.done;
      transferMs = Math.round(performance.now() - transferStart);
      stats = result.stats;
      if (wasCancelled(state)) throw new Cancelled();
      if (result.code === 0) {
        status = 'ok';
        details = summary(result.stats, snapshot, transferMs, plan);
      } else {
        details = explainExit(result.code, result.signal, result.stderr);
      }
    } catch (error) {
      if (error instanceof Cancelled || state.cancelled) {
        action = 'cancelled';
        details = 'cancelled; the destination may hold a partly updated copy until the next run';
      } else {
        details = messageOf(error);
      }
    }
    if (listDir !== undefined) await rm(listDir, { recursive: true, force: true }).catch(() => undefined);
    if (nas && snapshot) {
      this.progress(task.name, { phase: 'release' });
      const releaseStart = performance.now();
      const settled = await this.settleSnapshots(
        nas,
        task,
        share,
        snapshot,
        plan,
        stats,
        status,
        transferStarted,
      );
      retiredBase = settled.retired;
      if (settled.problem !== null) {
        status = 'error';
        details = `${details}; ${settled.problem}`;
      }
      releaseMs = Math.round(performance.now() - releaseStart);
    }
    const finishedAt = this.now();
    this.lastRuns.set(task.name, {
      runId: state.runId,
      trigger: state.trigger,
      status,
      action,
      startedAt: state.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      details,
      stats,
      snapshot: snapshot && snapshotMs !== null ? { mode: snapshot.mode, createMs: snapshotMs } : null,
      transferMs,
      releaseMs,
      planMs,
      transfer: transferView(plan),
    });
    this.options.taskLog.append({
      name: task.name,
      type: DATAREP_TASK_TYPE,
      status,
      action,
      runId: state.runId,
      details,
    });
    this.options.running.remove(DATAREP_TASK_TYPE, task.name);
    if (status === 'ok') log.info({ details }, 'data replication run finished');
    else log.warn({ action, details }, 'data replication run did not finish well');
    // The old base is no longer needed by anyone: removing it is housekeeping, not part of the run.
    if (retiredBase) await this.releaseBase(retiredBase);
  }

  /**
   * Incremental when the destination holds a full copy of an earlier snapshot of this share (the base)
   * made for the same target, the base is still there, the last run over the whole tree is less than a
   * day old, and btrfs can list the changes; the whole tree otherwise.
   */
  private async planTransfer(
    task: DatarepTaskRecord,
    share: ShareView,
    snapshot: NasSnapshotView,
    nas: NasControl,
  ): Promise<TransferPlan> {
    const full = (reason: string): TransferPlan => ({ kind: 'full', reason });
    if (snapshot.mode !== 'btrfs') return full(`${snapshot.mode} snapshots carry no change list`);
    const base = this.options.repo.base(task.name);
    if (!base) return full('no earlier run to build on');
    if (base.target !== targetOf(task, share)) return full('the task changed since its last run');
    if (this.now().getTime() - Date.parse(base.fullRunAt) >= FULL_RUN_EVERY_MS) {
      return full('the daily run over the whole tree');
    }
    const previous = nas.snapshots(share.volume).find((s) => s.name === base.snapshot);
    if (previous?.mode !== 'btrfs') return full(`the base snapshot ${base.snapshot} is gone`);
    return planIncremental({
      baseSnapshot: previous.path,
      newSnapshot: snapshot.path,
      shareRelative: share.relativePath,
      treeEntries: base.treeEntries,
    });
  }

  /**
   * After a run: a btrfs snapshot the destination now holds in full becomes the task's base, and the old
   * base is retired (the caller releases it after the finish row); any other snapshot is released. A
   * transfer that started and did not finish leaves the destination between two snapshots, so the base
   * is dropped and released too, and the next run covers the whole tree.
   */
  private async settleSnapshots(
    nas: NasControl,
    task: DatarepTaskRecord,
    share: ShareView | undefined,
    snapshot: NasSnapshotView,
    plan: TransferPlan | undefined,
    stats: RsyncStats | null,
    status: 'ok' | 'error',
    transferStarted: boolean,
  ): Promise<{ problem: string | null; retired?: DatarepBaseRecord }> {
    const previous = this.options.repo.base(task.name);
    const keep = status === 'ok' && snapshot.mode === 'btrfs' && share !== undefined && plan !== undefined;
    const problems: string[] = [];
    const release = async (volume: string, name: string): Promise<void> => {
      try {
        await nas.deleteSnapshot(volume, name);
      } catch (error) {
        problems.push(`the snapshot ${volume}/${name} could not be deleted: ${messageOf(error)}`);
      }
    };
    if (keep) {
      const at = this.now().toISOString();
      const whole = plan.kind === 'full' || !previous;
      this.options.repo.setBase({
        taskName: task.name,
        volume: snapshot.volume,
        snapshot: snapshot.name,
        target: targetOf(task, share),
        fullRunAt: whole ? at : previous.fullRunAt,
        treeEntries: whole ? (stats?.files ?? null) : previous.treeEntries,
        updatedAt: at,
      });
    } else {
      if (transferStarted && previous) this.options.repo.clearBase(task.name);
      await release(snapshot.volume, snapshot.name);
    }
    const retire = previous && (keep || transferStarted) && previous.snapshot !== snapshot.name;
    return {
      problem: problems.length === 0 ? null : problems.join('; '),
      ...(retire ? { retired: previous } : {}),
    };
  }

  /** Deletes a base snapshot nobody needs any more (a retired one, or a deleted task's); logs a failure. */
  private async releaseBase(base: DatarepBaseRecord): Promise<void> {
    try {
      await this.options.nas()?.deleteSnapshot(base.volume, base.snapshot);
    } catch (error) {
      this.options.logger.warn(
        { task: base.taskName, snapshot: `${base.volume}/${base.snapshot}`, err: error },
        'an old base snapshot of a data replication task could not be deleted; delete it by hand',
      );
    }
  }

  // ---- helpers ----

  private record(name: string): DatarepTaskRecord {
    const task = this.options.repo.task(name);
    if (!task) throw notFound('no-such-datarep-task', `no data replication task ${name}`);
    return task;
  }

  private checkFields(input: TaskInput): Omit<DatarepTaskRecord, 'name' | 'createdAt' | 'updatedAt'> {
    validateName('source share', input.sourceShare);
    this.options.nas()?.share(input.sourceShare);
    const destination = parseDestination(input.destination);
    validateModule(input.destinationShare);
    validateAgentId(input.agentId);
    const limit = input.bandwidthLimit ?? null;
    if (limit !== null && (!Number.isInteger(limit) || limit < BANDWIDTH_MIN)) {
      throw invalid(
        'bad-bandwidth',
        `the bandwidth limit must be at least ${BANDWIDTH_MIN} bytes per second (1 KiB/s)`,
      );
    }
    return {
      sourceShare: input.sourceShare,
      destinationHost: destination.host,
      destinationPort: destination.port,
      destinationShare: input.destinationShare,
      agentId: input.agentId,
      deleteExtraneous: input.delete ?? false,
      bandwidthLimit: limit,
      compress: input.compress ?? false,
    };
  }

  private scheduleView(record: DatarepScheduleRecord): ScheduleView {
    const spec = validateSchedule(JSON.parse(record.spec));
    return {
      id: record.id,
      spec,
      description: describeSchedule(spec),
      nextRun: this.scheduler.nextRun(record.id)?.toISOString() ?? null,
    };
  }

  private view(task: DatarepTaskRecord): DatarepTaskView {
    return {
      name: task.name,
      sourceShare: task.sourceShare,
      destination: formatDestination({ host: task.destinationHost, port: task.destinationPort }),
      destinationShare: task.destinationShare,
      agentId: task.agentId,
      passwordSet: true,
      options: {
        delete: task.deleteExtraneous,
        bandwidthLimit: task.bandwidthLimit,
        compress: task.compress,
      },
      schedules: this.options.repo.schedules(task.name).map((s) => this.scheduleView(s)),
      running: this.options.running.get(DATAREP_TASK_TYPE, task.name) ?? null,
      lastRun: this.lastRuns.get(task.name) ?? this.lastRunFromLog(task.name),
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
    };
  }

  /** After a restart the in-memory result is gone; the log's newest finish row still tells the outcome. */
  private lastRunFromLog(name: string): RunResultView | null {
    const rows = this.options.taskLog.query({ name, type: DATAREP_TASK_TYPE, limit: 20 });
    const end = rows.find((r) => r.action === 'finished' || r.action === 'cancelled');
    if (!end?.runId) return null;
    const start = rows.find((r) => r.runId === end.runId && r.action === 'started');
    return {
      runId: end.runId,
      trigger: start?.details.startsWith('schedule') === true ? 'schedule' : 'manual',
      status: end.status === 'ok' ? 'ok' : 'error',
      action: end.action === 'cancelled' ? 'cancelled' : 'finished',
      startedAt: start?.time ?? end.time,
      finishedAt: end.time,
      details: end.details,
      stats: null,
      snapshot: null,
      transferMs: null,
      releaseMs: null,
      planMs: null,
      transfer: null,
    };
  }
}

/** Unique per run; a name the NAS side accepts (letters, digits, '-', '.'). */
function snapshotName(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `datarep-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The share's directory inside the snapshot, refusing anything that would point outside it. */
function inside(root: string, relativePath: string): string {
  const base = resolve(root);
  const dir = resolve(join(base, relativePath));
  const rel = relative(base, dir);
  if (rel.startsWith('..') || rel.includes(`${sep}..${sep}`)) {
    throw new TandemError(
      'internal',
      'share-outside-snapshot',
      `share path ${relativePath} leaves the snapshot`,
    );
  }
  return `${dir}/`;
}

function estimateEta(bytes: number, percent: number, bytesPerSecond: number): number | null {
  if (percent <= 0 || bytesPerSecond <= 0) return null;
  const total = (bytes * 100) / percent;
  return Math.max(0, Math.round((total - bytes) / bytesPerSecond));
}

function summary(
  stats: RsyncStats,
  snapshot: NasSnapshotView,
  transferMs: number,
  plan: TransferPlan,
): string {
  const n = (v: number | null): string => (v === null ? '?' : String(v));
  const looked =
    plan.kind === 'incremental'
      ? `changes only (${plan.paths.length} paths from the btrfs change list)`
      : `whole tree (${plan.reason})`;
  return (
    `${n(stats.files)} files, ${n(stats.transferredFiles)} transferred, ${n(stats.deletedFiles ?? 0)} deleted; ` +
    `${n(stats.transferredFileBytes)} of ${n(stats.totalFileBytes)} bytes changed, ${n(stats.bytesSent)} bytes sent, ` +
    `speedup ${stats.speedup === null ? '?' : stats.speedup.toFixed(2)}; ${(transferMs / 1000).toFixed(1)} s; ` +
    `snapshot mode ${snapshot.mode}; ${looked}`
  );
}

function transferView(plan: TransferPlan | undefined): TransferView | null {
  if (!plan) return null;
  return plan.kind === 'incremental'
    ? { kind: 'incremental', paths: plan.paths.length }
    : { kind: 'full', reason: plan.reason };
}

/** What a base snapshot was replicated to: a task that now points elsewhere runs in full again. */
function targetOf(task: DatarepTaskRecord, share: ShareView): string {
  return JSON.stringify([
    share.volume,
    share.relativePath,
    task.destinationHost,
    task.destinationPort,
    task.destinationShare,
    task.agentId,
    task.deleteExtraneous,
  ]);
}
