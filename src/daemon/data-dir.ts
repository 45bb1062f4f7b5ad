// The layout of a node's data dir. The dir is 0700: it holds the store (secrets), the admin password
// file and the API socket.
import { chmodSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface DataDirPaths {
  readonly root: string;
  readonly store: string;
  readonly socket: string;
  readonly pidFile: string;
  readonly adminPasswordFile: string;
  readonly defaultPool: string;
}

export function dataDirPaths(dir: string): DataDirPaths {
  const root = resolve(dir);
  return {
    root,
    store: join(root, 'tandem.db'),
    socket: join(root, 'tandem.sock'),
    pidFile: join(root, 'tandem.pid'),
    adminPasswordFile: join(root, 'admin-password'),
    defaultPool: join(root, 'pools', 'default'),
  };
}

export function prepareDataDir(dir: string): DataDirPaths {
  const paths = dataDirPaths(dir);
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  chmodSync(paths.root, 0o700);
  return paths;
}
