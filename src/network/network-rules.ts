// What a valid network setup is: NIC roles and the virtual IP, checked against the NICs this node
// has now. Pure (the NICs and stored roles come in as values), so every refusal is unit-tested; each
// one is a TandemError naming what is wrong, thrown before anything is written.
import type { NicRole, NicRoleRecord } from '../config/repositories/network-repo.js';
import { VIRTUAL_IP_DRIVER_KINDS, type VirtualIpDriverKind } from '../ha/vip/types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { Nic } from './ip-addr-parser.js';
import {
  broadcastAddress,
  checkPrefixLength,
  inSubnet,
  isLoopbackAddress,
  networkAddress,
  parseIpv4,
} from './ipv4.js';

export type RoleChoice = NicRole | 'none';

export const ROLE_CHOICES: readonly RoleChoice[] = ['data', 'aux', 'none'];

/** Shorter prefixes make subnets of millions of hosts: never a storage data network. */
export const MIN_VIP_PREFIX = 8;

export interface VirtualIpInput {
  readonly address: string;
  readonly prefixLength: number;
  readonly broadcast?: string | undefined;
  readonly nic: string;
  readonly driver: VirtualIpDriverKind;
}

export interface VirtualIpSettings {
  readonly address: string;
  readonly prefixLength: number;
  readonly broadcast: string;
  readonly nic: string;
  readonly driver: VirtualIpDriverKind;
}

/** What the rules look at: the NICs as `ip` sees them now, and the stored roles and virtual IP. */
export interface NetworkFacts {
  readonly nics: readonly Nic[];
  readonly roles: readonly NicRoleRecord[];
  readonly virtualIp?: { readonly address: string; readonly nic: string } | undefined;
}

/**
 * Linux interface names: 1 to 15 bytes (IFNAMSIZ - 1), no slash, no white space. We also refuse a
 * leading "-" so a name can never read as an option of `ip` or `arping`, and ":" (alias labels).
 */
export function validateNicName(name: string): string {
  if (!/^[A-Za-z0-9_.@][A-Za-z0-9_.@-]{0,14}$/.test(name) || name === '.' || name === '..') {
    throw invalid(
      'invalid-nic-name',
      `"${name}" is not a NIC name (1 to 15 letters, digits, "_", ".", "@", "-", not starting with "-")`,
    );
  }
  return name;
}

export function validateRoleChoice(role: string): RoleChoice {
  if (!(ROLE_CHOICES as readonly string[]).includes(role)) {
    throw invalid('invalid-role', `role "${role}" is not one of ${ROLE_CHOICES.join(', ')}`);
  }
  return role as RoleChoice;
}

/** Checks a role change; returns the role to store (null for none). */
export function checkRoleChange(nicName: string, role: RoleChoice, facts: NetworkFacts): NicRole | null {
  validateNicName(nicName);
  validateRoleChoice(role);
  // Clearing the role of a NIC that vanished must stay possible; giving one needs the NIC here.
  if (role !== 'none' && !facts.nics.some((n) => n.name === nicName)) {
    throw notFound('nic-not-found', `there is no NIC named ${nicName} on this node`);
  }
  if (facts.virtualIp?.nic === nicName && role !== 'data') {
    throw conflict(
      'nic-carries-vip',
      `NIC ${nicName} carries the virtual IP ${facts.virtualIp.address}; clear or move the virtual IP first`,
    );
  }
  if (role === 'data') {
    const other = facts.roles.find((r) => r.role === 'data' && r.nic !== nicName);
    if (other) {
      throw conflict(
        'data-nic-exists',
        `NIC ${other.nic} already has the data role (a node has one data NIC); set it to none first`,
      );
    }
  }
  return role === 'none' ? null : role;
}

