// `tandem datarep ...`: data replication tasks (source side): create, list, show, update, delete, run
// (with a live progress bar), cancel, schedules, and browse of a destination agent's shares. The agent
// password comes from a file or an environment variable, never from the command line.
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import type { AgentShare } from '../../datarep/browse.js';
import type { DatarepTaskView, RunResultView, ScheduleView } from '../../datarep/datarep-service.js';
import { parseDays, type ScheduleSpec, type Weekday } from '../../datarep/schedule.js';
import { isTandemError, messageOf } from '../../lib/errors.js';
import { formatSize } from '../../lib/size.js';
import type { RunningTaskView, TaskProgress } from '../../tasks/running-tasks.js';
import { ApiClient, CliError, resolveConnection } from '../client.js';
import { addClientOptions, clientAction, enc, sizeArg, type ClientOptions } from '../command-kit.js';
import { printFields, printTable, size } from '../output.js';

const TASKS = '/api/v1/datarep/tasks';
const PASSWORD_MAX_BYTES = 256;

const usage = (message: string): CliError => new CliError(message, 'usage', 2);

// ---- argument parsers ----

function hoursArg(text: string): number {
  const hours = Number(text);
  if (!/^\d+$/.test(text) || hours < 1 || hours > 168)
    throw new InvalidArgumentError('give whole hours from 1 to 168');
  return hours;
}

function daysArg(text: string): Weekday[] {
  try {
    return parseDays(text);
  } catch (error) {
    throw new InvalidArgumentError(isTandemError(error) ? error.message : messageOf(error));
  }
}

function timeArg(text: string): string {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59)
    throw new InvalidArgumentError('give a time of day as HH:MM');
  return text;
}

function positiveIntArg(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError('give a positive whole number');
  return Number(text);
}

/** The password from --password-file (one trailing newline dropped) or --password-env. */
export function readPassword(
  options: { passwordFile?: string; passwordEnv?: string },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  let password: string;
  if (options.passwordFile !== undefined) {
    try {
      password = readFileSync(options.passwordFile, 'utf8').replace(/\r?\n$/, '');
      if ((statSync(options.passwordFile).mode & 0o077) !== 0) {
        process.stderr.write(
          `${pc.yellow(`warning: ${options.passwordFile} can be read by other users; chmod 600 it`)}\n`,
        );
      }
    } catch (error) {
      throw usage(
        `cannot read the password file ${options.passwordFile} (${(error as NodeJS.ErrnoException).code ?? messageOf(error)})`,
      );
    }
  } else if (options.passwordEnv !== undefined) {
    const value = env[options.passwordEnv];
    if (value === undefined || value === '')
      throw usage(`environment variable ${options.passwordEnv} is not set`);
    password = value;
  } else {
    return undefined;
  }
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < 1 || bytes > PASSWORD_MAX_BYTES || /[\r\n\0]/.test(password)) {
    throw usage(`the agent password must be one line of 1 to ${PASSWORD_MAX_BYTES} bytes`);
  }
  return password;
}

interface ScheduleOptions {
  every?: number;
  days?: Weekday[];
  at?: string;
}

/** --every N, or --days D --at HH:MM; undefined when none was given. */
export function scheduleFrom(o: ScheduleOptions): ScheduleSpec | undefined {
  if (o.every !== undefined) {
    if (o.days !== undefined || o.at !== undefined)
      throw usage('give either --every or --days with --at, not both');
    return { kind: 'interval', hours: o.every };
  }
  if (o.days === undefined && o.at === undefined) return undefined;
  if (o.days === undefined || o.at === undefined)
    throw usage('--days and --at go together, e.g. --days mon-fri --at 18:00');
  return { kind: 'weekly', days: o.days, time: o.at };
}

const addScheduleOptions = (command: Command): Command =>
  command
    .option('--every <hours>', 'run every N hours (1 to 168)', hoursArg)
    .option('--days <days>', 'run on these weekdays: mon-fri, sat,sun, daily', daysArg)
    .option('--at <HH:MM>', 'time of day for --days (the node’s local time)', timeArg);

