// `tandem replication ...`: volume replication: the pairing with the peer node, each volume's mode and
// mirror server, and the replication tasks. The pair's secret is read from a file or an environment
// variable, never from the command line, where every user of the machine could see it in ps.
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { isTandemError, messageOf } from '../../lib/errors.js';
import { parseHostPort } from '../../lib/host-port.js';
import { formatSize } from '../../lib/size.js';
import type {
  DestinationVolume,
  PairingView,
  TaskStatus,
  VolumeReplicationSettings,
} from '../../replication/control.js';
import { ApiClient, CliError, resolveConnection } from '../client.js';
import { addClientOptions, clientAction, enc, sizeArg, type ClientOptions } from '../command-kit.js';
import { printFields, printTable, size } from '../output.js';

const SECRET_MIN_BYTES = 16;
const SECRET_MAX_BYTES = 256;
const TASKS = '/api/v1/replication/tasks';

// ---- argument parsers: mistakes become usage errors (exit 2) before the daemon is asked ----

/** A SHA-256 fingerprint as 64 hex digits, with or without the colons openssl prints. */
export function fingerprintArg(text: string): string {
  const hex = text.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new InvalidArgumentError('a SHA-256 fingerprint is 64 hex digits (colons between pairs allowed)');
  }
  return hex;
}

export function mirrorServerArg(text: string): string {
  if (/^:?\d*$/.test(text)) throw new InvalidArgumentError('write HOST:PORT, e.g. 192.0.2.20:7788');
  try {
    if (parseHostPort(text, '').port === 0) throw new InvalidArgumentError('the port must be 1 to 65535');
  } catch (error) {
    throw new InvalidArgumentError(isTandemError(error) ? error.message : messageOf(error));
  }
  return text;
}

export function rateArg(text: string): number {
  const bytes = sizeArg(text);
  if (bytes < 1) throw new InvalidArgumentError('a rate is at least 1 byte per second, e.g. 100MiB');
  return bytes;
}

function secondsArg(text: string): number {
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds < 0.01 || seconds > 3600) {
    throw new InvalidArgumentError('give seconds from 0.01 to 3600');
  }
  return seconds;
}

const printWarning = (message: string): void => {
  process.stderr.write(`${pc.yellow(`warning: ${message}`)}\n`);
};

const usage = (message: string): CliError => new CliError(message, 'usage', 2);

/** The secret from --secret-file (one trailing newline dropped) or --secret-env. */
export function readSecret(
  options: { secretFile?: string; secretEnv?: string },
  env: NodeJS.ProcessEnv = process.env,
): string {
  let secret: string;
  if (options.secretFile !== undefined) {
    try {
      secret = readFileSync(options.secretFile, 'utf8').replace(/\r?\n$/, '');
      if ((statSync(options.secretFile).mode & 0o077) !== 0) {
        printWarning(`${options.secretFile} can be read by other users; chmod 600 it`);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? messageOf(error);
      throw usage(`cannot read the secret file ${options.secretFile} (${code})`);
    }
  } else if (options.secretEnv !== undefined) {
    const value = env[options.secretEnv];
    if (value === undefined || value === '')
      throw usage(`environment variable ${options.secretEnv} is not set`);
    secret = value;
  } else {
    throw usage('give the shared secret with --secret-file FILE or --secret-env VAR (never as an argument)');
  }
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < SECRET_MIN_BYTES || bytes > SECRET_MAX_BYTES) {
    throw usage(`the shared secret must be ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes; it is ${bytes}`);
  }
  return secret;
}

// ---- how things print ----

const perSecond = (bytes: number): string => `${formatSize(bytes)}/s`;

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}

const percent = (done: number, total: number): string =>
  total > 0 ? `${Math.floor((done / total) * 100)}%` : '100%';

const rateText = (rate: TaskStatus['rate']): string =>
  rate.mode === 'fixed'
    ? `fixed ${perSecond(rate.bytesPerSecond)}`
    : `dynamic, at most ${perSecond(rate.bytesPerSecond)}`;

const connectionText = (connection: TaskStatus['connection']): string =>
  connection === 'split-brain' || connection === 'unrelated-data' ? pc.red(connection) : connection;

