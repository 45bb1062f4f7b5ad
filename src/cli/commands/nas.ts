// `tandem nas ...`: NAS shares and their data replication access, NAS snapshots, NAS settings and the
// data replication agent. A share's replication password is read from a file or an environment
// variable, never from the command line, where every user of the machine could see it in ps.
import { readFileSync, statSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import type { AgentShare } from '../../datarep/browse.js';
import { parseDestination } from '../../datarep/destination.js';
import type { AgentStatus } from '../../datarep/agent/agent.js';
import { isTandemError, messageOf } from '../../lib/errors.js';
import type { NasSnapshotView, ShareView } from '../../nas/contract.js';
import type { NasSettingsView, VolumeSnapshotsView } from '../../nas/nas-service.js';
import { CliError } from '../client.js';
import { clientAction, enc, onOffArg } from '../command-kit.js';
import { printFields, printTable, size } from '../output.js';

const SHARES = '/api/v1/nas/shares';
const usage = (message: string): CliError => new CliError(message, 'usage', 2);

function integerArg(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new InvalidArgumentError(`give a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

/** `a,b c` → ['a', 'b', 'c']; an empty text clears the list. */
export function hostListArg(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((h) => h.trim())
    .filter((h) => h !== '');
}

/** The password from --password-file (one trailing newline dropped) or --password-env. */
export function readPassword(
  options: { passwordFile?: string; passwordEnv?: string },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (options.passwordFile !== undefined) {
    try {
      const password = readFileSync(options.passwordFile, 'utf8').replace(/\r?\n$/, '');
      if ((statSync(options.passwordFile).mode & 0o077) !== 0) {
        process.stderr.write(
          `${pc.yellow(`warning: ${options.passwordFile} can be read by other users; chmod 600 it`)}\n`,
        );
      }
      return password;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? messageOf(error);
      throw usage(`cannot read the password file ${options.passwordFile} (${code})`);
    }
  }
  if (options.passwordEnv !== undefined) {
    const value = env[options.passwordEnv];
    if (value === undefined || value === '')
      throw usage(`environment variable ${options.passwordEnv} is not set`);
    return value;
  }
  return undefined;
}

const replicationText = (s: ShareView): string =>
  s.dataReplication === null
    ? 'off'
    : `${s.dataReplication.enabled ? 'on' : 'off'} (ID ${s.dataReplication.id})`;

const showShare = (s: ShareView): void =>
  printFields([
    ['name', s.name],
    ['volume', s.volume],
    ['path in volume', s.relativePath === '' ? '.' : s.relativePath],
    ['path', s.path],
    ['comment', s.comment],
    ['data replication', replicationText(s)],
  ]);

const snapshotColumns = [
  { header: 'NAME', value: (s: NasSnapshotView) => s.name },
  { header: 'MODE', value: (s: NasSnapshotView) => s.mode },
  { header: 'COST', value: (s: NasSnapshotView) => size(s.bytes) },
  { header: 'CREATED', value: (s: NasSnapshotView) => s.createdAt },
  { header: 'PATH', value: (s: NasSnapshotView) => s.path },
];

const showSnapshot = (s: NasSnapshotView): void =>
  printFields([
    ['volume', s.volume],
    ['name', s.name],
    ['mode', s.mode],
    ['cost', size(s.bytes)],
    ['created', s.createdAt],
    ['path', s.path],
  ]);

const showSettings = (s: NasSettingsView): void =>
  printFields([
    ['local backup', s.localBackup],
    ['data replication agent', s.agent.enabled],
    ['agent address', `${s.agent.address}:${s.agent.port}`],
    ['allowed hosts', s.agent.allowedHosts.length === 0 ? 'any' : s.agent.allowedHosts.join(' ')],
    ['max connections', s.agent.maxConnections],
  ]);

const showAgent = (a: AgentStatus): void =>
  printFields([
    ['enabled', a.enabled],
    ['running', a.running],
    ['pid', a.pid],
    ['listening on', a.enabled ? `${a.address}:${a.port}` : null],
    ['shares served', a.modules.length === 0 ? null : a.modules.join(', ')],
    ['started', a.startedAt],
    ['restarts', a.restarts],
    [
      'last exit',
      a.lastExit === null
        ? null
        : `${a.lastExit.signal ?? `code ${String(a.lastExit.code)}`} at ${a.lastExit.at}`,
    ],
    [
      'connections',
      a.enabled
        ? `${a.gate.sessions} running, ${a.gate.authenticating} authenticating, ${a.gate.waiting} waiting`
        : null,
    ],
    ['refused / dropped', a.enabled ? `${a.gate.refused} / ${a.gate.dropped}` : null],
    ['last error', a.lastError === null ? null : pc.red(a.lastError)],
    ['config file', a.configFile],
  ]);

function shareCommand(): Command {
  const share = new Command('share').description('shares: directories of NAS volumes');

  clientAction(
    share.command('list').description('list shares'),
    (client) => client.get<ShareView[]>(SHARES),
    (shares) =>
      printTable(
        shares,
        [
          { header: 'NAME', value: (s) => s.name },
          { header: 'VOLUME', value: (s) => s.volume },
          { header: 'PATH IN VOLUME', value: (s) => (s.relativePath === '' ? '.' : s.relativePath) },
          { header: 'DATA REPLICATION', value: replicationText },
          { header: 'COMMENT', value: (s) => s.comment },
        ],
        'no shares',
      ),
  );

  clientAction(
    share.command('show').description('show one share').argument('<name>'),
    (client, _o, [name = '']) => client.get<ShareView>(`${SHARES}/${enc(name)}`),
    showShare,
  );

  clientAction<{ volume: string; path?: string; comment?: string }, ShareView>(
    share
      .command('create')
      .description('create a share on a NAS volume')
      .argument('<name>')
      .requiredOption('--volume <volume>', 'the NAS volume')
      .option('--path <path>', 'directory inside the volume (default: the share name; "." for its root)')
      .option('--comment <text>', 'a one-line description'),
    (client, o, [name]) =>
      client.post(SHARES, {
        name,
        volume: o.volume,
        ...(o.path === undefined ? {} : { path: o.path }),
        ...(o.comment === undefined ? {} : { comment: o.comment }),
      }),
    showShare,
  );

  clientAction<{ comment?: string }, ShareView>(
    share
      .command('set')
      .description("change a share's comment")
      .argument('<name>')
      .requiredOption('--comment <text>', 'a one-line description'),
    (client, o, [name = '']) => client.patch(`${SHARES}/${enc(name)}`, { comment: o.comment }),
    showShare,
  );

  clientAction<object, null>(
    share.command('delete').description('delete a share (its files stay in the volume)').argument('<name>'),
    (client, _o, [name = '']) => client.delete(`${SHARES}/${enc(name)}`),
    () => process.stdout.write('share deleted\n'),
  );

  clientAction<
    { enable?: boolean; disable?: boolean; id?: string; passwordFile?: string; passwordEnv?: string },
    ShareView
  >(
    share
      .command('replication')
      .description('make a share a data replication destination (served by the agent), or stop that')
      .argument('<name>')
      .addOption(new Option('--enable', 'use data replication').conflicts('disable'))
      .option('--disable', 'stop serving the share to replication sources')
      .option('--id <id>', 'the ID (rsync user) sources log in with')
      .addOption(
        new Option('--password-file <file>', 'read the password from this file').conflicts('passwordEnv'),
      )
      .option('--password-env <var>', 'read the password from this environment variable'),
    (client, o, [name = '']) => {
      if (o.enable !== true && o.disable !== true) throw usage('give --enable or --disable');
      const password = readPassword(o);
      return client.call<ShareView>('PUT', `${SHARES}/${enc(name)}/data-replication`, {
        enabled: o.enable === true,
        ...(o.id === undefined ? {} : { id: o.id }),
        ...(password === undefined ? {} : { password }),
      });
    },
    showShare,
  );
  return share;
}

function snapshotCommand(): Command {
  const snapshot = new Command('snapshot').description('NAS snapshots: read-only copies of a NAS volume');

  clientAction(
    snapshot.command('list').description("list a NAS volume's snapshots").argument('<volume>'),
    (client, _o, [volume = '']) =>
      client.get<VolumeSnapshotsView>(`/api/v1/nas/volumes/${enc(volume)}/snapshots`),
    (view) => {
      printTable(view.snapshots, snapshotColumns, 'no snapshots');
      const reserve = view.reserve === 0 ? 'no reserve set' : `${size(view.reserve)} reserved`;
      process.stdout.write(`snapshots use ${size(view.used)} (${reserve})\n`);
    },
  );

  clientAction<{ name?: string }, NasSnapshotView>(
    snapshot
      .command('create')
      .description('freeze a NAS volume now')
      .argument('<volume>')
      .option('--name <name>', 'the snapshot name (default: snap-<date>-<time>)'),
    (client, o, [volume = '']) =>
      client.post(
        `/api/v1/nas/volumes/${enc(volume)}/snapshots`,
        o.name === undefined ? {} : { name: o.name },
      ),
    showSnapshot,
  );

  clientAction<object, null>(
    snapshot.command('delete').description('delete a NAS snapshot').argument('<volume>').argument('<name>'),
    (client, _o, [volume = '', name = '']) =>
      client.delete(`/api/v1/nas/volumes/${enc(volume)}/snapshots/${enc(name)}`),
    () => process.stdout.write('snapshot deleted\n'),
  );
  return snapshot;
}

function settingsCommand(): Command {
  const settings = new Command('settings').description(
    'NAS settings: local backup, the data replication agent',
  );

  clientAction(
    settings.command('show').description('show the NAS settings'),
    (client) => client.get<NasSettingsView>('/api/v1/nas/settings'),
    showSettings,
  );

  clientAction<
    {
      localBackup?: boolean;
      agent?: boolean;
      agentPort?: number;
      agentAddress?: string;
      allowedHosts?: string[];
      maxConnections?: number;
    },
    NasSettingsView
  >(
    settings
      .command('set')
      .description('change NAS settings')
      .option('--local-backup <on|off>', 'let data replication tasks run from this node', onOffArg)
      .option('--agent <on|off>', 'run the data replication agent', onOffArg)
      .option('--agent-port <port>', 'the agent port (default 873)', integerArg(1, 65535))
      .option('--agent-address <ip>', 'the address the agent binds (default 0.0.0.0)')
      .option('--allowed-hosts <list>', 'hosts that may connect, comma separated ("" for any)', hostListArg)
      .option('--max-connections <n>', 'concurrent replication sessions', integerArg(1, 1000)),
    (client, o) => {
      const agent = {
        ...(o.agent === undefined ? {} : { enabled: o.agent }),
        ...(o.agentPort === undefined ? {} : { port: o.agentPort }),
        ...(o.agentAddress === undefined ? {} : { address: o.agentAddress }),
        ...(o.allowedHosts === undefined ? {} : { allowedHosts: o.allowedHosts }),
        ...(o.maxConnections === undefined ? {} : { maxConnections: o.maxConnections }),
      };
      if (o.localBackup === undefined && Object.keys(agent).length === 0) throw usage('nothing to change');
      return client.patch('/api/v1/nas/settings', {
        ...(o.localBackup === undefined ? {} : { localBackup: o.localBackup }),
        ...(Object.keys(agent).length === 0 ? {} : { agent }),
      });
    },
    showSettings,
  );
  return settings;
}

function destinationArg(text: string): { host: string; port: number } {
  try {
    return parseDestination(text);
  } catch (error) {
    throw new InvalidArgumentError(isTandemError(error) ? error.message : messageOf(error));
  }
}

function agentCommand(): Command {
  const agent = new Command('agent').description('the data replication agent (an rsync daemon)');

  clientAction(
    agent.command('status').description("the agent's state"),
    (client) => client.get<AgentStatus>('/api/v1/nas/agent'),
    showAgent,
  );

  clientAction(
    agent
      .command('browse')
      .description('list the shares an agent offers (ours or any rsync daemon)')
      .argument('<host[:port]>', 'the agent, port 873 unless given', destinationArg),
    (client, _o, args) => {
      const destination = destinationArg(args[0] ?? '');
      return client.get<AgentShare[]>(
        `/api/v1/nas/agent/browse?host=${enc(destination.host)}&port=${destination.port}`,
      );
    },
    (shares) =>
      printTable(
        shares,
        [
          { header: 'SHARE', value: (s) => s.name },
          { header: 'COMMENT', value: (s) => s.comment },
        ],
        'the agent offers no shares',
      ),
  );
  return agent;
}

export function nasCommand(): Command {
  const nas = new Command('nas').description(
    'NAS: shares, snapshots, settings and the data replication agent',
  );
  nas.addCommand(shareCommand());
  nas.addCommand(snapshotCommand());
  nas.addCommand(settingsCommand());
  nas.addCommand(agentCommand());
  return nas;
}