// ---- how things print ----

const rate = (bytesPerSecond: number | null): string =>
  bytesPerSecond === null ? '-' : `${formatSize(bytesPerSecond)}/s`;

export function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number): string => String(n).padStart(2, '0');
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${pad(s % 60)}s`
      : `${s}s`;
}

const progressText = (p: TaskProgress): string =>
  p.phase === 'transfer'
    ? `${p.percent ?? 0}% ${size(p.bytesDone)} ${rate(p.bytesPerSecond)} ETA ${formatSeconds(p.etaSeconds)}`
    : p.phase;

const lastRunText = (r: RunResultView | null): string | null =>
  r === null
    ? null
    : `${r.status === 'ok' ? 'OK' : pc.red(r.action === 'cancelled' ? 'cancelled' : 'error')} ${r.finishedAt}: ${r.details}`;

const scheduleText = (s: ScheduleView): string =>
  `#${s.id} ${s.description}${s.nextRun === null ? '' : ` (next ${s.nextRun})`}`;

function showTask(t: DatarepTaskView): void {
  printFields([
    ['name', t.name],
    ['source share', t.sourceShare],
    ['destination', t.destination],
    ['destination share', t.destinationShare],
    ['agent ID', t.agentId],
    ['password', t.passwordSet ? 'set (never shown)' : 'not set'],
    ['delete on destination', t.options.delete],
    ['bandwidth limit', t.options.bandwidthLimit === null ? 'none' : rate(t.options.bandwidthLimit)],
    ['compression', t.options.compress],
    [
      'schedules',
      t.schedules.length === 0 ? 'none (runs by hand)' : t.schedules.map(scheduleText).join('; '),
    ],
    ['running', t.running ? progressText(t.running.progress) : 'no'],
    ['last run', lastRunText(t.lastRun)],
  ]);
}

// ---- run --watch ----

