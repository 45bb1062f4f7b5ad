// A NAS service over real services in a temp dir, with its log captured. Snapshots are immutable
// (chattr +i), so the fixture clears that flag before the temp dir is removed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { TestContext } from 'node:test';
import { DataReplicationAgent } from '../../../src/datarep/agent/agent.js';
import { NasService } from '../../../src/nas/nas-service.js';
import { createLogger } from '../../../src/observability/logger.js';
import { makeServices, type TestServices } from '../../helpers/services.js';

export interface NasFixture extends TestServices {
  readonly nas: NasService;
  readonly agent: DataReplicationAgent;
  log(): string;
}

/** Clears immutable flags under a directory (registered before the directory's own removal). */
export function clearImmutableLater(t: TestContext): (dir: string) => void {
  const dirs: string[] = [];
  t.after(() => {
    for (const dir of dirs) spawnSync('chattr', ['-R', '-f', '-i', dir]);
  });
  return (dir) => dirs.push(dir);
}

export async function makeNas(t: TestContext): Promise<NasFixture> {
  const clear = clearImmutableLater(t);
  const services = await makeServices(t);
  clear(services.dir);
  let log = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const logger = createLogger({ level: 'debug', destination: sink });
  const agent = new DataReplicationAgent({ dir: join(services.dir, 'datarep-agent'), logger });
  const nas = new NasService({
    repos: services.repos,
    volumes: services.volumes,
    changes: services.changes,
    agent,
    logger,
  });
  services.volumes.snapshotUsage = (v) => nas.snapshotUsage(v);
  services.volumes.usedBy = (v) => nas.volumeUsers(v);
  await nas.start();
  t.after(() => nas.close());
  return { ...services, nas, agent, log: () => log };
}
