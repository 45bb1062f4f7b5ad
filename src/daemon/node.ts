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
import { ensureAdminAccount } from './admin-account.js';
import { IscsiService } from './iscsi-service.js';
import { DEFAULT_REPLICATION_PORT, ReplicationService } from '../replication/replication-service.js';
import { prepareDataDir, type DataDirPaths } from './data-dir.js';

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
    const { generatedPassword } = await ensureAdminAccount(
      repos.accounts,
      paths.adminPasswordFile,
      options.adminPassword,
    );

    const host = hostname();
    const volumes = new VolumeService(repos, pools, changes);
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
    const metrics = createMetrics({
      pools,
      volumes,
      catalog,
      sessionsByTarget: () => iscsi.sessionsByTarget(),
      replicationTasks: () => replication.tasks(),
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
      { pools, volumes, targets, catalog, metrics, node, replication },
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
          await iscsi.close();
          await replication.close();
          db.close();
          rmSync(paths.pidFile, { force: true });
          logger.info('node stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await servers?.close().catch(() => undefined);
    await iscsiService?.close().catch(() => undefined);
    await replicationService?.close().catch(() => undefined);
    db.close();
    rmSync(paths.pidFile, { force: true });
    throw error;
  }
}

function holderOf(pidFile: string): string {
  try {
    const pid = readFileSync(pidFile, 'utf8').trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}
