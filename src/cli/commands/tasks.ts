// `tandem tasks ...`: Status -> Tasks: what runs now (every kind of task) and the task log.
import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import type { TaskLogEntry } from '../../tasks/task-log.js';
import type { RunningTaskView } from '../../tasks/running-tasks.js';
import { clientAction } from '../command-kit.js';
import { printTable, size } from '../output.js';
import { formatSeconds } from './datarep.js';

function limitArg(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 10_000) {
    throw new InvalidArgumentError('give a number from 1 to 10000');
  }
  return Number(text);
}

function timeArg(text: string): string {
  if (Number.isNaN(Date.parse(text)))
    throw new InvalidArgumentError('give a date/time, e.g. 2026-11-26T18:00:00Z or 2026-11-26');
  return text;
}

const statusText = (status: TaskLogEntry['status']): string =>
  status === 'error' ? pc.red('error') : status === 'ok' ? 'OK' : status;

export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('running tasks and the task log');

  clientAction(
    tasks.command('list').description('tasks running now, with their progress'),
    (client) => client.get<RunningTaskView[]>('/api/v1/tasks'),
    (running) =>
      printTable(
        running,
        [
          { header: 'NAME', value: (r) => r.name },
          { header: 'TYPE', value: (r) => r.type },
          { header: 'STARTED', value: (r) => r.startedAt },
          { header: 'TRIGGER', value: (r) => r.trigger },
          { header: 'PHASE', value: (r) => (r.cancelling ? 'cancelling' : r.progress.phase) },
          { header: '%', value: (r) => r.progress.percent },
          { header: 'DONE', value: (r) => size(r.progress.bytesDone) },
          {
            header: 'RATE',
            value: (r) =>
              r.progress.bytesPerSecond === null ? null : `${size(r.progress.bytesPerSecond)}/s`,
          },
          { header: 'ETA', value: (r) => formatSeconds(r.progress.etaSeconds) },
        ],
        'no task is running',
      ),
  );

  clientAction<
    { name?: string; type?: string; status?: string; since?: string; until?: string; limit?: number },
    TaskLogEntry[]
  >(
    tasks
      .command('log')
      .description('the task log, newest first')
      .option('--name <task>', 'only this task')
      .option('--type <type>', 'only this kind of task, e.g. data-replication')
      .addOption(
        new Option('--status <status>', 'only rows with this status').choices([
          'ok',
          'error',
          'skipped',
          'running',
        ]),
      )
      .option('--since <time>', 'rows at or after this time', timeArg)
      .option('--until <time>', 'rows before this time', timeArg)
      .option('--limit <n>', 'at most this many rows (default 100)', limitArg),
    (client, o) => {
      const query = new URLSearchParams();
      for (const key of ['name', 'type', 'status', 'since', 'until'] as const) {
        const value = o[key];
        if (value !== undefined) query.set(key, value);
      }
      if (o.limit !== undefined) query.set('limit', String(o.limit));
      const text = query.toString();
      return client.get<TaskLogEntry[]>(`/api/v1/tasks/log${text === '' ? '' : `?${text}`}`);
    },
    (rows) =>
      printTable(
        rows,
        [
          { header: 'TIME', value: (r) => r.time },
          { header: 'NAME', value: (r) => r.name },
          { header: 'TYPE', value: (r) => r.type },
          { header: 'STATUS', value: (r) => statusText(r.status) },
          { header: 'ACTION', value: (r) => r.action },
          { header: 'DETAILS', value: (r) => r.details },
        ],
        'the log is empty',
      ),
  );
  return tasks;
}
