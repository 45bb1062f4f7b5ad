// The task log as the services use it: append a row stamped with the clock, and read it back with
// validated filters. Any kind of task logs here under its own `type`.
import { invalid } from '../lib/errors.js';
import {
  TASK_LOG_STATUSES,
  type NewTaskLogEntry,
  type TaskLogEntry,
  type TaskLogFilter,
  type TaskLogRepo,
  type TaskLogStatus,
} from '../config/repositories/task-log-repo.js';

export type { TaskLogEntry, TaskLogStatus } from '../config/repositories/task-log-repo.js';

export const TASK_LOG_DEFAULT_LIMIT = 100;
export const TASK_LOG_MAX_LIMIT = 10_000;

export interface TaskLogQuery {
  readonly name?: string;
  readonly type?: string;
  readonly status?: string;
  readonly runId?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: number;
}

/** ISO time from any date text Date understands; a clear error otherwise. */
function isoTime(what: string, text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw invalid('bad-time', `${what} "${text}" is not a date/time (use ISO 8601)`);
  return new Date(ms).toISOString();
}

/** Turns user-given filters into a repository filter; throws invalid on anything malformed. */
export function parseTaskLogQuery(query: TaskLogQuery): TaskLogFilter {
  const limit = query.limit ?? TASK_LOG_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > TASK_LOG_MAX_LIMIT) {
    throw invalid('bad-limit', `limit must be a whole number from 1 to ${TASK_LOG_MAX_LIMIT}`);
  }
  if (query.status !== undefined && !(TASK_LOG_STATUSES as readonly string[]).includes(query.status)) {
    throw invalid('bad-status', `status must be one of ${TASK_LOG_STATUSES.join(', ')}`);
  }
  const since = query.since === undefined ? undefined : isoTime('since', query.since);
  const until = query.until === undefined ? undefined : isoTime('until', query.until);
  if (since !== undefined && until !== undefined && since >= until) {
    throw invalid('bad-time', 'since must be before until');
  }
  return {
    limit,
    ...(query.name === undefined ? {} : { name: query.name }),
    ...(query.type === undefined ? {} : { type: query.type }),
    ...(query.status === undefined ? {} : { status: query.status as TaskLogStatus }),
    ...(query.runId === undefined ? {} : { runId: query.runId }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
}

export class TaskLog {
  constructor(
    private readonly repo: TaskLogRepo,
    private readonly now: () => Date = () => new Date(),
  ) {}

  append(entry: Omit<NewTaskLogEntry, 'time'>): TaskLogEntry {
    return this.repo.append({ ...entry, time: this.now().toISOString() });
  }

  query(query: TaskLogQuery = {}): TaskLogEntry[] {
    return this.repo.query(parseTaskLogQuery(query));
  }
}
