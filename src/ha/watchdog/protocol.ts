// The messages between the daemon and its watchdog over the child-process IPC channel (JSON).
// The watchdog checks every message it gets: it must keep working whatever the daemon sends.
import { VIRTUAL_IP_DRIVER_KINDS } from '../vip/types.js';
import type { WatchedVip } from './decide.js';

export type ToWatchdog =
  /** Sent from the daemon's main event loop: "the loop still turns". */
  | { readonly type: 'beat' }
  /** The allowed silence changed (the failover settings did). */
  | { readonly type: 'timing'; readonly allowedSilenceMs: number }
  /** The address the daemon holds or is about to take, or null when it holds none. Acknowledged. */
  | { readonly type: 'vip'; readonly seq: number; readonly vip: WatchedVip | null }
  /** Clean shutdown: the daemon releases the address itself; exit without touching anything. */
  | { readonly type: 'stop'; readonly seq: number };

export type FromWatchdog =
  { readonly type: 'ready'; readonly pid: number } | { readonly type: 'ack'; readonly seq: number };

/** The argument the watchdog takes its daemon's pid from (argv, never a shell). */
export const PID_ARG = '--daemon-pid';
export const SILENCE_ARG = '--allowed-silence-ms';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;

/** A NIC name as Linux allows it, never read as an option by `ip`. */
const NIC_NAME = /^[^-/\s][^/\s]{0,14}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseWatchedVip(value: unknown): WatchedVip | null | undefined {
  if (value === null) return null;
  if (!isObject(value)) return undefined;
  const { address, prefixLength, broadcast, nic, port, driver } = value;
  if (typeof address !== 'string' || !IPV4.test(address)) return undefined;
  if (typeof broadcast !== 'string' || !IPV4.test(broadcast)) return undefined;
  if (!isCount(prefixLength) || prefixLength > 32) return undefined;
  if (typeof nic !== 'string' || !NIC_NAME.test(nic)) return undefined;
  if (port !== undefined && (!isCount(port) || port > 65535)) return undefined;
  const kind = VIRTUAL_IP_DRIVER_KINDS.find((k) => k === driver);
  if (kind === undefined) return undefined;
  return { address, prefixLength, broadcast, nic, driver: kind, ...(port === undefined ? {} : { port }) };
}

/** The message, or undefined when it is not one the watchdog understands. */
export function parseToWatchdog(message: unknown): ToWatchdog | undefined {
  if (!isObject(message)) return undefined;
  switch (message.type) {
    case 'beat':
      return { type: 'beat' };
    case 'timing':
      return isCount(message.allowedSilenceMs) && message.allowedSilenceMs > 0
        ? { type: 'timing', allowedSilenceMs: message.allowedSilenceMs }
        : undefined;
    case 'vip': {
      if (!isCount(message.seq)) return undefined;
      const vip = parseWatchedVip(message.vip);
      return vip === undefined ? undefined : { type: 'vip', seq: message.seq, vip };
    }
    case 'stop':
      return isCount(message.seq) ? { type: 'stop', seq: message.seq } : undefined;
    default:
      return undefined;
  }
}

export function parseFromWatchdog(message: unknown): FromWatchdog | undefined {
  if (!isObject(message)) return undefined;
  if (message.type === 'ready' && isCount(message.pid)) return { type: 'ready', pid: message.pid };
  if (message.type === 'ack' && isCount(message.seq)) return { type: 'ack', seq: message.seq };
  return undefined;
}
