// Prometheus metrics for /metrics. Gauges are computed at scrape time from the services, so they can
// never drift from what the API shows. Later features register their own collectors here.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolService } from '../volumes/pool-service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { TargetCatalog } from '../targets/target-catalog.js';
import type { TaskStatus } from '../replication/control.js';
import type { FailoverStatus } from '../ha/control.js';

export interface MetricSources {
  readonly pools: PoolService;
  readonly volumes: VolumeService;
  readonly catalog: TargetCatalog;
  /** Open iSCSI sessions per target; the portal provides it. */
  readonly sessionsByTarget: () => ReadonlyMap<string, number>;
  /** Volume replication tasks of this node. */
  readonly replicationTasks?: () => readonly TaskStatus[];
  /** iSCSI failover of this node. */
  readonly failover?: () => FailoverStatus;
}

const CONNECTION_STATES = [
  'standalone',
  'connecting',
  'connected',
  'sync-source',
  'sync-target',
  'verifying',
  'split-brain',
  'unrelated-data',
] as const;
const DISK_STATES = ['up-to-date', 'consistent', 'inconsistent', 'outdated', 'unknown'] as const;

export function createMetrics(sources: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tandem_process_' });
  if (sources.replicationTasks) replicationMetrics(registry, sources.replicationTasks);
  if (sources.failover) failoverMetrics(registry, sources.failover);

  new Gauge({
    name: 'tandem_pool_capacity_bytes',
    help: 'Bytes a pool can hand out',
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await sources.pools.list()) this.set({ pool: pool.name }, pool.capacity);
    },
  });
  new Gauge({
    name: 'tandem_pool_free_bytes',
    help: 'Bytes of a pool not committed to volumes or reserved areas',
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await sources.pools.list()) this.set({ pool: pool.name }, pool.free);
    },
  });
  new Gauge({
    name: 'tandem_pool_reserved_bytes',
    help: 'Bytes of a pool reserved for snapshots and replication metadata',
    labelNames: ['pool', 'area'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await sources.pools.list()) {
        this.set({ pool: pool.name, area: 'snapshots' }, pool.reserved.snapshots);
        this.set({ pool: pool.name, area: 'replication' }, pool.reserved.replication);
      }
    },
  });
  new Gauge({
    name: 'tandem_volume_size_bytes',
    help: 'Size of a logical volume',
    labelNames: ['volume', 'type', 'pool'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sources.volumes.list())
        this.set({ volume: v.name, type: v.type, pool: v.pool }, v.size);
    },
  });
  new Gauge({
    name: 'tandem_volume_used_bytes',
    help: 'Bytes a logical volume occupies on disk',
    labelNames: ['volume', 'type', 'pool'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const v of await sources.volumes.list())
        this.set({ volume: v.name, type: v.type, pool: v.pool }, v.used);
    },
  });
  new Gauge({
    name: 'tandem_targets_served',
    help: 'Enabled iSCSI targets the portal serves',
    registers: [registry],
    collect() {
      this.set(sources.catalog.served().length);
    },
  });
  new Gauge({
    name: 'tandem_iscsi_sessions',
    help: 'Open iSCSI sessions per target',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      for (const target of sources.catalog.served()) {
        this.set({ target: target.iqn }, sources.sessionsByTarget().get(target.iqn) ?? 0);
      }
    },
  });
  return registry;
}

/** Per replication task: one-hot state gauges (so alerts can say `== 1`), out-of-sync bytes, resync. */
function replicationMetrics(registry: Registry, tasks: () => readonly TaskStatus[]): void {
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, task: TaskStatus) => void,
  ): void => {
    scrapedGauge(registry, name, help, labelNames, (g) => {
      for (const task of tasks()) fill(g, task);
    });
  };
  gauge('tandem_replication_primary', "1 when this node is the task's primary", ['task'], (g, t) =>
    g.set({ task: t.name }, t.role === 'primary' ? 1 : 0),
  );
  gauge(
    'tandem_replication_connection',
    "The task's connection state (1 for the current one)",
    ['task', 'state'],
    (g, t) => {
      for (const state of CONNECTION_STATES) g.set({ task: t.name, state }, t.connection === state ? 1 : 0);
    },
  );
  gauge(
    'tandem_replication_disk',
    'The disk state of this node (1 for the current one)',
    ['task', 'state'],
    (g, t) => {
      for (const state of DISK_STATES) g.set({ task: t.name, state }, t.diskState === state ? 1 : 0);
    },
  );
  gauge(
    'tandem_replication_peer_disk',
    "The peer's disk state as known here (1 for the current one)",
    ['task', 'state'],
    (g, t) => {
      for (const state of DISK_STATES) g.set({ task: t.name, state }, t.peerDiskState === state ? 1 : 0);
    },
  );
  gauge(
    'tandem_replication_out_of_sync_bytes',
    'Bytes marked out of sync in the write-intent bitmap',
    ['task'],
    (g, t) => g.set({ task: t.name }, t.outOfSyncBytes),
  );
  gauge(
    'tandem_replication_resync_bytes_per_second',
    'Resync rate (0 when no resync runs)',
    ['task'],
    (g, t) => g.set({ task: t.name }, t.resync?.bytesPerSecond ?? 0),
  );
  gauge('tandem_replication_resync_done_bytes', 'Bytes resynced by the running resync', ['task'], (g, t) =>
    g.set({ task: t.name }, t.resync?.doneBytes ?? 0),
  );
}

const FAILOVER_STATES = ['stopped', 'active', 'passive', 'taking-over', 'releasing'] as const;

/** Failover: this node's state (one-hot), each heartbeat link, the ping node, the virtual IP, alarms. */
function failoverMetrics(registry: Registry, status: () => FailoverStatus): void {
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, s: FailoverStatus) => void,
  ) => {
    scrapedGauge(registry, name, help, labelNames, (g) => fill(g, status()));
  };
  gauge('tandem_failover_state', "This node's failover state (1 for the current one)", ['state'], (g, s) => {
    for (const state of FAILOVER_STATES) g.set({ state }, s.state === state ? 1 : 0);
  });
  gauge('tandem_failover_term', 'The failover term (grows with every take-over)', [], (g, s) =>
    g.set(s.term),
  );
  gauge('tandem_failover_link_alive', '1 when the peer is heard on the heartbeat link', ['link'], (g, s) => {
    for (const link of s.links) g.set({ link: link.name }, link.alive ? 1 : 0);
  });
  gauge('tandem_failover_ping_node_reachable', '1 when a ping node answers this node', [], (g, s) =>
    g.set(s.pingNodeReachable ? 1 : 0),
  );
  gauge('tandem_failover_virtual_ip_held', '1 when this node holds the virtual IP', [], (g, s) =>
    g.set(s.virtualIp?.held === true ? 1 : 0),
  );
  gauge(
    'tandem_failover_alarms',
    'Number of failover alarms (links down, ping node silent ...)',
    [],
    (g, s) => g.set(s.alarms.length),
  );
}

/** A gauge filled afresh from the services at every scrape. */
function scrapedGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  fill: (g: Gauge) => void,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      fill(this);
    },
  });
}
