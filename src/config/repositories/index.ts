// All repositories over one store, created together by the daemon.
import type { Db } from '../store.js';
import { AccountsRepo } from './accounts-repo.js';
import { DatarepRepo } from './datarep-repo.js';
import { MetaRepo } from './meta-repo.js';
import { NasRepo } from './nas-repo.js';
import { NetworkRepo } from './network-repo.js';
import { PoolsRepo } from './pools-repo.js';
import { PrStateRepo } from './pr-state-repo.js';
import { ReplicationRepo } from './replication-repo.js';
import { TargetsRepo } from './targets-repo.js';
import { TaskLogRepo } from './task-log-repo.js';
import { VolumesRepo } from './volumes-repo.js';

export interface Repositories {
  readonly db: Db;
  readonly meta: MetaRepo;
  readonly accounts: AccountsRepo;
  readonly pools: PoolsRepo;
  readonly volumes: VolumesRepo;
  readonly targets: TargetsRepo;
  readonly prState: PrStateRepo;
  readonly replication: ReplicationRepo;
  readonly nas: NasRepo;
  readonly datarep: DatarepRepo;
  readonly taskLog: TaskLogRepo;
  readonly network: NetworkRepo;
}

export function createRepositories(db: Db): Repositories {
  const meta = new MetaRepo(db);
  return {
    db,
    meta,
    accounts: new AccountsRepo(db),
    pools: new PoolsRepo(db),
    volumes: new VolumesRepo(db),
    targets: new TargetsRepo(db),
    prState: new PrStateRepo(db),
    replication: new ReplicationRepo(db, meta),
    nas: new NasRepo(db),
    datarep: new DatarepRepo(db),
    taskLog: new TaskLogRepo(db),
    network: new NetworkRepo(db),
  };
}
