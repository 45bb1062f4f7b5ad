// What the API and the CLI can ask of iSCSI failover on this node: the contract between
// api/routes/failover.ts and the failover service (src/ha/failover-service.ts).
import type { FailoverConfig, FailoverConfigInput } from './failover/config.js';
import type { Step } from './failover/executor.js';

export type FailoverState = 'stopped' | 'active' | 'passive' | 'taking-over' | 'releasing';

export interface PreflightCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  /** Passed, but with a risk the administrator should know of. */
  readonly warning?: boolean;
}

export interface LinkStatus {
  readonly name: 'data' | 'aux';
  readonly local: string;
  readonly peer: string;
  readonly alive: boolean;
  readonly lastHeardAgoMs: number | null;
  readonly rttMs: number | null;
  readonly jitterP99Ms: number | null;
}

export interface FailoverTaskStatus {
  readonly task: string;
  /** The local task's name (`<task>` on its source node, `<task>_reverse` on the other). */
  readonly localTask: string;
  readonly running: boolean;
  readonly role: string;
  readonly connection: string;
  readonly volume: string;
  readonly diskState: string;
  readonly remoteVolume: string;
  readonly peerDiskState: string;
  readonly peerAddress: string;
  /** Replication held down by failover until "Sync volume". */
  readonly held: boolean;
}

export interface FailoverStatus {
  readonly nodeName: string;
  readonly peerName: string | null;
  readonly enabled: boolean;
  readonly started: boolean;
  readonly state: FailoverState;
  readonly term: number;
  readonly virtualIp: { readonly address: string; readonly held: boolean; readonly driver: string } | null;
  readonly links: readonly LinkStatus[];
  readonly pingNodeReachable: boolean;
  readonly peer: {
    readonly heard: boolean;
    readonly role: string | null;
    readonly upToDate: boolean | null;
    readonly pingNodeReachable: boolean | null;
    readonly term: number | null;
  };
  /** Peer's clock minus ours, measured over the heartbeat. */
  readonly clockOffsetMs: number | null;
  readonly alarms: readonly string[];
  /** Risks of the configuration itself (not conditions of the moment, which are alarms). */
  readonly warnings: readonly string[];
  /** The third vote, when one is configured: whether this node holds the role's lease. */
  readonly witness: { readonly endpoints: readonly string[]; readonly holds: boolean } | null;
  readonly lastDecision: { readonly action: string; readonly reason: string; readonly at: string } | null;
  readonly lastTransition: {
    readonly kind: string;
    readonly at: string;
    readonly ok: boolean;
    readonly steps: readonly Step[];
  } | null;
  readonly tasks: readonly FailoverTaskStatus[];
}

export interface FailoverControl {
  config(): FailoverConfig;
  configure(input: FailoverConfigInput): Promise<FailoverConfig>;
  status(): FailoverStatus;
  preflight(): Promise<PreflightCheck[]>;
  /** On the node that should serve; the peer follows as passive. */
  start(options: { readonly force: boolean }): Promise<FailoverStatus>;
  stop(): Promise<FailoverStatus>;
  /** Hands the active role to the peer (which must be up to date). */
  manualFailover(): Promise<FailoverStatus>;
  /** On the active node after a failover: lets the returning node reconnect and resync. */
  syncVolume(): Promise<FailoverStatus>;
  /** Gives the active role back to the returning node, once its volumes are up to date. */
  failback(): Promise<FailoverStatus>;
}
