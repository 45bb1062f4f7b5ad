// The contract between the failover executor and the ways a node can hold the virtual IP.
export type VirtualIpDriverKind = 'iproute2' | 'loopback';

export const VIRTUAL_IP_DRIVER_KINDS: readonly VirtualIpDriverKind[] = ['iproute2', 'loopback'];

export interface VirtualIp {
  readonly address: string;
  readonly prefixLength: number;
  readonly broadcast: string;
  /** The data NIC that carries it (iproute2); the loopback driver ignores it. */
  readonly nic: string;
  /** The iSCSI portal port served on the address; the loopback driver probes it. */
  readonly port?: number;
}

export interface VirtualIpDriver {
  readonly kind: VirtualIpDriverKind;
  /** Duplicate-address detection: true when some other host answers for the address. */
  inUse(vip: VirtualIp): Promise<boolean>;
  /**
   * Adds the address (after inUse() said false; throws a conflict TandemError `vip-in-use`
   * otherwise) and announces it (gratuitous ARP). Idempotent when we already hold it.
   */
  acquire(vip: VirtualIp): Promise<void>;
  /** Removes it; idempotent. */
  release(vip: VirtualIp): Promise<void>;
  /** Whether this node has it now. */
  held(vip: VirtualIp): Promise<boolean>;
}
