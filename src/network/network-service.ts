// The network setup of a node: NICs as the system has them, the role of each (data / aux / none) and
// the virtual IP. It also owns the virtual IP drivers, one instance per kind for the node's life, so
// the failover executor and the API ask the same driver whether the address is held (the loopback
// driver keeps that fact in memory).
//
// Invariants: at most one data NIC; the virtual IP lives on the data NIC; neither the virtual IP nor
// its NIC's role changes while this node holds the address. Mutations run one at a time.
import type { NetworkRepo, VirtualIpRecord } from '../config/repositories/network-repo.js';
import { createVipDriver } from '../ha/vip/index.js';
import type { VirtualIp, VirtualIpDriver, VirtualIpDriverKind } from '../ha/vip/types.js';
import { conflict, messageOf, notFound } from '../lib/errors.js';
import { Mutex } from '../lib/mutex.js';
import { listNics } from './interfaces.js';
import type { Nic, NicAddress, NicState } from './ip-addr-parser.js';
import { netmask } from './ipv4.js';
import {
  checkRoleChange,
  checkVirtualIp,
  type NetworkFacts,
  type RoleChoice,
  type VirtualIpInput,
} from './network-rules.js';

export interface NicView {
  readonly name: string;
  /** False for a NIC that has a stored role but is not on the system now. */
  readonly present: boolean;
  readonly state: NicState;
  readonly adminUp: boolean;
  readonly carrier: boolean;
  readonly mac: string | null;
  readonly mtu: number | null;
  readonly loopback: boolean;
  readonly role: RoleChoice;
  readonly addresses: readonly NicAddress[];
}

export interface VirtualIpView {
  readonly address: string;
  readonly prefixLength: number;
  readonly netmask: string;
  readonly broadcast: string;
  readonly nic: string;
  readonly driver: VirtualIpDriverKind;
  /** Whether this node holds the address now; null when that could not be found out (see heldError). */
  readonly held: boolean | null;
  readonly heldError?: string;
  readonly updatedAt: string;
}

export interface NetworkView {
  readonly nics: readonly NicView[];
  readonly virtualIp: VirtualIpView | null;
}

export interface NetworkServiceOptions {
  /** The iSCSI portal port: served on the virtual IP, and probed by the loopback driver. */
  readonly iscsiPort?: number;
  /** How NICs are listed (default: `ip -j addr show` in this namespace). */
  readonly listNics?: () => Promise<Nic[]>;
  /** Driver instances to use instead of the default ones. */
  readonly drivers?: Partial<Record<VirtualIpDriverKind, VirtualIpDriver>>;
}

export type NetworkChange = { readonly kind: 'role'; readonly nic: string } | { readonly kind: 'virtual-ip' };

function nicView(nic: Nic, role: RoleChoice): NicView {
  return {
    name: nic.name,
    present: true,
    state: nic.state,
    adminUp: nic.adminUp,
    carrier: nic.carrier,
    mac: nic.mac,
    mtu: nic.mtu,
    loopback: nic.loopback,
    role,
    addresses: nic.addresses,
  };
}

function missingNicView(name: string, role: RoleChoice): NicView {
  return {
    name,
    present: false,
    state: 'unknown',
    adminUp: false,
    carrier: false,
    mac: null,
    mtu: null,
    loopback: false,
    role,
    addresses: [],
  };
}

export class NetworkService {
  private readonly mutex = new Mutex();
  private readonly drivers = new Map<VirtualIpDriverKind, VirtualIpDriver>();
  private readonly listeners = new Set<(change: NetworkChange) => void>();
  private readonly list: () => Promise<Nic[]>;

  constructor(
    private readonly repo: NetworkRepo,
    private readonly options: NetworkServiceOptions = {},
  ) {
    this.list = options.listNics ?? (() => listNics());
    for (const [kind, driver] of Object.entries(options.drivers ?? {})) {
      this.drivers.set(kind as VirtualIpDriverKind, driver);
    }
  }

  /** The driver of a kind; the same instance for the node's life. */
  driver(kind: VirtualIpDriverKind): VirtualIpDriver {
    let driver = this.drivers.get(kind);
    if (!driver) {
      driver = createVipDriver(kind);
      this.drivers.set(kind, driver);
    }
    return driver;
  }

  /** The configured virtual IP as the drivers take it (with the iSCSI port), or undefined. */
  virtualIp(): VirtualIp | undefined {
    const record = this.repo.virtualIp();
    return record && this.toVirtualIp(record);
  }

