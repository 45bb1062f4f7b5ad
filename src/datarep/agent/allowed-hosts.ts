// The agent's "allowed hosts" as the gate applies them to a client address, with the rules of rsync's
// "hosts allow" (rsyncd.conf(5)): an IP address matches itself, `address/prefix` its network, a host
// name pattern (`*`, `?`) the client's reverse name, a plain host name the client's reverse name or any
// address the name resolves to. Names are compared without case. Pure: the DNS answers are passed in.
import ipaddr from 'ipaddr.js';
import { parseAddress } from './handshake.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export type HostRule =
  | { readonly kind: 'network'; readonly network: readonly [Address, number] }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'pattern'; readonly pattern: RegExp };

export interface AllowedHosts {
  /** No entries: every host may connect (the password still guards each share). */
  readonly any: boolean;
  readonly rules: readonly HostRule[];
  /** Plain host names, whose addresses the caller looks up (forward lookup). */
  readonly names: readonly string[];
  /** Some entry can only match the client's (verified) reverse name. */
  readonly needsReverse: boolean;
}

/** Reads the entries (validated by the NAS settings: IP, address/prefix, host name or pattern). */
export function compileAllowedHosts(entries: readonly string[]): AllowedHosts {
  const rules: HostRule[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry.includes('/')) {
      try {
        const [address, prefix] = ipaddr.parseCIDR(entry);
        rules.push({ kind: 'network', network: [normalise(address), prefixOf(address, prefix)] });
      } catch {
        // Not an address/prefix: it cannot match anything (the settings refuse such entries).
      }
      continue;
    }
    const address = parseAddress(entry);
    if (address !== null) {
      rules.push({ kind: 'network', network: [address, address.kind() === 'ipv4' ? 32 : 128] });
    } else if (/[*?]/.test(entry)) {
      rules.push({ kind: 'pattern', pattern: globToRegExp(entry) });
    } else {
      rules.push({ kind: 'name', name: normaliseName(entry) });
    }
  }
  const names = rules.flatMap((r) => (r.kind === 'name' ? [r.name] : []));
  return {
    any: entries.every((e) => e.trim() === ''),
    rules,
    names,
    needsReverse: rules.some((r) => r.kind !== 'network'),
  };
}

/** Whether an address or network entry lets `address` in (no DNS needed). */
export function allowedByAddress(hosts: AllowedHosts, address: string): boolean {
  if (hosts.any) return true;
  const parsed = parseAddress(address);
  if (parsed === null) return false;
  return hosts.rules.some((rule) => rule.kind === 'network' && inNetwork(parsed, rule.network));
}

export interface NameFacts {
  /** The client's reverse name, only if it resolves back to the client's address; else null. */
  readonly verifiedName: string | null;
  /** The addresses each plain host name entry resolves to (missing: did not resolve). */
  readonly addressesOf: ReadonlyMap<string, readonly string[]>;
}

/** Whether `address` is allowed, by address or by name. */
export function allowedHost(hosts: AllowedHosts, address: string, facts: NameFacts): boolean {
  if (allowedByAddress(hosts, address)) return true;
  const parsed = parseAddress(address);
  if (parsed === null) return false;
  const name = facts.verifiedName === null ? null : normaliseName(facts.verifiedName);
  return hosts.rules.some((rule) => {
    if (rule.kind === 'pattern') return name !== null && rule.pattern.test(name);
    if (rule.kind === 'name') {
      if (name === rule.name) return true;
      return (facts.addressesOf.get(rule.name) ?? []).some((a) => sameAddress(a, parsed));
    }
    return false;
  });
}

/**
 * The key the gate counts a client's connections under: the IPv4 address, or the /64 of an IPv6
 * address (one host usually owns a whole /64, so counting single IPv6 addresses would be no limit).
 */
export function clientKey(address: string): string {
  const parsed = parseAddress(address);
  if (parsed === null) return address;
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const bytes = parsed.toByteArray().slice(0, 8).concat([0, 0, 0, 0, 0, 0, 0, 0]);
  return `${ipaddr.fromByteArray(bytes).toString()}/64`;
}

function inNetwork(address: Address, [network, prefix]: readonly [Address, number]): boolean {
  if (address.kind() !== network.kind()) return false;
  return address.match(network, prefix);
}

function sameAddress(text: string, address: Address): boolean {
  const other = parseAddress(text);
  return other !== null && other.kind() === address.kind() && other.toString() === address.toString();
}

/** An IPv4-mapped network (::ffff:192.0.2.0/120) is the IPv4 network it maps. */
function normalise(address: Address): Address {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? address.toIPv4Address() : address;
}

function prefixOf(address: Address, prefix: number): number {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress() ? Math.max(0, prefix - 96) : prefix;
}

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** `*` any run of characters (dots too, as in rsync), `?` one character; nothing else is special. */
function globToRegExp(glob: string): RegExp {
  const body = normaliseName(glob)
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'i');
}
