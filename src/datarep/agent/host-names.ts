// The DNS side of "allowed hosts" for entries that are host names or patterns: the client's reverse
// name, accepted only if it resolves back to the client's address (so a PTR record alone cannot claim
// a name), and the addresses of plain host name entries. Uses the system resolver (getnameinfo,
// getaddrinfo: /etc/hosts counts, as for rsync). A client can make us look up its address, so the
// lookups are bounded: a time limit, a few at a time, a short queue, and answers kept for a minute.
import { promises as dns } from 'node:dns';
import { allowedHost, type AllowedHosts, type NameFacts } from './allowed-hosts.js';
import { parseAddress } from './handshake.js';

export interface HostResolver {
  /** The names of an address (reverse lookup); empty or a rejection when it has none. */
  reverse(address: string): Promise<string[]>;
  /** The addresses of a name (forward lookup). */
  forward(name: string): Promise<string[]>;
}

export const systemResolver: HostResolver = {
  async reverse(address) {
    const { hostname } = await dns.lookupService(address, 0);
    return [hostname];
  },
  async forward(name) {
    return (await dns.lookup(name, { all: true, verbatim: true })).map((r) => r.address);
  },
};

export interface HostNameCheckOptions {
  readonly resolver?: HostResolver;
  /** Per lookup; a lookup that takes longer counts as failed. */
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  /** Checks beyond these (running + queued) are refused at once. */
  readonly maxQueued?: number;
  readonly cacheMs?: number;
  readonly now?: () => number;
}

export type NameCheckResult = { readonly allowed: boolean; readonly name: string | null } | 'busy';

const CACHE_ENTRIES = 1024;

export class HostNameCheck {
  private readonly resolver: HostResolver;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private readonly cache = new Map<string, { readonly value: unknown; readonly until: number }>();

  constructor(options: HostNameCheckOptions = {}) {
    this.resolver = options.resolver ?? systemResolver;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.concurrency = options.concurrency ?? 2;
    this.maxQueued = options.maxQueued ?? 32;
    this.cacheMs = options.cacheMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Forgets cached answers (the allowed hosts changed). */
  reset(): void {
    this.cache.clear();
  }

  /** Whether `address` is allowed by a name entry of `hosts`, and its verified name. */
  async check(hosts: AllowedHosts, address: string): Promise<NameCheckResult> {
    if (this.running + this.queue.length >= this.concurrency + this.maxQueued) return 'busy';
    const addressesOf = new Map<string, readonly string[]>();
    for (const name of hosts.names) {
      const addresses = await this.cached(`forward ${name}`, () => this.resolver.forward(name));
      if (addresses !== null) addressesOf.set(name, addresses);
    }
    const verifiedName = hosts.needsReverse ? await this.verifiedName(address) : null;
    const facts: NameFacts = { verifiedName, addressesOf };
    return { allowed: allowedHost(hosts, address, facts), name: verifiedName };
  }

  private async verifiedName(address: string): Promise<string | null> {
    const names = await this.cached(`reverse ${address}`, () => this.resolver.reverse(address));
    const name = names?.[0];
    if (name === undefined || name === '' || name === address) return null;
    const back = await this.cached(`forward ${name}`, () => this.resolver.forward(name));
    const canonical = (a: string): string | undefined => parseAddress(a)?.toString();
    const mine = canonical(address);
    return mine !== undefined && back?.some((a) => canonical(a) === mine) === true ? name : null;
  }

  /** A lookup through the cache, the concurrency limit and the time limit; null when it failed. */
  private async cached(key: string, lookup: () => Promise<string[]>): Promise<string[] | null> {
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.until > this.now()) return hit.value as string[] | null;
    const value = await this.limited(lookup);
    if (this.cache.size >= CACHE_ENTRIES) {
      const first = this.cache.keys().next().value;
      if (first !== undefined) this.cache.delete(first);
    }
    this.cache.set(key, { value, until: this.now() + this.cacheMs });
    return value;
  }

  private async limited(lookup: () => Promise<string[]>): Promise<string[] | null> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running += 1;
    let timer: NodeJS.Timeout | undefined;
    const call = lookup().catch(() => null);
    try {
      return await Promise.race([
        call,
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      // A lookup that outlived its time limit still holds its place until the resolver returns, so
      // slow DNS cannot pile up lookups.
      void call.finally(() => {
        this.running -= 1;
        this.queue.shift()?.();
      });
    }
  }
}