  /** The configured virtual IP with its driver, for the failover executor. */
  virtualIpWithDriver(): { readonly vip: VirtualIp; readonly driver: VirtualIpDriver } | undefined {
    const record = this.repo.virtualIp();
    return record && { vip: this.toVirtualIp(record), driver: this.driver(record.driver) };
  }

  /** The data NIC's name, if one has the role. */
  dataNic(): string | undefined {
    return this.repo.roles().find((r) => r.role === 'data')?.nic;
  }

  /** The auxiliary (heartbeat) NICs' names. */
  auxNics(): string[] {
    return this.repo
      .roles()
      .filter((r) => r.role === 'aux')
      .map((r) => r.nic);
  }

  /** Called after every change of a role or the virtual IP (e.g. for the failover service). */
  onChange(listener: (change: NetworkChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async overview(): Promise<NetworkView> {
    const [nics, roles] = [await this.list(), this.repo.roles()];
    const roleOf = new Map(roles.map((r) => [r.nic, r.role] as const));
    const views = nics.map((nic) => nicView(nic, roleOf.get(nic.name) ?? 'none'));
    for (const record of roles) {
      if (!nics.some((n) => n.name === record.nic)) views.push(missingNicView(record.nic, record.role));
    }
    return { nics: views, virtualIp: await this.virtualIpView() };
  }

  async nic(name: string): Promise<NicView> {
    const view = (await this.overview()).nics.find((n) => n.name === name);
    if (!view) throw notFound('nic-not-found', `there is no NIC named ${name} on this node`);
    return view;
  }

  async virtualIpView(): Promise<VirtualIpView | null> {
    const record = this.repo.virtualIp();
    if (!record) return null;
    const base = {
      address: record.address,
      prefixLength: record.prefixLength,
      netmask: netmask(record.prefixLength),
      broadcast: record.broadcast,
      nic: record.nic,
      driver: record.driver,
      updatedAt: record.updatedAt,
    };
    try {
      return { ...base, held: await this.driver(record.driver).held(this.toVirtualIp(record)) };
    } catch (error) {
      return { ...base, held: null, heldError: messageOf(error) };
    }
  }

  setRole(nic: string, role: RoleChoice): Promise<NicView> {
    return this.mutex.run(async () => {
      const facts = await this.facts();
      const stored = checkRoleChange(nic, role, facts);
      this.repo.setRole(nic, stored);
      this.emit({ kind: 'role', nic });
      const found = facts.nics.find((n) => n.name === nic);
      return found ? nicView(found, role) : missingNicView(nic, role);
    });
  }

  setVirtualIp(input: VirtualIpInput): Promise<VirtualIpView> {
    return this.mutex.run(async () => {
      await this.refuseWhileHeld('change');
      const settings = checkVirtualIp(input, await this.facts());
      this.repo.setVirtualIp(settings);
      this.emit({ kind: 'virtual-ip' });
      const view = await this.virtualIpView();
      if (!view) throw new Error('the virtual IP vanished right after it was stored');
      return view;
    });
  }

  clearVirtualIp(): Promise<void> {
    return this.mutex.run(async () => {
      if (!this.repo.virtualIp()) throw notFound('no-virtual-ip', 'no virtual IP is configured');
      await this.refuseWhileHeld('clear');
      this.repo.deleteVirtualIp();
      this.emit({ kind: 'virtual-ip' });
    });
  }

  private async facts(): Promise<NetworkFacts> {
    return { nics: await this.list(), roles: this.repo.roles(), virtualIp: this.repo.virtualIp() };
  }

  private async refuseWhileHeld(action: 'change' | 'clear'): Promise<void> {
    const record = this.repo.virtualIp();
    if (!record) return;
    if (await this.driver(record.driver).held(this.toVirtualIp(record))) {
      throw conflict(
        'vip-held',
        `this node holds the virtual IP ${record.address} now; hand it over or stop failover before you ${action} it`,
      );
    }
  }

  private toVirtualIp(record: VirtualIpRecord): VirtualIp {
    return {
      address: record.address,
      prefixLength: record.prefixLength,
      broadcast: record.broadcast,
      nic: record.nic,
      ...(this.options.iscsiPort === undefined ? {} : { port: this.options.iscsiPort }),
    };
  }

  private emit(change: NetworkChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
