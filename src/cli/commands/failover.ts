// `tandem failover ...`: iSCSI failover: the node's settings (links, ping nodes, tasks, timing), the
// preflight, and the failover manager (start, stop, manual failover, sync volume, failback, status).
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import type { FailoverStatus, PreflightCheck } from '../../ha/control.js';
import type { FailoverConfig } from '../../ha/failover/config.js';
import { clientAction, collect } from '../command-kit.js';
import { printFields, printTable } from '../output.js';

const BASE = '/api/v1/failover';

function millisecondsArg(text: string): number {
  if (!/^\d{1,6}$/.test(text)) throw new InvalidArgumentError('a whole number of milliseconds');
  return Number(text);
}

function portArg(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new InvalidArgumentError('a port is 1 to 65535');
  }
  return Number(text);
}

function showStatus(s: FailoverStatus): void {
  printFields([
    ['node', s.nodeName],
    ['peer', s.peerName],
    ['enabled', s.enabled],
    ['started', s.started],
    ['state', s.state],
    ['term', s.term],
    [
      'virtual IP',
      s.virtualIp
        ? `${s.virtualIp.address} (${s.virtualIp.driver}, ${s.virtualIp.held ? 'held here' : 'not here'})`
        : null,
    ],
    ['ping node', s.pingNodeReachable ? 'answers' : 'no answer'],
    [
      'peer',
      s.peer.heard
        ? `${s.peer.role ?? '?'}, volumes ${s.peer.upToDate ? 'up to date' : 'not up to date'}, ping node ${s.peer.pingNodeReachable ? 'answers' : 'silent'}, term ${s.peer.term ?? '?'}`
        : 'not heard',
    ],
    ['clock offset', s.clockOffsetMs === null ? null : `${s.clockOffsetMs} ms`],
    ['last decision', s.lastDecision ? `${s.lastDecision.action}: ${s.lastDecision.reason}` : null],
    [
      'last transition',
      s.lastTransition
        ? `${s.lastTransition.kind} ${s.lastTransition.ok ? 'ok' : 'FAILED'} at ${s.lastTransition.at} (${s.lastTransition.steps.map((st) => `${st.step} ${st.ms} ms`).join(', ')})`
        : null,
    ],
  ]);
  for (const alarm of s.alarms) process.stdout.write(`${pc.yellow('alarm:')} ${alarm}\n`);
  for (const warning of s.warnings) process.stdout.write(`${pc.yellow('warning:')} ${warning}\n`);
  printTable(
    s.links,
    [
      { header: 'LINK', value: (l) => l.name },
      { header: 'LOCAL', value: (l) => l.local },
      { header: 'PEER', value: (l) => l.peer },
      { header: 'ALIVE', value: (l) => l.alive },
      { header: 'RTT MS', value: (l) => l.rttMs },
      { header: 'JITTER P99 MS', value: (l) => l.jitterP99Ms },
    ],
    'no heartbeat links',
  );
  printTable(
    s.tasks,
    [
      { header: 'TASK', value: (t) => t.localTask || t.task },
      { header: 'RUNNING', value: (t) => t.running },
      { header: 'ROLE', value: (t) => t.role },
      { header: 'CONNECTION', value: (t) => (t.held ? `${t.connection} (held)` : t.connection) },
      { header: 'VOLUME', value: (t) => `${t.volume} ${t.diskState}` },
      { header: 'PEER VOLUME', value: (t) => `${t.remoteVolume} ${t.peerDiskState}` },
      { header: 'PEER', value: (t) => t.peerAddress },
    ],
    'no failover tasks',
  );
}

function showChecks(checks: readonly PreflightCheck[]): void {
  printTable(checks, [
    { header: 'CHECK', value: (c) => c.check },
    { header: 'RESULT', value: (c) => (c.ok ? (c.warning === true ? 'WARNING' : 'ok') : 'FAILED') },
    { header: 'DETAIL', value: (c) => c.detail },
  ]);
}

function showConfig(c: FailoverConfig): void {
  printFields([
    ['enabled', c.enabled],
    ['data link', `${c.links.data.local || '-'} -> ${c.links.data.peer || '-'}`],
    ['auxiliary link', `${c.links.aux.local || '-'} -> ${c.links.aux.peer || '-'}`],
    ['ping nodes', c.pingNodes.join(', ') || null],
    ['tasks', c.tasks.join(', ') || null],
    ['heartbeat interval', `${c.intervalMs} ms`],
    ['dead time', `${c.deadTimeMs} ms`],
    ['iSCSI port on the virtual IP', c.portalPort],
    ['witness (third vote)', c.witness.join(', ') || 'none: ping-node mode'],
  ]);
}