function progressText(t: TaskStatus): string | null {
  if (t.resync) {
    const r = t.resync;
    return `resync ${percent(r.doneBytes, r.totalBytes)} (${size(r.doneBytes)} of ${size(r.totalBytes)})`;
  }
  if (t.verify) {
    const v = t.verify;
    return `verify ${percent(v.doneBytes, v.totalBytes)} (${size(v.doneBytes)} of ${size(v.totalBytes)})`;
  }
  return null;
}

function showTask(t: TaskStatus): void {
  printFields([
    ['name', t.name],
    ['direction', t.direction],
    ['volume', t.volume],
    ['remote volume', t.remoteVolume],
    ['peer address', t.peerAddress],
    ['running', t.running],
    ['role', t.role],
    ['connection', connectionText(t.connection)],
    ['disk state', t.diskState],
    ['peer disk state', t.peerDiskState],
    ['out of sync', size(t.outOfSyncBytes)],
    [
      'resync',
      t.resync
        ? `${size(t.resync.doneBytes)} of ${size(t.resync.totalBytes)} (${percent(t.resync.doneBytes, t.resync.totalBytes)}), ` +
          `${perSecond(t.resync.bytesPerSecond)}, ETA ${formatDuration(t.resync.etaSeconds)}`
        : null,
    ],
    [
      'verify',
      t.verify
        ? `${size(t.verify.doneBytes)} of ${size(t.verify.totalBytes)} (${percent(t.verify.doneBytes, t.verify.totalBytes)}), ` +
          `${size(t.verify.mismatchedBytes)} mismatched`
        : null,
    ],
    ['resync rate', rateText(t.rate)],
    ['last error', t.lastError],
  ]);
}

function showPairing(p: PairingView): void {
  printFields([
    ['node name', p.nodeName],
    ['listening on', p.listen],
    ['paired', p.paired],
    ['peer', p.peerName],
    ['TLS', p.tls],
    ['fingerprint (give to the peer)', p.fingerprint],
    ['peer fingerprint', p.peerFingerprint],
  ]);
}

const showSettings = (s: VolumeReplicationSettings): void =>
  printFields([
    ['volume', s.volume],
    ['mode', s.mode],
    ['mirror server', s.mirrorServer],
  ]);

// ---- task watch: poll the status, draw the progress of resync or verify ----

/** Connection states in which the task is still on its way somewhere. */
const BUSY = new Set<TaskStatus['connection']>(['connecting', 'sync-source', 'sync-target', 'verifying']);

interface Progress {
  readonly phase: 'resync' | 'verify';
  readonly total: number;
  readonly done: number;
  readonly bytesPerSecond: number | null;
  readonly etaSeconds: number | null;
  readonly note: string;
}

/** Resync progress comes with rate and ETA; for verify they are measured from the polls. */
class ProgressReader {
  private last: { phase: string; done: number; at: number } | null = null;

  read(t: TaskStatus, at: number): Progress | null {
    if (t.resync) {
      const r = t.resync;
      return {
        phase: 'resync',
        total: r.totalBytes,
        done: r.doneBytes,
        bytesPerSecond: r.bytesPerSecond,
        etaSeconds: r.etaSeconds,
        note: '',
      };
    }
    if (!t.verify) {
      this.last = null;
      return null;
    }
    const v = t.verify;
    const previous = this.last?.phase === 'verify' ? this.last : null;
    const elapsed = previous ? (at - previous.at) / 1000 : 0;
    const rate = previous && elapsed > 0 ? Math.max(0, (v.doneBytes - previous.done) / elapsed) : null;
    this.last = { phase: 'verify', done: v.doneBytes, at };
    return {
      phase: 'verify',
      total: v.totalBytes,
      done: v.doneBytes,
      bytesPerSecond: rate,
      etaSeconds: rate !== null && rate > 0 ? (v.totalBytes - v.doneBytes) / rate : null,
      note: `, ${size(v.mismatchedBytes)} mismatched`,
    };
  }
}

interface WatchView {
  show(status: TaskStatus, progress: Progress | null): void;
  finish(): void;
}

const statusLine = (t: TaskStatus): string =>
  `${t.name}: ${t.connection}, ${t.role}, disk ${t.diskState}/${t.peerDiskState}, ${size(t.outOfSyncBytes)} out of sync`;

