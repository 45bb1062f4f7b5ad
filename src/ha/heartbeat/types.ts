// Shapes shared by the heartbeat codec, the worker and the main-thread monitor. No behaviour here.
import type { HostPort } from '../../lib/host-port.js';

/** What adverts, requests and replies carry: one level of primitive values, meaning defined by the caller. */
export type FlatValue = string | number | boolean | null;
export type FlatObject = Readonly<Record<string, FlatValue>>;

export type LinkName = 'data' | 'aux';
export const LINK_NAMES: readonly LinkName[] = ['data', 'aux'];

export interface LinkConfig {
  readonly name: LinkName;
  readonly local: HostPort;
  readonly peer: HostPort;
}

export interface PingNodeConfig {
  readonly address: string;
  /** Source address or NIC for `ping -I`; the data NIC in production. */
  readonly source?: string;
}

export interface JitterStats {
  readonly samples: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface LinkCounters {
  readonly sent: number;
  readonly sendErrors: number;
  readonly received: number;
  /** Datagrams refused, by reason (see DecodeErrorReason and the link's own checks). */
  readonly rejected: Readonly<Record<string, number>>;
  /** Valid datagrams ignored because the link was disabled for a test. */
  readonly ignoredWhileDisabled: number;
}

export interface LinkSnapshot {
  readonly name: LinkName;
  readonly enabled: boolean;
  readonly local: HostPort;
  readonly peer: HostPort;
  /** A valid datagram from the peer arrived on this link within deadTimeMs. */
  readonly alive: boolean;
  readonly lastHeardAgoMs: number | null;
  readonly rttMs: number | null;
  /** Peer's wall clock minus ours, NTP-style, from the lowest-RTT recent exchange. */
  readonly clockOffsetMs: number | null;
  /** |inter-arrival − intervalMs| of the peer's scheduled beats over a sliding window. */
  readonly jitter: JitterStats;
  readonly counters: LinkCounters;
}

export interface PeerSnapshot {
  readonly name: string;
  /** True when any link is alive. */
  readonly alive: boolean;
  readonly advert: FlatObject | null;
  readonly term: number | null;
  readonly bootId: string | null;
  readonly lastHeardAgoMs: number | null;
  /** The link the freshest datagram came in on. */
  readonly via: LinkName | null;
}

export interface PingNodeSnapshot {
  readonly address: string;
  readonly source: string | null;
  readonly reachable: boolean;
  readonly lastOkAgoMs: number | null;
  /** Why the last check failed (the program's own words), or null after a success. */
  readonly error: string | null;
}

export interface PingSnapshot {
  /** At least one configured ping node answered within deadTimeMs (false when none is configured). */
  readonly reachable: boolean;
  readonly perNode: readonly PingNodeSnapshot[];
}

export interface MonitorSnapshot {
  /** Wall-clock ms when the worker took it; ages below are as of snapshot() time. */
  readonly takenAt: number;
  readonly nodeName: string;
  readonly bootId: string;
  readonly term: number;
  readonly links: readonly LinkSnapshot[];
  readonly peer: PeerSnapshot;
  readonly ping: PingSnapshot;
}
