// Prometheus metrics for /metrics. Gauges are computed at scrape time from the services, so they can
// never drift from what the API shows. Later features register their own collectors here.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolService } from '../volumes/pool-service.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { TargetCatalog } from '../targets/target-catalog.js';

export interface MetricSources {
  readonly pools: PoolService;
  readonly volumes: VolumeService;
  readonly catalog: TargetCatalog;
  /** Open iSCSI sessions per target; the portal provides it. */
  readonly sessionsByTarget: () => ReadonlyMap<string, number>;
}

export function createMetrics(sources: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tandem_process_' });

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