const progressLine = (name: string, p: Progress): string =>
  `${name}: ${p.phase} ${percent(p.done, p.total)} ${size(p.done)} of ${size(p.total)}, ` +
  `${p.bytesPerSecond === null ? '-' : perSecond(p.bytesPerSecond)}, ETA ${formatDuration(p.etaSeconds)}${p.note}`;

/** One JSON line per poll, for scripts. */
const jsonView: WatchView = {
  show: (status) => process.stdout.write(`${JSON.stringify(status)}\n`),
  finish: () => undefined,
};

/** Not a terminal (a pipe, a log file): one plain line per poll. */
const lineView: WatchView = {
  show: (status, progress) =>
    process.stdout.write(`${progress ? progressLine(status.name, progress) : statusLine(status)}\n`),
  finish: () => undefined,
};

/** A terminal: a live bar while resync or verify runs, a status line when it changes otherwise. */
class BarView implements WatchView {
  private bar: SingleBar | null = null;
  private phase: string | null = null;
  private lastLine = '';

  show(status: TaskStatus, progress: Progress | null): void {
    if (!progress) {
      this.stopBar();
      const line = statusLine(status);
      if (line !== this.lastLine) process.stdout.write(`${line}\n`);
      this.lastLine = line;
      return;
    }
    this.lastLine = '';
    const payload = {
      phase: progress.phase.padEnd(6),
      amount: `${size(progress.done)}/${size(progress.total)}`,
      speed: progress.bytesPerSecond === null ? '-' : perSecond(progress.bytesPerSecond),
      eta: formatDuration(progress.etaSeconds),
      note: progress.note,
    };
    if (!this.bar || this.phase !== progress.phase) {
      this.stopBar();
      this.bar = new SingleBar({
        // Short enough for 80 columns; the task's name is on the status lines.
        format: '{phase} [{bar}] {percentage}% {amount} {speed} ETA {eta}{note}',
        stream: process.stdout,
        hideCursor: true,
        barsize: 20,
        barCompleteChar: '#',
        barIncompleteChar: '.',
      });
      this.bar.start(progress.total, progress.done, payload);
      this.phase = progress.phase;
      return;
    }
    this.bar.setTotal(progress.total);
    this.bar.update(progress.done, payload);
  }

  finish(): void {
    this.stopBar();
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = null;
    this.phase = null;
  }
}

interface WatchOptions extends ClientOptions {
  interval: number;
}

/** Polls until the task settles (nothing to sync or verify, not connecting); null when interrupted. */
async function pollUntilSettled(
  client: ApiClient,
  name: string,
  view: WatchView,
  intervalMs: number,
  signal: AbortSignal,
): Promise<TaskStatus | null> {
  const reader = new ProgressReader();
  for (;;) {
    const status = await client.get<TaskStatus>(`${TASKS}/${enc(name)}`);
    const progress = reader.read(status, Date.now());
    view.show(status, progress);
    if (!progress && !BUSY.has(status.connection)) return status;
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return null;
  }
}

/** Exit code 0 when the task settled well, 1 when it stopped on a refusal or an error, 130 on Ctrl-C. */
async function watchTask(client: ApiClient, name: string, options: WatchOptions): Promise<void> {
  const view = options.json === true ? jsonView : process.stdout.isTTY ? new BarView() : lineView;
  const interrupted = new AbortController();
  const onInterrupt = (): void => interrupted.abort();
  process.once('SIGINT', onInterrupt);
  let settled: TaskStatus | null;
  try {
    settled = await pollUntilSettled(client, name, view, options.interval * 1000, interrupted.signal);
  } finally {
    view.finish();
    process.removeListener('SIGINT', onInterrupt);
  }
  if (settled === null) {
    process.exitCode = 130;
  } else if (settled.connection === 'split-brain' || settled.connection === 'unrelated-data') {
    process.stderr.write(`${pc.red('error:')} task ${settled.name} stopped: ${settled.connection}\n`);
    process.exitCode = 1;
  } else if (settled.lastError !== null) {
    process.stderr.write(`${pc.red('error:')} task ${settled.name}: ${settled.lastError}\n`);
    process.exitCode = 1;
  }
}

