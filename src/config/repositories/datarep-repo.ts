// Data replication tasks (source side) and their schedules. The agent password is not here: it lives in
// a 0600 file per task (see src/datarep/password-store.ts), so no query result can ever carry it.
import { conflict, invalid, notFound } from '../../lib/errors.js';
import type { Db } from '../store.js';

export interface DatarepTaskRecord {
  readonly name: string;
  readonly sourceShare: string;
  readonly destinationHost: string;
  readonly destinationPort: number;
  readonly destinationShare: string;
  readonly agentId: string;
  /** Delete files on the destination that are gone from the source (rsync --delete). */
  readonly deleteExtraneous: boolean;
  /** Bytes per second, or null for no limit. */
  readonly bandwidthLimit: number | null;
  readonly compress: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface DatarepScheduleRecord {
  readonly id: number;
  readonly taskName: string;
  /** The schedule as JSON (see src/datarep/schedule.ts); the repository does not look inside. */
  readonly spec: string;
  readonly createdAt: string;
}

/**
 * The snapshot a task's destination last received in full: the next run sends only what changed since.
 * `target` says what it was replicated to (share, destination, options that shape the copy); a task
 * whose target no longer matches runs in full again.
 */
export interface DatarepBaseRecord {
  readonly taskName: string;
  readonly volume: string;
  readonly snapshot: string;
  readonly target: string;
  /** When the last run over the whole tree finished (incremental runs keep it). */
  readonly fullRunAt: string;
  /** Entries rsync counted in the share at the last whole-tree run (null when it did not say). */
  readonly treeEntries: number | null;
  readonly updatedAt: string;
}

interface BaseRow {
  task_name: string;
  volume: string;
  snapshot: string;
  target: string;
  full_run_at: string;
  tree_entries: number | null;
  updated_at: string;
}

interface TaskRow {
  name: string;
  source_share: string;
  destination_host: string;
  destination_port: number;
  destination_share: string;
  agent_id: string;
  delete_extraneous: number;
  bandwidth_limit: number | null;
  compress: number;
  created_at: string;
  updated_at: string;
}

interface ScheduleRow {
  id: number;
  task_name: string;
  spec: string;
  created_at: string;
}

const toTask = (row: TaskRow): DatarepTaskRecord => ({
  name: row.name,
  sourceShare: row.source_share,
  destinationHost: row.destination_host,
  destinationPort: row.destination_port,
  destinationShare: row.destination_share,
  agentId: row.agent_id,
  deleteExtraneous: row.delete_extraneous === 1,
  bandwidthLimit: row.bandwidth_limit,
  compress: row.compress === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toSchedule = (row: ScheduleRow): DatarepScheduleRecord => ({
  id: row.id,
  taskName: row.task_name,
  spec: row.spec,
  createdAt: row.created_at,
});

/** Constraint failures as typed errors, so raw SQLite messages never reach an API answer. */
function constraintError(error: unknown, what: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return error;
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return conflict('datarep-task-exists', `${what} already exists`);
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
    return notFound('no-such-datarep-task', `${what}: no such task`);
  return invalid('datarep-record-invalid', `${what} was refused by the store`);
}

export class DatarepRepo {
  constructor(private readonly db: Db) {}

  tasks(): DatarepTaskRecord[] {
    return (this.db.prepare('SELECT * FROM datarep_tasks ORDER BY name').all() as TaskRow[]).map(toTask);
  }

  task(name: string): DatarepTaskRecord | undefined {
    const row = this.db.prepare('SELECT * FROM datarep_tasks WHERE name = ?').get(name) as
      TaskRow | undefined;
    return row && toTask(row);
  }

  insertTask(task: DatarepTaskRecord): void {
    try {
      this.db
        .prepare(
          `INSERT INTO datarep_tasks (name, source_share, destination_host, destination_port, destination_share,
             agent_id, delete_extraneous, bandwidth_limit, compress, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(...taskValues(task));
    } catch (error) {
      throw constraintError(error, `data replication task ${task.name}`);
    }
  }

  /** Replaces every field but the name and creation time; false when there is no such task. */
  updateTask(task: DatarepTaskRecord): boolean {
    return (
      this.db
        .prepare(
          `UPDATE datarep_tasks SET source_share = ?, destination_host = ?, destination_port = ?,
             destination_share = ?, agent_id = ?, delete_extraneous = ?, bandwidth_limit = ?, compress = ?,
             updated_at = ? WHERE name = ?`,
        )
        .run(
          task.sourceShare,
          task.destinationHost,
          task.destinationPort,
          task.destinationShare,
          task.agentId,
          task.deleteExtraneous ? 1 : 0,
          task.bandwidthLimit,
          task.compress ? 1 : 0,
          task.updatedAt,
          task.name,
        ).changes > 0
    );
  }

  /** Deletes the task and (by cascade) its schedules; false when there was no such task. */
  deleteTask(name: string): boolean {
    return this.db.prepare('DELETE FROM datarep_tasks WHERE name = ?').run(name).changes > 0;
  }

  schedules(taskName?: string): DatarepScheduleRecord[] {
    const rows =
      taskName === undefined
        ? this.db.prepare('SELECT * FROM datarep_schedules ORDER BY id').all()
        : this.db.prepare('SELECT * FROM datarep_schedules WHERE task_name = ? ORDER BY id').all(taskName);
    return (rows as ScheduleRow[]).map(toSchedule);
  }

  insertSchedule(taskName: string, spec: string, createdAt: string): DatarepScheduleRecord {
    try {
      const result = this.db
        .prepare('INSERT INTO datarep_schedules (task_name, spec, created_at) VALUES (?, ?, ?)')
        .run(taskName, spec, createdAt);
      return { id: Number(result.lastInsertRowid), taskName, spec, createdAt };
    } catch (error) {
      throw constraintError(error, `data replication task ${taskName}`);
    }
  }

  base(taskName: string): DatarepBaseRecord | undefined {
    const row = this.db.prepare('SELECT * FROM datarep_bases WHERE task_name = ?').get(taskName) as
      BaseRow | undefined;
    return (
      row && {
        taskName: row.task_name,
        volume: row.volume,
        snapshot: row.snapshot,
        target: row.target,
        fullRunAt: row.full_run_at,
        treeEntries: row.tree_entries,
        updatedAt: row.updated_at,
      }
    );
  }

  /** One base per task: a new one replaces the old row (nothing refers to it). */
  setBase(base: DatarepBaseRecord): void {
    const statement = this.db.prepare(
      `INSERT OR REPLACE INTO datarep_bases
         (task_name, volume, snapshot, target, full_run_at, tree_entries, updated_at)
       VALUES (@taskName, @volume, @snapshot, @target, @fullRunAt, @treeEntries, @updatedAt)`,
    );
    statement.run(base);
  }

  clearBase(taskName: string): void {
    this.db.prepare('DELETE FROM datarep_bases WHERE task_name = ?').run(taskName);
  }

  /** False when the task has no schedule with that id. */
  deleteSchedule(taskName: string, id: number): boolean {
    return (
      this.db.prepare('DELETE FROM datarep_schedules WHERE task_name = ? AND id = ?').run(taskName, id)
        .changes > 0
    );
  }
}

function taskValues(task: DatarepTaskRecord): (string | number | null)[] {
  return [
    task.name,
    task.sourceShare,
    task.destinationHost,
    task.destinationPort,
    task.destinationShare,
    task.agentId,
    task.deleteExtraneous ? 1 : 0,
    task.bandwidthLimit,
    task.compress ? 1 : 0,
    task.createdAt,
    task.updatedAt,
  ];
}
