// IPv4 address arithmetic for the network setup, over ipaddr.js. Pure.
import ipaddr from 'ipaddr.js';
import { invalid } from '../lib/errors.js';

/**
 * Parses a dotted-quad IPv4 address strictly (four decimal parts, no leading zeros, no shorthand such
 * as `10.1` that inet_aton would accept) and returns it in canonical form.
 */
export function parseIpv4(text: string, what = 'address'): string {
  const trimmed = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(trimmed)) return ipaddr.IPv4.parse(trimmed).toString();
  if (ipaddr.IPv6.isValid(trimmed)) {
    throw invalid(
      'ipv6-not-supported',
      `${what} ${trimmed} is an IPv6 address: only IPv4 is supported for now`,
    );
  }
  throw invalid(
    'invalid-address',
    `${what} "${text}" is not an IPv4 address (expected four decimal parts, e.g. 192.0.2.10)`,
  );
}

export function checkPrefixLength(prefixLength: number): number {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw invalid(
      'invalid-prefix',
      `prefix length ${String(prefixLength)} is out of range: it must be a whole number from 0 to 32`,
    );
  }
  return prefixLength;
}

const cidr = (address: string, prefixLength: number): string => `${address}/${String(prefixLength)}`;

export function networkAddress(address: string, prefixLength: number): string {
  return ipaddr.IPv4.networkAddressFromCIDR(cidr(address, prefixLength)).toString();
}

export function broadcastAddress(address: string, prefixLength: number): string {
  return ipaddr.IPv4.broadcastAddressFromCIDR(cidr(address, prefixLength)).toString();
}

/** The netmask in dotted form (255.255.255.0 for /24), as older tools and people write it. */
export function netmask(prefixLength: number): string {
  return ipaddr.IPv4.subnetMaskFromPrefixLength(prefixLength).toString();
}

/** True when `address` lies in `subnetAddress/prefixLength`. */
export function inSubnet(address: string, subnetAddress: string, prefixLength: number): boolean {
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(subnetAddress), prefixLength);
}

/** 127.0.0.0/8: the whole block routes to the loopback NIC on Linux. */
export function isLoopbackAddress(address: string): boolean {
  return inSubnet(address, '127.0.0.0', 8);
}

/** 255.255.255.0 → 24; throws for a mask whose one-bits are not contiguous. */
export function prefixFromNetmask(mask: string): number {
  const parsed = parseIpv4(mask, 'netmask');
  const prefix = ipaddr.IPv4.parse(parsed).prefixLengthFromSubnetMask();
  if (prefix === null) {
    throw invalid(
      'invalid-netmask',
      `netmask ${mask} is not a netmask (its one-bits must be contiguous, e.g. 255.255.255.0)`,
    );
  }
  return prefix;
}