// ---- the commands ----

function taskCommand(): Command {
  const task = new Command('task').description('replication tasks: one replicated volume each');

  clientAction(
    task.command('list').description('list replication tasks'),
    (client) => client.get<TaskStatus[]>(TASKS),
    (tasks) =>
      printTable(tasks, [
        { header: 'NAME', value: (t) => t.name },
        { header: 'DIRECTION', value: (t) => t.direction },
        { header: 'VOLUME', value: (t) => t.volume },
        { header: 'REMOTE', value: (t) => t.remoteVolume },
        { header: 'PEER', value: (t) => t.peerAddress },
        { header: 'RUNNING', value: (t) => t.running },
        { header: 'ROLE', value: (t) => t.role },
        { header: 'CONNECTION', value: (t) => connectionText(t.connection) },
        { header: 'DISK', value: (t) => `${t.diskState}/${t.peerDiskState}` },
        { header: 'OUT OF SYNC', value: (t) => size(t.outOfSyncBytes) },
        { header: 'PROGRESS', value: progressText },
      ]),
  );

  clientAction(
    task.command('show').description('show every status field of a task').argument('<name>'),
    (client, _o, [name = '']) => client.get<TaskStatus>(`${TASKS}/${enc(name)}`),
    showTask,
  );

  clientAction<{ volume: string; remoteVolume: string; rate?: number; fixedRate?: boolean }, TaskStatus>(
    task
      .command('create')
      .description('create a task: replicate a source volume here to a destination volume of the peer')
      .argument('<name>')
      .requiredOption('--volume <volume>', 'the local source volume')
      .requiredOption('--remote-volume <volume>', "the peer's destination volume (see: replication browse)")
      .option('--rate <size>', 'resync rate per second, e.g. 100MiB (dynamic: the cap)', rateArg)
      .option('--fixed-rate', 'resync at exactly --rate instead of adapting to application I/O'),
    (client, o, [name]) => {
      if (o.fixedRate === true && o.rate === undefined) throw usage('--fixed-rate needs --rate');
      return client.post(TASKS, {
        name,
        volume: o.volume,
        remoteVolume: o.remoteVolume,
        ...(o.rate === undefined
          ? {}
          : { rate: { mode: o.fixedRate === true ? 'fixed' : 'dynamic', bytesPerSecond: o.rate } }),
      });
    },
    showTask,
  );

  clientAction<object, null>(
    task.command('delete').description('delete a task (the volumes stay)').argument('<name>'),
    (client, _o, [name = '']) => client.delete(`${TASKS}/${enc(name)}`),
    () => process.stdout.write('task deleted\n'),
  );

  const actions: [string, string][] = [
    ['start', 'start a task: connect to the peer and sync'],
    ['stop', 'stop a task: disconnect and stand alone'],
    ['verify', "online verify: compare checksums with the peer's; mismatches become out of sync"],
    ['demote', 'make this side secondary'],
  ];
  for (const [action, description] of actions) {
    clientAction(
      task.command(action).description(description).argument('<name>'),
      (client, _o, [name = '']) => client.post<TaskStatus>(`${TASKS}/${enc(name)}/${action}`),
      showTask,
    );
  }

  clientAction<{ force?: boolean }, TaskStatus & { warning?: string }>(
    task
      .command('promote')
      .description('make this side primary (only an up-to-date volume, unless --force)')
      .argument('<name>')
      .option('--force', 'promote even a volume that is not up to date (data may be lost)'),
    async (client, o, [name = '']) => {
      const result = await client.post<TaskStatus & { warning?: string }>(`${TASKS}/${enc(name)}/promote`, {
        force: o.force === true,
      });
      if (result.warning !== undefined) printWarning(result.warning);
      return result;
    },
    showTask,
  );

  clientAction<{ discard: 'local' | 'peer' }, TaskStatus & { copy?: string }>(
    task
      .command('resolve')
      .description("recover from split brain: discard one side's changes (a copy of them is kept)")
      .argument('<name>')
      .addOption(
        new Option('--discard <side>', 'whose changes to discard, as seen from this node')
          .choices(['local', 'peer'])
          .makeOptionMandatory(),
      ),
    (client, o, [name = '']) =>
      client.post(`${TASKS}/${enc(name)}/resolve-split-brain`, { discard: o.discard }),
    (result) => {
      showTask(result);
      if (result.copy !== undefined)
        process.stdout.write(`the discarded data was copied to ${result.copy}\n`);
    },
  );

  const watch = task
    .command('watch')
    .description('follow a resync or verify with a progress bar, until it is done (Ctrl-C to leave)')
    .argument('<name>')
    .option('--interval <seconds>', 'time between polls', secondsArg, 1);
  addClientOptions(watch).action(async (name: string, _options: unknown, self: Command) => {
    const options = self.optsWithGlobals<WatchOptions>();
    await watchTask(new ApiClient(resolveConnection(options)), name, options);
  });

  return task;
}