function checkDriver(driver: string): VirtualIpDriverKind {
  if (!(VIRTUAL_IP_DRIVER_KINDS as readonly string[]).includes(driver)) {
    throw invalid(
      'invalid-vip-driver',
      `virtual IP driver "${driver}" is not one of ${VIRTUAL_IP_DRIVER_KINDS.join(', ')}`,
    );
  }
  return driver as VirtualIpDriverKind;
}

/** Validates a virtual IP against this node's NICs and roles; returns it complete (broadcast computed). */
export function checkVirtualIp(input: VirtualIpInput, facts: NetworkFacts): VirtualIpSettings {
  const driver = checkDriver(input.driver);
  const nicName = validateNicName(input.nic);
  const address = parseIpv4(input.address, 'virtual IP');
  const prefixLength = checkPrefixLength(input.prefixLength);
  if (prefixLength < MIN_VIP_PREFIX) {
    throw invalid(
      'invalid-prefix',
      `prefix length /${String(prefixLength)} is too short for a virtual IP: use ${String(MIN_VIP_PREFIX)} to 32`,
    );
  }
  const expectedBroadcast = broadcastAddress(address, prefixLength);
  if (input.broadcast !== undefined) {
    const broadcast = parseIpv4(input.broadcast, 'broadcast');
    if (broadcast !== expectedBroadcast) {
      throw invalid(
        'broadcast-mismatch',
        `broadcast ${broadcast} does not match ${address}/${String(prefixLength)}: it is ${expectedBroadcast}`,
      );
    }
  }

  if (driver === 'loopback') {
    if (!isLoopbackAddress(address)) {
      throw invalid(
        'vip-not-loopback',
        `the loopback driver needs an address in 127.0.0.0/8 (e.g. 127.0.0.100), not ${address}`,
      );
    }
    if (address === '127.0.0.1') {
      throw invalid(
        'vip-is-localhost',
        "127.0.0.1 is every process's localhost: pick another 127.x.y.z address",
      );
    }
  } else if (isLoopbackAddress(address)) {
    throw invalid(
      'vip-loopback-address',
      `${address} is a loopback address, which never leaves this machine: the iproute2 driver needs a real one (or use the loopback driver)`,
    );
  }

  // /31 (RFC 3021) and /32 have no network or broadcast address to avoid.
  if (prefixLength <= 30) {
    if (address === networkAddress(address, prefixLength)) {
      throw invalid(
        'vip-is-network-address',
        `${address} is the network address of ${address}/${String(prefixLength)}, not a host address`,
      );
    }
    if (address === expectedBroadcast) {
      throw invalid(
        'vip-is-broadcast-address',
        `${address} is the broadcast address of ${address}/${String(prefixLength)}, not a host address`,
      );
    }
  }

  const role = facts.roles.find((r) => r.nic === nicName)?.role;
  if (role !== 'data') {
    throw invalid(
      'nic-not-data',
      `NIC ${nicName} does not have the data role; give it first (tandem network role ${nicName} data)`,
    );
  }
  const nic = facts.nics.find((n) => n.name === nicName);
  if (driver === 'iproute2' && !nic) {
    throw notFound('nic-not-found', `there is no NIC named ${nicName} on this node`);
  }

  for (const other of facts.nics) {
    if (other.addresses.some((a) => a.family === 'inet' && a.address === address)) {
      throw conflict(
        'vip-is-node-address',
        `${address} is already an address of NIC ${other.name} on this node`,
      );
    }
  }

  const subnets = (nic?.addresses ?? []).filter((a) => a.family === 'inet');
  if (subnets.length > 0 && !subnets.some((a) => inSubnet(address, a.address, a.prefixLength))) {
    const listed = subnets.map((a) => `${a.address}/${String(a.prefixLength)}`).join(', ');
    throw invalid(
      'vip-outside-subnet',
      `${address} is not in the subnet of NIC ${nicName} (${listed}): clients on that link could not reach it`,
    );
  }

  return { address, prefixLength, broadcast: expectedBroadcast, nic: nicName, driver };
}
