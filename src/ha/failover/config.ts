// A node's failover settings and their validation (pure). The settings say where the two heartbeat
// links are (this node's and the peer's address on each), which ping nodes arbitrate, which volume
// replication tasks move with the service, and the timing. Bad settings are refused whole, with the
// field named, before anything is stored.
import { isIPv4 } from 'node:net';
import { invalid } from '../../lib/errors.js';
import { formatHostPort, parseHostPort } from '../../lib/host-port.js';
import { validateName } from '../../lib/names.js';

export const DEFAULT_HEARTBEAT_PORT = 7790;
export const DEFAULT_INTERVAL_MS = 500;
export const DEFAULT_DEAD_TIME_MS = 2500;
/** Clocks further apart than this fail the preflight (PRODUCT.md: both nodes must agree on the time). */
export const MAX_CLOCK_OFFSET_MS = 2000;

export type LinkName = 'data' | 'aux';

export interface LinkEndpoints {
  /** This node's heartbeat address on the link, host:port. */
  readonly local: string;
  /** The peer's heartbeat address on the link, host:port. */
  readonly peer: string;
}

export interface FailoverConfig {
  readonly enabled: boolean;
  readonly links: { readonly data: LinkEndpoints; readonly aux: LinkEndpoints };
  /** IPv4 addresses of devices that answer ping (never one of the two nodes). */
  readonly pingNodes: readonly string[];
  /** Volume replication tasks (by the source's name) that move with the service. */
  readonly tasks: readonly string[];
  readonly intervalMs: number;
  readonly deadTimeMs: number;
  /** The iSCSI port served on the virtual IP (the same on both nodes). */
  readonly portalPort: number;
  /** etcd client URLs of the witness (the third vote); empty: ping-node mode. The same on both nodes. */
  readonly witness: readonly string[];
}

export interface FailoverConfigInput {
  readonly enabled?: boolean;
  readonly dataLocal?: string;
  readonly dataPeer?: string;
  readonly auxLocal?: string;
  readonly auxPeer?: string;
  readonly pingNodes?: readonly string[];
  readonly tasks?: readonly string[];
  readonly intervalMs?: number;
  readonly deadTimeMs?: number;
  readonly portalPort?: number;
  readonly witness?: readonly string[];
}

export const EMPTY_CONFIG: FailoverConfig = {
  enabled: false,
  links: { data: { local: '', peer: '' }, aux: { local: '', peer: '' } },
  pingNodes: [],
  tasks: [],
  intervalMs: DEFAULT_INTERVAL_MS,
  deadTimeMs: DEFAULT_DEAD_TIME_MS,
  portalPort: 3260,
  witness: [],
};

/**
 * Merges `input` into `current` and checks the result. `ownAddresses` are this node's addresses (all
 * NICs), which can never be ping nodes; the peer's link addresses cannot be either.
 */
export function applyConfig(
  current: FailoverConfig,
  input: FailoverConfigInput,
  ownAddresses: readonly string[],
): FailoverConfig {
  const links = {
    data: {
      local: endpoint('dataLocal', input.dataLocal ?? current.links.data.local),
      peer: endpoint('dataPeer', input.dataPeer ?? current.links.data.peer),
    },
    aux: {
      local: endpoint('auxLocal', input.auxLocal ?? current.links.aux.local),
      peer: endpoint('auxPeer', input.auxPeer ?? current.links.aux.peer),
    },
  };
  const pingNodes = [...(input.pingNodes ?? current.pingNodes)];
  const tasks = [...(input.tasks ?? current.tasks)];
  const intervalMs = input.intervalMs ?? current.intervalMs;
  const deadTimeMs = input.deadTimeMs ?? current.deadTimeMs;
  const enabled = input.enabled ?? current.enabled;
  const portalPort = input.portalPort ?? current.portalPort;
  const witness = (input.witness ?? current.witness).map((url, i) => witnessEndpoint(`witness[${i}]`, url));
  if (witness.length > 5) throw invalid('too-many-witness-endpoints', 'at most 5 witness endpoints');
  if (!Number.isInteger(portalPort) || portalPort < 1 || portalPort > 65535) {
    throw invalid('bad-port', 'portalPort must be 1 to 65535');
  }

  if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 10_000) {
    throw invalid('bad-interval', 'intervalMs must be a whole number of milliseconds from 100 to 10000');
  }
  if (!Number.isInteger(deadTimeMs) || deadTimeMs < 3 * intervalMs || deadTimeMs > 120_000) {
    throw invalid(
      'bad-dead-time',
      `deadTimeMs must be at least three heartbeat intervals (${3 * intervalMs} ms) and at most 120000`,
    );
  }
  for (const task of tasks) validateName('task', task);
  if (new Set(tasks).size !== tasks.length) throw invalid('duplicate-task', 'a task is listed twice');
  if (pingNodes.length > 8) throw invalid('too-many-ping-nodes', 'at most 8 ping nodes');
  const peerHosts = [links.data.peer, links.aux.peer].filter((e) => e !== '').map(hostOf);
  const localHosts = [links.data.local, links.aux.local].filter((e) => e !== '').map(hostOf);
  for (const ping of pingNodes) {
    if (!isIPv4(ping)) throw invalid('bad-ping-node', `ping node "${ping}" is not an IPv4 address`);
    if (ownAddresses.includes(ping) || localHosts.includes(ping)) {
      throw invalid('ping-node-is-self', `ping node ${ping} is an address of this node: use another device`);
    }
    if (peerHosts.includes(ping)) {
      throw invalid('ping-node-is-peer', `ping node ${ping} is the peer's address: use a third device`);
    }
  }
  if (new Set(pingNodes).size !== pingNodes.length)
    throw invalid('duplicate-ping-node', 'a ping node is listed twice');
  if (links.data.local !== '' && links.data.local === links.aux.local) {
    throw invalid(
      'same-link',
      'the data and auxiliary heartbeat links need different local addresses or ports',
    );
  }
  if (enabled) {
    const missing = (
      [
        ['dataLocal', links.data.local],
        ['dataPeer', links.data.peer],
        ['auxLocal', links.aux.local],
        ['auxPeer', links.aux.peer],
      ] as const
    )
      .filter(([, value]) => value === '')
      .map(([name]) => name);
    if (missing.length > 0) {
      throw invalid(
        'incomplete',
        `failover needs both links before it is enabled: set ${missing.join(', ')}`,
      );
    }
    if (pingNodes.length === 0) throw invalid('no-ping-node', 'failover needs at least one ping node');
    if (tasks.length === 0) throw invalid('no-tasks', 'failover needs at least one volume replication task');
  }
  return { enabled, links, pingNodes, tasks, intervalMs, deadTimeMs, portalPort, witness };
}