export function replicationCommand(): Command {
  const replication = new Command('replication').description(
    'volume replication: pairing with the peer node, volume modes, replication tasks',
  );

  clientAction<
    { peerName: string; secretFile?: string; secretEnv?: string; tls?: boolean; peerFingerprint?: string },
    PairingView
  >(
    replication
      .command('pair')
      .description('pair this node with its peer (the same secret on both nodes)')
      .requiredOption('--peer-name <name>', 'the peer node’s name')
      .addOption(
        new Option('--secret-file <file>', 'read the shared secret from this file').conflicts('secretEnv'),
      )
      .option('--secret-env <var>', 'read the shared secret from this environment variable')
      .option('--tls', 'encrypt the replication link (TLS)')
      .option('--peer-fingerprint <hex>', "SHA-256 of the peer's TLS certificate", fingerprintArg),
    (client, o) => {
      const secret = readSecret(o);
      return client.call<PairingView>('PUT', '/api/v1/replication/pairing', {
        peerName: o.peerName,
        secret,
        ...(o.tls === true ? { tls: true } : {}),
        ...(o.peerFingerprint === undefined ? {} : { peerFingerprint: o.peerFingerprint }),
      });
    },
    showPairing,
  );

  clientAction(
    replication.command('pairing').description('show the pairing with the peer node'),
    (client) => client.get<PairingView>('/api/v1/replication/pairing'),
    showPairing,
  );

  clientAction<object, null>(
    replication.command('unpair').description('forget the peer node and the shared secret'),
    (client) => client.delete('/api/v1/replication/pairing'),
    () => process.stdout.write('unpaired\n'),
  );

  clientAction<{ mode: string; mirrorServer: string; clearMetadata?: boolean }, VolumeReplicationSettings>(
    replication
      .command('volume-mode')
      .description("set a volume's replication mode and the peer's replication address")
      .argument('<volume>')
      .addOption(
        new Option('--mode <mode>', 'source (replicated from here) or destination (replicated to here)')
          .choices(['source', 'destination'])
          .makeOptionMandatory(),
      )
      .requiredOption('--mirror-server <host:port>', "the peer's replication address", mirrorServerArg)
      .option('--clear-metadata', 'forget the replication history: the next sync copies everything'),
    (client, o, [volume = '']) =>
      client.call('PUT', `/api/v1/volumes/${enc(volume)}/replication`, {
        mode: o.mode,
        mirrorServer: o.mirrorServer,
        ...(o.clearMetadata === true ? { clearMetadata: true } : {}),
      }),
    showSettings,
  );

  clientAction(
    replication
      .command('volume-show')
      .description("show a volume's replication settings")
      .argument('<volume>'),
    (client, _o, [volume = '']) =>
      client.get<VolumeReplicationSettings>(`/api/v1/volumes/${enc(volume)}/replication`),
    showSettings,
  );

  clientAction(
    replication.command('browse').description("list the peer's destination volumes"),
    (client) => client.get<DestinationVolume[]>('/api/v1/replication/destinations'),
    (volumes) =>
      printTable(
        volumes,
        [
          { header: 'VOLUME', value: (v) => v.volume },
          { header: 'SIZE', value: (v) => size(v.size) },
          { header: 'AVAILABLE', value: (v) => (v.unavailable === null ? 'yes' : `no: ${v.unavailable}`) },
        ],
        'the peer has no destination volumes',
      ),
  );

  replication.addCommand(taskCommand());
  return replication;
}
