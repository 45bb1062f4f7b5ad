// What the route plugins may use: the node's services, nothing lower.
import type { Registry } from 'prom-client';
import type { FailoverControl } from '../ha/control.js';
import type { DatarepControl } from '../datarep/datarep-service.js';
import type { NasService } from '../nas/nas-service.js';
import type { NetworkService } from '../network/network-service.js';
import type { ReplicationControl } from '../replication/control.js';
import type { RunningTasks } from '../tasks/running-tasks.js';
import type { TaskLog } from '../tasks/task-log.js';
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
  /** NICs, their roles and the virtual IP (and the virtual IP drivers). */
  readonly network: NetworkService;
  /** Volume replication; absent while the service is not running (its routes answer 503). */
  readonly replication?: ReplicationControl;
  /** NAS shares, snapshots, settings and the data replication agent (a NasControl for datarep). */
  readonly nas?: NasService;
  /** Data replication tasks (source side); absent while not running (routes answer 503). */
  readonly datarep?: DatarepControl;
  /** Status -> Tasks: running tasks of every kind and the task log. */
  readonly tasks?: { readonly running: RunningTasks; readonly log: TaskLog };
  /** iSCSI failover; absent while not running (routes answer 503). */
  readonly failover?: FailoverControl;
}
