// Messages between the HeartbeatMonitor (main thread) and its worker. Plain structured-cloneable data.
import type { LogLevel } from './link.js';
import type { FlatObject, LinkConfig, LinkName, MonitorSnapshot, PingNodeConfig } from './types.js';

export interface WorkerConfig {
  readonly nodeName: string;
  readonly peerName: string;
  readonly secret: Uint8Array;
  readonly links: readonly LinkConfig[];
  readonly intervalMs: number;
  readonly deadTimeMs: number;
  readonly pingNodes: readonly PingNodeConfig[];
  readonly pingIntervalMs: number;
  readonly term: number;
  readonly advert: FlatObject;
  /** Nice value for the worker thread (Linux: per thread), or null to leave it alone. */
  readonly workerNice: number | null;
  /** Added to the worker's wall clock, to test clock-offset estimation on one machine. */
  readonly clockSkewMsForTest: number;
}

export type ToWorker =
  | { readonly type: 'set-advert'; readonly term: number; readonly advert: FlatObject }
  | { readonly type: 'beat-now' }
  | { readonly type: 'request'; readonly id: number; readonly body: FlatObject; readonly timeoutMs: number }
  | { readonly type: 'reply'; readonly key: string; readonly body: FlatObject }
  | { readonly type: 'reply-dropped'; readonly key: string }
  | { readonly type: 'set-link-enabled'; readonly link: LinkName; readonly enabled: boolean }
  | { readonly type: 'stop' };

export type FromWorker =
  | { readonly type: 'ready'; readonly snapshot: MonitorSnapshot }
  | { readonly type: 'start-failed'; readonly code: string; readonly message: string }
  | { readonly type: 'stopped' }
  | { readonly type: 'snapshot'; readonly snapshot: MonitorSnapshot; readonly changed: boolean }
  | { readonly type: 'request-result'; readonly id: number; readonly body: FlatObject | null }
  | { readonly type: 'incoming-request'; readonly key: string; readonly body: FlatObject }
  | {
      readonly type: 'log';
      readonly level: LogLevel;
      readonly message: string;
      readonly fields: Record<string, unknown>;
    };
