// Reads the JSON that `ip -j addr show` prints (iproute2) into NICs. Pure: no I/O, so it is tested on
// recorded samples. Fields we do not use are ignored; fields we need but cannot read are an error.
import { TandemError } from '../lib/errors.js';

export type NicState = 'up' | 'down' | 'unknown';

export interface NicAddress {
  readonly family: 'inet' | 'inet6';
  readonly address: string;
  readonly prefixLength: number;
  /** IPv4 only, when the kernel has one. */
  readonly broadcast?: string;
  readonly scope?: string;
  /** A secondary address of its subnet (a virtual IP added next to the NIC's own address is one). */
  readonly secondary: boolean;
}

export interface Nic {
  readonly name: string;
  readonly index: number;
  /** Operational state, as people read it: `up` only when it can carry traffic. */
  readonly state: NicState;
  /** Administratively up (`ip link set … up`). */
  readonly adminUp: boolean;
  /** The link has carrier (LOWER_UP). */
  readonly carrier: boolean;
  readonly mac: string | null;
  readonly mtu: number;
  readonly loopback: boolean;
  readonly addresses: readonly NicAddress[];
}

function unreadable(detail: string): TandemError {
  return new TandemError(
    'internal',
    'ip-output-unreadable',
    `cannot read the output of "ip -j addr show": ${detail}`,
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** operstate first; where the kernel says UNKNOWN (loopback, some virtual NICs) the flags decide. */
export function nicState(operstate: string | undefined, flags: readonly string[]): NicState {
  switch (operstate) {
    case 'UP':
      return 'up';
    case 'DOWN':
    case 'LOWERLAYERDOWN':
    case 'NOTPRESENT':
      return 'down';
    default:
      if (!flags.includes('UP')) return 'down';
      if (flags.includes('LOWER_UP')) return 'up';
      return 'unknown';
  }
}

function parseAddress(raw: unknown, nic: string): NicAddress | undefined {
  if (!isRecord(raw)) throw unreadable(`an address of ${nic} is not an object`);
  const family = raw.family;
  // Other families (e.g. a bare link-layer entry) are not addresses we manage.
  if (family !== 'inet' && family !== 'inet6') return undefined;
  const local = raw.local;
  const prefix = raw.prefixlen;
  if (typeof local !== 'string' || typeof prefix !== 'number') {
    throw unreadable(`an address of ${nic} has no "local" or "prefixlen"`);
  }
  return {
    family,
    address: local,
    prefixLength: prefix,
    ...(typeof raw.broadcast === 'string' ? { broadcast: raw.broadcast } : {}),
    ...(typeof raw.scope === 'string' ? { scope: raw.scope } : {}),
    secondary: raw.secondary === true,
  };
}

function parseNic(raw: unknown): Nic {
  if (!isRecord(raw)) throw unreadable('an interface entry is not an object');
  const name = raw.ifname;
  const index = raw.ifindex;
  if (typeof name !== 'string' || name.length === 0) throw unreadable('an interface has no "ifname"');
  if (typeof index !== 'number') throw unreadable(`interface ${name} has no "ifindex"`);
  const flags = Array.isArray(raw.flags) ? raw.flags.filter((f): f is string => typeof f === 'string') : [];
  const operstate = typeof raw.operstate === 'string' ? raw.operstate : undefined;
  const addrInfo = Array.isArray(raw.addr_info) ? raw.addr_info : [];
  const loopback = raw.link_type === 'loopback' || flags.includes('LOOPBACK');
  return {
    name,
    index,
    state: nicState(operstate, flags),
    adminUp: flags.includes('UP'),
    carrier: flags.includes('LOWER_UP'),
    // Loopback reports an all-zero MAC; it has none worth showing.
    mac: typeof raw.address === 'string' && !loopback ? raw.address : null,
    mtu: typeof raw.mtu === 'number' ? raw.mtu : 0,
    loopback,
    addresses: addrInfo.map((a) => parseAddress(a, name)).filter((a): a is NicAddress => a !== undefined),
  };
}

/** Parses `ip -j addr show` output. `ip` prints an empty array (or nothing at all) when there is nothing. */
export function parseIpAddrJson(text: string): Nic[] {
  const trimmed = text.trim();
  if (trimmed.length === 0) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw unreadable(error instanceof Error ? error.message : String(error));
  }
  if (!Array.isArray(parsed)) throw unreadable('expected a JSON array');
  // `ip -j addr show` may print an empty object for an interface that vanished mid-dump.
  return parsed.filter((entry) => !(isRecord(entry) && Object.keys(entry).length === 0)).map(parseNic);
}
