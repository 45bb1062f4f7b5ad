// The node's services over a real store in a temporary directory, without the daemon around them.
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ChangeFeed } from '../../src/config/change-feed.js';
import { createRepositories, type Repositories } from '../../src/config/repositories/index.js';
import { openStore } from '../../src/config/store.js';
import type { Logger } from '../../src/observability/logger.js';
import { TargetService } from '../../src/targets/target-service.js';
import { PoolService } from '../../src/volumes/pool-service.js';
import { VolumeService } from '../../src/volumes/volume-service.js';
import { tempDir } from './temp-dir.js';

export interface TestServices {
  readonly dir: string;
  readonly repos: Repositories;
  readonly changes: ChangeFeed;
  readonly pools: PoolService;
  readonly volumes: VolumeService;
  readonly targets: TargetService;
}

export async function makeServices(
  t: TestContext,
  options: { hostname?: string; now?: () => Date; logger?: Logger } = {},
): Promise<TestServices> {
  const dir = tempDir(t);
  const db = openStore(join(dir, 'tandem.db'));
  t.after(() => db.close());
  const repos = createRepositories(db);
  const changes = new ChangeFeed();
  const pools = new PoolService(repos, changes);
  await pools.ensureDefault(join(dir, 'pools', 'default'));
  const volumes = new VolumeService(repos, pools, changes, options.logger);
  const targets = new TargetService(repos, changes, options.hostname ?? 'node1.example.com', options.now);
  return { dir, repos, changes, pools, volumes, targets };
}

/** Everything the store holds, to show that a refused request changed nothing. */
export function storeSnapshot(repos: Repositories): string {
  return JSON.stringify({
    pools: repos.pools.list(),
    volumes: repos.volumes.list(),
    targets: repos.targets.list(),
  });
}
