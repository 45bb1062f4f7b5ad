// The composition root of one node: opens the store (which locks the data dir), makes the default pool
// and the admin account on first start, wires the services, and serves the API on TCP and the unix
// socket. `stop()` undoes it in reverse: stop accepting, drain, flush, close the store.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { buildApiApp } from '../api/app.js';
import { ApiAuth } from '../api/auth.js';
import type { NodeInfo } from '../api/context.js';
import { startApiServers, type ApiServers } from '../api/server.js';
import { ChangeFeed } from '../config/change-feed.js';
import { createRepositories } from '../config/repositories/index.js';
import { openStore, StoreError, type Db } from '../config/store.js';
import { formatHostPort, type HostPort } from '../lib/host-port.js';
import { VERSION } from '../lib/version.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { TargetCatalog } from '../targets/target-catalog.js';
import { TargetService } from '../targets/target-service.js';
import { PoolService } from '../volumes/pool-service.js';
import { VolumeService } from '../volumes/volume-service.js';
import { sweepOrphans } from '../volumes/orphan-sweep.js';
import { ensureAdminAccount } from './admin-account.js';
import { IscsiService } from './iscsi-service.js';
import { DEFAULT_REPLICATION_PORT, ReplicationService } from '../replication/replication-service.js';
import { prepareDataDir, type DataDirPaths } from './data-dir.js';
import { agentDirIn, DataReplicationAgent } from '../datarep/agent/agent.js';
import { NasService } from '../nas/nas-service.js';
import { NetworkService } from '../network/network-service.js';
import {
  FailoverService,
  identityDigest,
  loadFailoverConfig,
  loadFailoverState,
} from '../ha/failover-service.js';
import { HeartbeatMonitor } from '../ha/heartbeat/monitor.js';
import { Witness } from '../ha/quorum/witness.js';
import { observeVipDriver } from '../ha/vip/observed-driver.js';
import { VipWatchdog } from '../ha/watchdog/client.js';
import type { Repositories } from '../config/repositories/index.js';
import { DatarepService } from '../datarep/datarep-service.js';
import { PasswordStore } from '../datarep/password-store.js';
import { RunningTasks } from '../tasks/running-tasks.js';
import { TaskLog } from '../tasks/task-log.js';
import { join } from 'node:path';

export interface NodeOptions {
  readonly dataDir: string;
  readonly api: HostPort;
  readonly iscsi: HostPort;
  /** Where volume replication listens (default 0.0.0.0:7788). */
  readonly replication?: HostPort;
  /** This node's name towards its replication peer (default: the stored one, else the host name). */
  readonly nodeName?: string;
  readonly adminPassword?: string;
  readonly logger: Logger;
}

export interface RunningNode {
  readonly paths: DataDirPaths;
  readonly info: NodeInfo;
  /** Set only on the very first start, when the admin password was generated. */
  readonly generatedAdminPassword: string | null;
  stop(): Promise<void>;
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const { logger } = options;
  const paths = prepareDataDir(options.dataDir);
  let db: Db;
  try {
    db = openStore(paths.store);
  } catch (error) {
    if (error instanceof StoreError && error.code === 'store-in-use') {
      throw new StoreError('store-in-use', `${error.message}${holderOf(paths.pidFile)}`);
    }
    throw error;
  }
  writeFileSync(paths.pidFile, `${process.pid}\n`, { mode: 0o644 });

