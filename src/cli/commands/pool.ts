// `tandem pool ...`: the volume manager's pools.
import { Command } from 'commander';
import type { PoolView } from '../../volumes/pool-service.js';
import { clientAction, enc, sizeArg } from '../command-kit.js';
import { printFields, printTable, size } from '../output.js';

const showPool = (p: PoolView): void =>
  printFields([
    ['name', p.name],
    ['path', p.path],
    ['default', p.isDefault],
    ['capacity', size(p.capacity)],
    ['capacity limit', p.capacityLimit === null ? 'whole filesystem' : size(p.capacityLimit)],
    ['allocated to volumes', size(p.allocated)],
    ['reserved: snapshots', size(p.reserved.snapshots)],
    ['reserved: replication metadata', size(p.reserved.replication)],
    ['free', size(p.free)],
    ['filesystem size', size(p.filesystem.total)],
    ['filesystem available', size(p.filesystem.available)],
    ['volumes', p.volumeCount],
  ]);

export function poolCommand(): Command {
  const pool = new Command('pool').description(
    'storage pools: where volumes live, with capacity and reserved areas',
  );

  clientAction(
    pool.command('list').description('list pools'),
    (client) => client.get<PoolView[]>('/api/v1/pools'),
    (pools) =>
      printTable(pools, [
        { header: 'NAME', value: (p) => p.name },
        { header: 'PATH', value: (p) => p.path },
        { header: 'CAPACITY', value: (p) => size(p.capacity) },
        { header: 'ALLOCATED', value: (p) => size(p.allocated) },
        { header: 'RESERVED', value: (p) => size(p.reserved.snapshots + p.reserved.replication) },
        { header: 'FREE', value: (p) => size(p.free) },
        { header: 'VOLUMES', value: (p) => p.volumeCount },
        { header: 'DEFAULT', value: (p) => p.isDefault },
      ]),
  );

  clientAction(
    pool.command('show').description('show one pool').argument('<name>'),
    (client, _o, [name = '']) => client.get<PoolView>(`/api/v1/pools/${enc(name)}`),
    showPool,
  );

  clientAction<{ path: string; capacity?: number }, PoolView>(
    pool
      .command('create')
      .description('create a pool on a directory')
      .argument('<name>')
      .requiredOption('--path <dir>', 'absolute path of the directory (created if missing)')
      .option('--capacity <size>', 'limit what the pool hands out (default: the whole filesystem)', sizeArg),
    (client, o, [name]) =>
      client.post('/api/v1/pools', { name, path: o.path, ...(o.capacity ? { capacity: o.capacity } : {}) }),
    showPool,
  );

  clientAction<{ capacity: string }, PoolView>(
    pool
      .command('set')
      .description('change a pool')
      .argument('<name>')
      .requiredOption('--capacity <size|none>', 'capacity limit, or none for the whole filesystem'),
    (client, o, [name = '']) =>
      client.patch(`/api/v1/pools/${enc(name)}`, { capacity: o.capacity === 'none' ? null : o.capacity }),
    showPool,
  );

  clientAction(
    pool.command('delete').description('delete an empty pool (its directory stays)').argument('<name>'),
    (client, _o, [name = '']) => client.delete(`/api/v1/pools/${enc(name)}`),
    () => process.stdout.write('pool deleted\n'),
  );
  return pool;
}