interface ConfigOptions {
  enable?: boolean;
  disable?: boolean;
  dataLocal?: string;
  dataPeer?: string;
  auxLocal?: string;
  auxPeer?: string;
  pingNode?: string[];
  task?: string[];
  interval?: number;
  deadTime?: number;
  portalPort?: number;
  witness?: string[];
  clearWitness?: boolean;
}

export function failoverCommand(): Command {
  const failover = new Command('failover').description(
    'iSCSI failover: settings, preflight, start/stop, manual failover, sync volume, failback',
  );

  clientAction(
    failover.command('status').description("this node's failover state, links, ping node and tasks"),
    (client) => client.get<FailoverStatus>(BASE),
    showStatus,
  );

  clientAction(
    failover.command('config').description('show the failover settings'),
    (client) => client.get<FailoverConfig>(`${BASE}/config`),
    showConfig,
  );

  clientAction<ConfigOptions, FailoverConfig>(
    failover
      .command('configure')
      .description('change failover settings (options left out stay as they are)')
      .option('--enable', 'enable failover on this node')
      .option('--disable', 'disable failover on this node')
      .option('--data-local <addr[:port]>', "this node's heartbeat address on the data link")
      .option('--data-peer <addr[:port]>', "the peer's heartbeat address on the data link")
      .option('--aux-local <addr[:port]>', "this node's heartbeat address on the auxiliary link")
      .option('--aux-peer <addr[:port]>', "the peer's heartbeat address on the auxiliary link")
      .option('--ping-node <ip>', 'a ping node (repeat for several; replaces the list)', collect)
      .option(
        '--task <name>',
        'a volume replication task that fails over (repeat; replaces the list)',
        collect,
      )
      .option('--interval <ms>', 'heartbeat interval (default 500)', millisecondsArg)
      .option('--dead-time <ms>', 'silence after which a link is dead (default 2500)', millisecondsArg)
      .option(
        '--portal-port <port>',
        'iSCSI port on the virtual IP, the same on both nodes (default 3260)',
        portArg,
      )
      .option(
        '--witness <url>',
        'etcd client URL of the witness, the third vote (repeat for several; replaces the list)',
        collect,
      )
      .option('--clear-witness', 'no witness: ping-node mode'),
    (client, o) => {
      if (o.enable === true && o.disable === true)
        throw new InvalidArgumentError('--enable or --disable, not both');
      if (o.witness !== undefined && o.clearWitness === true)
        throw new InvalidArgumentError('--witness or --clear-witness, not both');
      const body = {
        ...(o.enable === true ? { enabled: true } : {}),
        ...(o.disable === true ? { enabled: false } : {}),
        ...(o.dataLocal === undefined ? {} : { dataLocal: o.dataLocal }),
        ...(o.dataPeer === undefined ? {} : { dataPeer: o.dataPeer }),
        ...(o.auxLocal === undefined ? {} : { auxLocal: o.auxLocal }),
        ...(o.auxPeer === undefined ? {} : { auxPeer: o.auxPeer }),
        ...(o.pingNode === undefined ? {} : { pingNodes: o.pingNode }),
        ...(o.task === undefined ? {} : { tasks: o.task }),
        ...(o.interval === undefined ? {} : { intervalMs: o.interval }),
        ...(o.deadTime === undefined ? {} : { deadTimeMs: o.deadTime }),
        ...(o.portalPort === undefined ? {} : { portalPort: o.portalPort }),
        ...(o.witness === undefined ? {} : { witness: o.witness }),
        ...(o.clearWitness === true ? { witness: [] } : {}),
      };
      return client.call<FailoverConfig>('PUT', `${BASE}/config`, body);
    },
    showConfig,
  );

  clientAction(
    failover.command('preflight').description('run the checks Start runs, each named'),
    async (client) => (await client.post<{ checks: PreflightCheck[] }>(`${BASE}/preflight`, {})).checks,
    showChecks,
  );

  clientAction<{ force?: boolean }, FailoverStatus>(
    failover
      .command('start')
      .description('start failover with this node active (the peer follows as passive)')
      .option('--force', 'start even though preflight checks fail'),
    (client, o) => client.post<FailoverStatus>(`${BASE}/start`, { force: o.force === true }),
    showStatus,
  );

  const simple: [string, string, string][] = [
    ['stop', 'stop failover on both nodes; the service stays where it is', 'stop'],
    ['manual', 'hand the active role to the peer (it must be up to date)', 'manual-failover'],
    ['sync-volume', 'on the active node after a failover: let the returning node resync', 'sync-volume'],
    ['failback', 'give the active role back once the peer is up to date', 'failback'],
  ];
  for (const [name, description, path] of simple) {
    clientAction(
      failover.command(name).description(description),
      (client) => client.post<FailoverStatus>(`${BASE}/${path}`, {}),
      showStatus,
    );
  }
  return failover;
}