  let servers: ApiServers | undefined;
  let iscsiService: IscsiService | undefined;
  let replicationService: ReplicationService | undefined;
  let failoverService: FailoverService | undefined;
  let vipWatchdog: VipWatchdog | undefined;
  let taskLog: TaskLog | undefined;
  let nasService: NasService | undefined;
  let datarepService: DatarepService | undefined;
  try {
    const repos = createRepositories(db);
    const changes = new ChangeFeed();
    let nodeId = repos.meta.get('node_id');
    if (nodeId === undefined) {
      nodeId = randomUUID();
      repos.meta.set('node_id', nodeId);
      repos.meta.set('created_at', new Date().toISOString());
    }
    const pools = new PoolService(repos, changes);
    await pools.ensureDefault(paths.defaultPool);
    // Before anything opens a volume: set aside what a crash left that no volume owns.
    await sweepOrphans(repos, logger);
    const { generatedPassword } = await ensureAdminAccount(
      repos.accounts,
      paths.adminPasswordFile,
      options.adminPassword,
    );

    const host = hostname();
    const volumes = new VolumeService(repos, pools, changes, logger);
    const targets = new TargetService(repos, changes, host);
    const catalog = new TargetCatalog(
      repos,
      (volumeId) => {
        const volume = repos.volumes.byId(volumeId);
        return volume ? volumes.pathOf(volume) : '';
      },
      changes,
    );
    let devicesChanged = (): void => undefined;
    const replication = new ReplicationService({
      repos,
      listen: options.replication ?? { host: '0.0.0.0', port: DEFAULT_REPLICATION_PORT },
      nodeName: options.nodeName ?? host,
      pathOf: (volume) => volumes.pathOf(volume),
      isExported: (volumeId) => repos.targets.mappingOfVolume(volumeId) !== undefined,
      logger,
      onDevicesChanged: () => devicesChanged(),
      failover: {
        covers: (task) => loadFailoverConfig(repos.meta).tasks.includes(task),
        heldAtStart: (task) => loadFailoverState(repos.meta).holds.includes(task),
        fencePeer: (task, reason) =>
          failoverService?.fencePeer(task, reason) ?? Promise.resolve({ kind: 'no-answer' } as const),
        mayWriteAlone: (task) => failoverService?.mayWriteAlone(task) ?? true,
      },
    });
    replicationService = replication;
    if (options.nodeName !== undefined) repos.replication.setNodeName(options.nodeName);
    await replication.start();
    targets.replicaGuard = (volumeId) => replication.exportRefusal(volumeId);
    const iscsi = new IscsiService(catalog, repos.prState, {
      listen: options.iscsi,
      logger,
      revision: VERSION.split('.').slice(0, 2).join('.'),
      devices: replication,
    });
    iscsiService = iscsi;
    devicesChanged = () => iscsi.refresh();
    const portalAddress = await iscsi.start();
    // The virtual IP serves the iSCSI portal's port; the loopback driver probes it there.
    const network = new NetworkService(repos.network, { iscsiPort: portalAddress.port });
    // Gives the virtual IP up should this daemon die or hang (src/ha/watchdog/): it learns the address
    // from the drivers failover uses, and runs from the first heartbeat monitor (failover enabled and
    // paired) or the first address taken, until the node stops.
    const watchdog = new VipWatchdog({
      logger,
      timers: () => failoverService?.config() ?? loadFailoverConfig(repos.meta),
    });
    vipWatchdog = watchdog;
    const failover = new FailoverService({
      meta: repos.meta,
      replication,
      virtualIp: {
        current: () => {
          const vip = network.virtualIpWithDriver();
          return vip ? { ...vip.vip, driver: vip.driver.kind } : null;
        },
        driverFor: (kind) => observeVipDriver(network.driver(kind), watchdog),
      },
      portal: {
        open: (address) => iscsi.openVirtualPortal(address),
        close: () => iscsi.closeVirtualPortal(),
      },
      describeTargets: (names) => describeFailoverTargets(repos, names),
      createWitness: (settings) =>
        new Witness({ ...settings, logger: logger.child({ component: 'witness' }) }),
      createMonitor: (settings) => {
        // Failover runs (enabled and paired): so does the watchdog, which then also catches a hang.
        watchdog.start().catch((error: unknown) => logger.error({ err: error }, 'no virtual IP watchdog'));
        return new HeartbeatMonitor({ ...settings, logger });
      },
      logger,
      // Take-overs, releases and Sync volume show in Status -> Tasks next to the other tasks.
      record: (status, action, details) =>
        taskLog?.append({ name: 'failover', type: 'failover', status, action, runId: null, details }),
    });
    failoverService = failover;
    await failover.open();
    const nas = new NasService({
      repos,
      volumes,
      changes,
      agent: new DataReplicationAgent({ dir: agentDirIn(paths.root), logger }),
      logger,
    });
    nasService = nas;
    volumes.snapshotUsage = (volume) => nas.snapshotUsage(volume);
    volumes.usedBy = (volume) => nas.volumeUsers(volume);
    await nas.start();
    // Data replication (source side) starts after the NAS it snapshots and stops before it.
    const tasks = { running: new RunningTasks(), log: new TaskLog(repos.taskLog) };
    taskLog = tasks.log;
    const datarep = new DatarepService({
      repo: repos.datarep,
      taskLog: tasks.log,
      running: tasks.running,
      nas: () => nas,
      passwords: new PasswordStore(join(paths.root, 'datarep', 'passwords')),
      logger,
    });
    datarepService = datarep;
    datarep.start();
    const metrics = createMetrics({
      pools,
      volumes,
      catalog,
      sessionsByTarget: () => iscsi.sessionsByTarget(),
      replicationTasks: () => replication.tasks(),
      failover: () => failover.status(),
    });
    const startedAt = new Date().toISOString();
    let apiAddress = formatHostPort(options.api);
    const node = (): NodeInfo => ({
      name: 'tandem',
      version: VERSION,
      nodeId,
      hostname: host,
      dataDir: paths.root,
      startedAt,
      api: apiAddress,
      iscsiPortal: formatHostPort(portalAddress),
      replication: formatHostPort(
        replication.listenAddress() ??
          options.replication ?? { host: '0.0.0.0', port: DEFAULT_REPLICATION_PORT },
      ),
    });

    const auth = new ApiAuth(repos.accounts);
    const app = await buildApiApp(
      {
        pools,
        volumes,
        targets,
        catalog,
        metrics,
        node,
        replication,
        nas,
        datarep,
        tasks,
        network,
        failover,
      },
      auth,
      logger,
    );
    servers = await startApiServers(app, auth, { tcp: options.api, socketPath: paths.socket });
    apiAddress = formatHostPort(servers.tcp);
    const info = node();

    const running = servers;
    let stopping: Promise<void> | undefined;
    return {
      paths,
      info,
      generatedAdminPassword: generatedPassword,
      stop() {
        stopping ??= (async () => {
          logger.info('node stopping');
          await running.close();
          await failover.close();
          await watchdog.stop();
          await iscsi.close();
          await replication.close();
          await datarep.close();
          await nas.close();
          db.close();
          rmSync(paths.pidFile, { force: true });
          logger.info('node stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await servers?.close().catch(() => undefined);
    await failoverService?.close().catch(() => undefined);
    await vipWatchdog?.stop().catch(() => undefined);
    await iscsiService?.close().catch(() => undefined);
    await replicationService?.close().catch(() => undefined);
    await datarepService?.close().catch(() => undefined);
    await nasService?.close().catch(() => undefined);
    db.close();
    rmSync(paths.pidFile, { force: true });
    throw error;
  }
}

/** Failover's preflight: each target exporting one of the volumes, as a digest of its identity (IQN,
 * LUN numbers, serials, NAA ids, RO, WB) the peer's must equal, and why it is unfit (RO or WB on). */
function describeFailoverTargets(
  repos: Repositories,
  volumeNames: readonly string[],
): Record<string, { digest: string; problem: string | null }> {
  const ids = new Set(
    volumeNames.map((name) => repos.volumes.byName(name)?.id).filter((id) => id !== undefined),
  );
  const described: Record<string, { digest: string; problem: string | null }> = {};
  for (const target of repos.targets.list()) {
    if (!target.luns.some((lun) => ids.has(lun.volumeId))) continue;
    const luns = [...target.luns].sort((a, b) => a.lun - b.lun);
    const unfit = luns.filter((lun) => lun.readOnly || lun.writeBack).map((lun) => `LUN ${lun.lun}`);
    described[target.iqn] = {
      digest: identityDigest([
        target.iqn,
        ...luns.map(
          (l) => `${l.lun}:${l.serial}:${l.naa}:${l.readOnly ? 'ro' : 'rw'}:${l.writeBack ? 'wb' : 'wt'}`,
        ),
      ]),
      problem:
        unfit.length > 0 ? `${unfit.join(', ')}: read only and write-back must be off for failover` : null,
    };
  }
  return described;
}

function holderOf(pidFile: string): string {
  try {
    const pid = readFileSync(pidFile, 'utf8').trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}
