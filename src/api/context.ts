// What the route plugins may use: the node's services, nothing lower.
import type { Registry } from 'prom-client';
import type { ReplicationControl } from '../replication/control.js';
import type { PoolService } from '../volumes/pool-service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { TargetService } from '../targets/target-service.js';
import type { TargetCatalog } from '../targets/target-catalog.js';

export interface NodeInfo {
  readonly name: string;
  readonly version: string;
  readonly nodeId: string;
  readonly hostname: string;
  readonly dataDir: string;
  readonly startedAt: string;
  readonly api: string;
  readonly iscsiPortal: string;
  /** Where volume replication listens for the peer. */
  readonly replication: string;
}

export interface ApiContext {
  readonly pools: PoolService;
  readonly volumes: VolumeService;
  readonly targets: TargetService;
  readonly catalog: TargetCatalog;
  readonly metrics: Registry;
  readonly node: () => NodeInfo;
  /** Volume replication; absent while the service is not running (its routes answer 503). */
  readonly replication?: ReplicationControl;
}
