// The programs behind the iproute2 driver: their argv and what their answers mean. Pure, so each
// mapping is unit-tested; the driver runs them.
//
// arping here is Thomas Habets' arping (Debian's `arping` package), not iputils' arping: its flags
// differ. Habets: -0 probes from 0.0.0.0 (RFC 5227 probe, what iputils calls -D), -i names the NIC,
// -U sends unsolicited (gratuitous) ARP, -S sets the sender address, -C N stops after N replies,
// -W the interval and -w the overall deadline (seconds, fractions allowed). Exit 0 when something
// answered, 1 when nothing did; errors (no such NIC, no permission) also exit 1 but say so on stderr.
import { TandemError } from '../../lib/errors.js';
import type { ProgramResult } from '../../lib/run-program.js';
import type { VirtualIp } from './types.js';

export interface ArpingTiming {
  /** Duplicate-address probes sent before the address counts as free. */
  readonly probes: number;
  readonly probeIntervalSeconds: number;
  /** Deadline of the whole probe, seconds. */
  readonly probeTimeoutSeconds: number;
  /** Gratuitous ARP announcements after the address is added. */
  readonly announcements: number;
  readonly announceIntervalSeconds: number;
}

/** About one second of probing: a takeover should not wait longer than it must. */
export const DEFAULT_ARPING_TIMING: ArpingTiming = {
  probes: 3,
  probeIntervalSeconds: 0.3,
  probeTimeoutSeconds: 1,
  announcements: 3,
  announceIntervalSeconds: 0.2,
};

const cidr = (vip: { address: string; prefixLength: number }): string =>
  `${vip.address}/${String(vip.prefixLength)}`;

export function probeArgv(vip: VirtualIp, timing: ArpingTiming = DEFAULT_ARPING_TIMING): string[] {
  return [
    '-0',
    '-q',
    '-C',
    '1',
    '-c',
    String(timing.probes),
    '-W',
    String(timing.probeIntervalSeconds),
    '-w',
    String(timing.probeTimeoutSeconds),
    '-i',
    vip.nic,
    vip.address,
  ];
}

export function announceArgv(vip: VirtualIp, timing: ArpingTiming = DEFAULT_ARPING_TIMING): string[] {
  return [
    '-U',
    '-q',
    '-c',
    String(timing.announcements),
    '-W',
    String(timing.announceIntervalSeconds),
    '-i',
    vip.nic,
    '-S',
    vip.address,
    vip.address,
  ];
}

export const addArgv = (vip: VirtualIp): string[] => [
  'addr',
  'add',
  cidr(vip),
  'brd',
  vip.broadcast,
  'dev',
  vip.nic,
];

export const delArgv = (address: string, prefixLength: number, nic: string): string[] => [
  'addr',
  'del',
  cidr({ address, prefixLength }),
  'dev',
  nic,
];

const said = (result: ProgramResult): string =>
  result.stderr.trim() || result.stdout.trim() || `exit code ${String(result.code)}`;

const NIC_MISSING = /Cannot find device|does not exist|No such device/i;
const NOT_PERMITTED = /Operation not permitted|Permission denied|must be root|not permitted/i;

function notPermitted(action: string): TandemError {
  return new TandemError(
    'forbidden',
    'vip-not-permitted',
    `cannot ${action} the virtual IP: this needs root or CAP_NET_ADMIN/CAP_NET_RAW`,
  );
}

/** Reads a duplicate-address probe: true when another host answered for the address. */
export function interpretProbe(vip: VirtualIp, result: ProgramResult): boolean {
  if (result.code === 0) return true;
  const stderr = result.stderr.trim();
  if (result.code === 1 && stderr.length === 0) return false;
  if (NIC_MISSING.test(stderr)) {
    throw new TandemError(
      'unavailable',
      'vip-nic-missing',
      `cannot probe ${vip.address}: there is no NIC ${vip.nic}`,
    );
  }
  if (NOT_PERMITTED.test(stderr)) throw notPermitted('probe');
  throw new TandemError(
    'unavailable',
    'arping-failed',
    `arping could not probe ${vip.address} on ${vip.nic}: ${said(result)}`,
  );
}

/** Reads an announcement. Nothing answers a gratuitous ARP, so exit 1 without complaint is success. */
export function interpretAnnounce(vip: VirtualIp, result: ProgramResult): void {
  const stderr = result.stderr.trim();
  if ((result.code === 0 || result.code === 1) && stderr.length === 0) return;
  if (NIC_MISSING.test(stderr)) {
    throw new TandemError(
      'unavailable',
      'vip-nic-missing',
      `cannot announce ${vip.address}: there is no NIC ${vip.nic}`,
    );
  }
  if (NOT_PERMITTED.test(stderr)) throw notPermitted('announce');
  throw new TandemError(
    'unavailable',
    'arping-failed',
    `arping could not announce ${vip.address} on ${vip.nic}: ${said(result)}`,
  );
}

/** `added`, or `present` when the NIC already had it (another acquire raced us: fine). */
export function interpretAdd(vip: VirtualIp, result: ProgramResult): 'added' | 'present' {
  if (result.code === 0) return 'added';
  const stderr = result.stderr;
  if (/File exists|already assigned/i.test(stderr)) return 'present';
  if (NIC_MISSING.test(stderr)) {
    throw new TandemError(
      'unavailable',
      'vip-nic-missing',
      `cannot add ${vip.address}: there is no NIC ${vip.nic}`,
    );
  }
  if (NOT_PERMITTED.test(stderr)) throw notPermitted('add');
  throw new TandemError(
    'internal',
    'vip-add-failed',
    `ip addr add ${cidr(vip)} dev ${vip.nic} failed: ${said(result)}`,
  );
}

/** `removed`, or `absent` when there was nothing to remove (already gone, or the NIC is gone). */
export function interpretDel(address: string, nic: string, result: ProgramResult): 'removed' | 'absent' {
  if (result.code === 0) return 'removed';
  const stderr = result.stderr;
  if (/Address not found|Cannot assign requested address/i.test(stderr) || NIC_MISSING.test(stderr))
    return 'absent';
  if (NOT_PERMITTED.test(stderr)) throw notPermitted('remove');
  throw new TandemError(
    'internal',
    'vip-del-failed',
    `ip addr del ${address} dev ${nic} failed: ${said(result)}`,
  );
}
