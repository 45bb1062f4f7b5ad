// The task log: one row per event of any kind of task (data replication runs today; volume replication
// and failover can log here too). It is capped: every insert prunes the oldest rows beyond the cap, so
// the log never grows without bound however often tasks run.
import type { Db } from '../store.js';

export type TaskLogStatus = 'ok' | 'error' | 'skipped' | 'running';
export type TaskLogAction = 'started' | 'finished' | 'skipped' | 'cancelled';

export const TASK_LOG_STATUSES: readonly TaskLogStatus[] = ['ok', 'error', 'skipped', 'running'];
export const TASK_LOG_ACTIONS: readonly TaskLogAction[] = ['started', 'finished', 'skipped', 'cancelled'];

/** The newest rows kept by default. */
export const TASK_LOG_DEFAULT_CAP = 10_000;

export interface TaskLogEntry {
  readonly id: number;
  /** ISO 8601, UTC. */
  readonly time: string;
  readonly name: string;
  /** The kind of task, e.g. 'data-replication'. */
  readonly type: string;
  readonly status: TaskLogStatus;
  readonly action: TaskLogAction;
  /** Ties the rows of one run together (start, finish); null for rows outside a run. */
  readonly runId: string | null;
  readonly details: string;
}

export type NewTaskLogEntry = Omit<TaskLogEntry, 'id'>;

export interface TaskLogFilter {
  readonly name?: string;
  readonly type?: string;
  readonly status?: TaskLogStatus;
  readonly runId?: string;
  /** ISO time, inclusive. */
  readonly since?: string;
  /** ISO time, exclusive. */
  readonly until?: string;
  /** At most this many rows, newest first. */
  readonly limit: number;
}

interface Row {
  id: number;
  time: string;
  name: string;
  type: string;
  status: TaskLogStatus;
  action: TaskLogAction;
  run_id: string | null;
  details: string;
}

const toEntry = (row: Row): TaskLogEntry => ({
  id: row.id,
  time: row.time,
  name: row.name,
  type: row.type,
  status: row.status,
  action: row.action,
  runId: row.run_id,
  details: row.details,
});

export class TaskLogRepo {
  constructor(
    private readonly db: Db,
    private readonly cap: number = TASK_LOG_DEFAULT_CAP,
  ) {}

  /** Appends a row and drops the oldest ones beyond the cap, in one transaction. */
  append(entry: NewTaskLogEntry): TaskLogEntry {
    return this.db.transaction(() => {
      const result = this.db
        .prepare(
          'INSERT INTO task_log (time, name, type, status, action, run_id, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(entry.time, entry.name, entry.type, entry.status, entry.action, entry.runId, entry.details);
      const id = Number(result.lastInsertRowid);
      // Ids only grow, so "older than the cap-th newest" is a range on the primary key.
      this.db.prepare('DELETE FROM task_log WHERE id <= ?').run(id - this.cap);
      return { ...entry, id };
    })();
  }

  /** Newest first. */
  query(filter: TaskLogFilter): TaskLogEntry[] {
    const where: string[] = [];
    const values: (string | number)[] = [];
    const add = (clause: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      values.push(value);
    };
    add('name = ?', filter.name);
    add('type = ?', filter.type);
    add('status = ?', filter.status);
    add('run_id = ?', filter.runId);
    add('time >= ?', filter.since);
    add('time < ?', filter.until);
    const sql = `SELECT * FROM task_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...values, filter.limit) as Row[]).map(toEntry);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM task_log').get() as { n: number }).n;
  }
}