async function watchRun(client: ApiClient, name: string, runId: string, json: boolean): Promise<void> {
  const bar =
    !json && process.stdout.isTTY
      ? new SingleBar({
          format: '{phase} [{bar}] {percentage}% {bytes} {speed} ETA {eta}',
          stream: process.stdout,
          hideCursor: true,
          barsize: 24,
          barCompleteChar: '#',
          barIncompleteChar: '.',
        })
      : null;
  let started = false;
  let lastLine = '';
  const interrupted = new AbortController();
  const onInterrupt = (): void => interrupted.abort();
  process.once('SIGINT', onInterrupt);
  try {
    for (;;) {
      const task = await client.get<DatarepTaskView>(`${TASKS}/${enc(name)}`);
      if (task.lastRun?.runId === runId) {
        bar?.stop();
        if (json) process.stdout.write(`${JSON.stringify(task.lastRun)}\n`);
        else process.stdout.write(`${lastRunText(task.lastRun) ?? ''}\n`);
        if (task.lastRun.status !== 'ok') process.exitCode = 1;
        return;
      }
      const p = task.running?.runId === runId ? task.running.progress : null;
      if (p) {
        const payload = {
          phase: p.phase.padEnd(8),
          bytes: size(p.bytesDone),
          speed: rate(p.bytesPerSecond),
          eta: formatSeconds(p.etaSeconds),
        };
        if (json) process.stdout.write(`${JSON.stringify(p)}\n`);
        else if (bar) {
          if (!started) bar.start(100, p.percent ?? 0, payload);
          else bar.update(p.percent ?? 0, payload);
          started = true;
        } else {
          const line = `${name}: ${progressText(p)}`;
          if (line !== lastLine) process.stdout.write(`${line}\n`);
          lastLine = line;
        }
      }
      await sleep(1000, undefined, { signal: interrupted.signal }).catch(() => undefined);
      if (interrupted.signal.aborted) {
        bar?.stop();
        process.stderr.write(
          `left the watch; the run goes on (tandem datarep task cancel ${name} stops it)\n`,
        );
        process.exitCode = 130;
        return;
      }
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

// ---- commands ----

interface TaskOptions extends ScheduleOptions {
  share?: string;
  destination?: string;
  destinationShare?: string;
  agentId?: string;
  passwordFile?: string;
  passwordEnv?: string;
  delete?: boolean;
  bwlimit?: number;
  compress?: boolean;
}

const addTaskOptions = (command: Command, required: boolean): Command => {
  const opt = (flags: string, text: string): Command =>
    required ? command.requiredOption(flags, text) : command.option(flags, text);
  opt('--share <share>', 'the source share on this node');
  opt('--destination <host[:port]>', 'the destination agent (port 873 by default)');
  opt('--destination-share <share>', 'a share the agent offers (see: datarep browse)');
  opt('--agent-id <id>', "the destination share's data replication ID");
  return command
    .option('--password-file <file>', 'read the agent password from this file')
    .option('--password-env <var>', 'read the agent password from this environment variable')
    .option('--bwlimit <size>', 'bandwidth limit per second, e.g. 10MiB', sizeArg)
    .option('--compress', 'compress on the wire (rsync -z)');
};

function taskCommand(): Command {
  const task = new Command('task').description(
    'data replication tasks: a share copied to an agent from a snapshot',
  );

  clientAction(
    task.command('list').description('list data replication tasks'),
    (client) => client.get<DatarepTaskView[]>(TASKS),
    (tasks) =>
      printTable(tasks, [
        { header: 'NAME', value: (t) => t.name },
        { header: 'SHARE', value: (t) => t.sourceShare },
        { header: 'DESTINATION', value: (t) => `${t.destination}/${t.destinationShare}` },
        { header: 'SCHEDULES', value: (t) => t.schedules.map((s) => s.description).join('; ') || '-' },
        { header: 'RUNNING', value: (t) => (t.running ? progressText(t.running.progress) : 'no') },
        {
          header: 'LAST RUN',
          value: (t) => (t.lastRun ? `${t.lastRun.status} ${t.lastRun.finishedAt}` : '-'),
        },
      ]),
  );

  clientAction(
    task
      .command('show')
      .description('show a task, its schedules, its run and its last result')
      .argument('<name>'),
    (client, _o, [name = '']) => client.get<DatarepTaskView>(`${TASKS}/${enc(name)}`),
    showTask,
  );

  clientAction<TaskOptions, DatarepTaskView>(
    addScheduleOptions(
      addTaskOptions(task.command('create').description('create a task').argument('<name>'), true).option(
        '--delete',
        'delete destination files that are gone from the source',
      ),
    ),
    (client, o, [name]) => {
      const password = readPassword(o);
      if (password === undefined)
        throw usage('give the agent password with --password-file FILE or --password-env VAR');
      const schedule = scheduleFrom(o);
      return client.post<DatarepTaskView>(TASKS, {
        name,
        sourceShare: o.share,
        destination: o.destination,
        destinationShare: o.destinationShare,
        agentId: o.agentId,
        password,
        delete: o.delete === true,
        compress: o.compress === true,
        ...(o.bwlimit === undefined ? {} : { bandwidthLimit: o.bwlimit }),
        ...(schedule === undefined ? {} : { schedules: [schedule] }),
      });
    },
    showTask,
  );

  clientAction<TaskOptions & { keep?: boolean; unlimited?: boolean }, DatarepTaskView>(
    addTaskOptions(
      task.command('update').description('change a task (only what is given)').argument('<name>'),
      false,
    )
      .option('--delete', 'delete destination files that are gone from the source')
      .option('--keep', 'keep destination files that are gone from the source')
      .option('--unlimited', 'remove the bandwidth limit')
      .option('--no-compress', 'do not compress'),
    (client, o, [name = '']) => {
      if (o.delete === true && o.keep === true) throw usage('--delete and --keep contradict each other');
      const password = readPassword(o);
      return client.patch<DatarepTaskView>(`${TASKS}/${enc(name)}`, {
        ...(o.share === undefined ? {} : { sourceShare: o.share }),
        ...(o.destination === undefined ? {} : { destination: o.destination }),
        ...(o.destinationShare === undefined ? {} : { destinationShare: o.destinationShare }),
        ...(o.agentId === undefined ? {} : { agentId: o.agentId }),
        ...(password === undefined ? {} : { password }),
        ...(o.delete === true ? { delete: true } : o.keep === true ? { delete: false } : {}),
        ...(o.bwlimit !== undefined
          ? { bandwidthLimit: o.bwlimit }
          : o.unlimited === true
            ? { bandwidthLimit: null }
            : {}),
        ...(o.compress === undefined ? {} : { compress: o.compress }),
      });
    },
    showTask,
  );

  clientAction<object, null>(
    task
      .command('delete')
      .description('delete a task, its schedules and its stored password')
      .argument('<name>'),
    (client, _o, [name = '']) => client.delete(`${TASKS}/${enc(name)}`),
    () => process.stdout.write('task deleted\n'),
  );

  const run = task
    .command('run')
    .description('run a task now: snapshot, rsync, release')
    .argument('<name>')
    .option('--watch', 'follow the run with a progress bar until it ends (exit 1 if it fails)');
  addClientOptions(run).action(async (name: string, _options: unknown, self: Command) => {
    const options = self.optsWithGlobals<ClientOptions & { watch?: boolean }>();
    const client = new ApiClient(resolveConnection(options));
    const started = await client.post<RunningTaskView>(`${TASKS}/${enc(name)}/run`);
    if (options.watch !== true) {
      if (options.json === true) process.stdout.write(`${JSON.stringify(started, null, 2)}\n`);
      else
        process.stdout.write(
          `run ${started.runId} started; follow it with: tandem datarep task show ${name}\n`,
        );
      return;
    }
    await watchRun(client, name, started.runId, options.json === true);
  });

  clientAction<object, RunningTaskView>(
    task.command('cancel').description('cancel the running run of a task').argument('<name>'),
    (client, _o, [name = '']) => client.post<RunningTaskView>(`${TASKS}/${enc(name)}/cancel`),
    (r) => process.stdout.write(`cancelling run ${r.runId} of ${r.name}\n`),
  );

  const schedule = new Command('schedule').description("a task's schedules");
  clientAction<ScheduleOptions, ScheduleView>(
    addScheduleOptions(
      schedule
        .command('add')
        .description('add a schedule: --every N, or --days D --at HH:MM')
        .argument('<task>'),
    ),
    (client, o, [name = '']) => {
      const spec = scheduleFrom(o);
      if (spec === undefined) throw usage('give --every N, or --days D with --at HH:MM');
      return client.post<ScheduleView>(`${TASKS}/${enc(name)}/schedules`, spec);
    },
    (s) => process.stdout.write(`schedule ${scheduleText(s)} added\n`),
  );
  clientAction<object, null>(
    schedule
      .command('remove')
      .description('remove a schedule by its number')
      .argument('<task>')
      .argument('<id>', 'schedule number', positiveIntArg),
    (client, _o, [name = '', id = '']) => client.delete(`${TASKS}/${enc(name)}/schedules/${enc(id)}`),
    () => process.stdout.write('schedule removed\n'),
  );
  task.addCommand(schedule);
  return task;
}

export function datarepCommand(): Command {
  const datarep = new Command('datarep').description(
    'data replication: shares copied from snapshots to an agent with rsync',
  );
  datarep.addCommand(taskCommand());
  clientAction(
    datarep
      .command('browse')
      .description("list the shares a destination's agent offers")
      .argument('<host[:port]>'),
    (client, _o, [destination = '']) =>
      client.get<AgentShare[]>(`/api/v1/datarep/browse?destination=${enc(destination)}`),
    (shares) =>
      printTable(shares, [
        { header: 'SHARE', value: (s) => s.name },
        { header: 'COMMENT', value: (s) => s.comment },
      ]),
  );
  return datarep;
}