/** The lease the witness grants: whole seconds (etcd's unit), shorter than the dead time, so a holder
 * that cannot renew stops before the peer declares it dead. */
export function witnessTtlSeconds(config: Pick<FailoverConfig, 'deadTimeMs'>): number {
  return Math.max(1, Math.floor(config.deadTimeMs / 1000));
}

/** An etcd client URL: http://host:port (no path, no credentials). */
function witnessEndpoint(field: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(
      'bad-witness',
      `${field}: "${text.slice(0, 80)}" is not a URL (e.g. http://198.18.0.4:2379)`,
    );
  }
  if (url.protocol !== 'http:' || url.port === '' || url.username !== '' || url.pathname !== '/') {
    throw invalid(
      'bad-witness',
      `${field}: "${text.slice(0, 80)}" must be http://host:port (an etcd client URL)`,
    );
  }
  return `${url.protocol}//${url.host}`;
}

/** A link endpoint as host:port; a bare address gets the default heartbeat port. Empty stays empty. */
function endpoint(field: string, text: string): string {
  if (text === '') return '';
  const withPort = isIPv4(text) ? `${text}:${DEFAULT_HEARTBEAT_PORT}` : text;
  try {
    const parsed = parseHostPort(withPort, '');
    if (parsed.port === 0) throw invalid('bad-address', 'port 0');
    if (!isIPv4(parsed.host)) throw invalid('bad-address', 'IPv4 only');
    if (parsed.host === '0.0.0.0') throw invalid('bad-address', 'a wildcard address');
    return formatHostPort(parsed);
  } catch {
    throw invalid(
      'bad-address',
      `${field}: "${text}" is not an IPv4 address with an optional :port (e.g. 198.18.1.1:7790)`,
    );
  }
}

function hostOf(endpointText: string): string {
  return parseHostPort(endpointText, '').host;
}

/** Parses stored settings, falling back to the defaults for anything missing or malformed. */
export function parseStoredConfig(text: string | undefined): FailoverConfig {
  if (text === undefined) return EMPTY_CONFIG;
  try {
    const raw = JSON.parse(text) as Partial<FailoverConfig>;
    return {
      enabled: raw.enabled === true,
      links: {
        data: { local: raw.links?.data.local ?? '', peer: raw.links?.data.peer ?? '' },
        aux: { local: raw.links?.aux.local ?? '', peer: raw.links?.aux.peer ?? '' },
      },
      pingNodes: Array.isArray(raw.pingNodes) ? raw.pingNodes.filter((p) => typeof p === 'string') : [],
      tasks: Array.isArray(raw.tasks) ? raw.tasks.filter((t) => typeof t === 'string') : [],
      intervalMs: typeof raw.intervalMs === 'number' ? raw.intervalMs : DEFAULT_INTERVAL_MS,
      deadTimeMs: typeof raw.deadTimeMs === 'number' ? raw.deadTimeMs : DEFAULT_DEAD_TIME_MS,
      portalPort: typeof raw.portalPort === 'number' ? raw.portalPort : 3260,
      witness: Array.isArray(raw.witness) ? raw.witness.filter((w) => typeof w === 'string') : [],
    };
  } catch {
    return EMPTY_CONFIG;
  }
}
