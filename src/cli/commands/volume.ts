// `tandem volume ...`: logical volumes of the volume manager.
import { Command, Option } from 'commander';
import type { VolumeView } from '../../volumes/volume-service.js';
import { clientAction, enc, onOffArg, sizeArg } from '../command-kit.js';
import { printFields, printTable, size } from '../output.js';

const exported = (v: VolumeView): string =>
  v.exportedAs ? `${v.exportedAs.target} LUN ${v.exportedAs.lun}` : '-';

const showVolume = (v: VolumeView): void =>
  printFields([
    ['name', v.name],
    ['type', v.type],
    ['pool', v.pool],
    ['size', size(v.size)],
    ['used on disk', size(v.used)],
    ['free (NAS quota)', v.quotaFree === null ? null : size(v.quotaFree)],
    ['provisioning', v.provisioning],
    ['I/O type', v.ioType],
    ['volume replication', v.replication],
    ['replication metadata', size(v.replicationMetadata)],
    ['snapshot reserve', size(v.snapshotReserve)],
    [
      'snapshots use',
      v.type === 'nas' ? `${size(v.snapshotUsed)} of ${size(v.snapshotReserve)} reserved` : null,
    ],
    ['WORM', v.worm],
    ['exported as', exported(v)],
    ['path', v.path],
    ['created', v.createdAt],
  ]);

interface CreateOptions {
  type: string;
  size: number;
  pool?: string;
  thick?: boolean;
  replication?: boolean;
  io?: string;
  worm?: boolean;
  snapshotReserve?: string;
}

export function volumeCommand(): Command {
  const volume = new Command('volume').description('logical volumes: iSCSI, NAS and FC');

  clientAction(
    volume.command('list').description('list volumes'),
    (client) => client.get<VolumeView[]>('/api/v1/volumes'),
    (volumes) =>
      printTable(volumes, [
        { header: 'NAME', value: (v) => v.name },
        { header: 'TYPE', value: (v) => v.type },
        { header: 'POOL', value: (v) => v.pool },
        { header: 'SIZE', value: (v) => size(v.size) },
        { header: 'USED', value: (v) => size(v.used) },
        { header: 'PROV', value: (v) => v.provisioning },
        { header: 'I/O', value: (v) => v.ioType },
        { header: 'REPL', value: (v) => v.replication },
        { header: 'EXPORTED AS', value: exported },
      ]),
  );

  clientAction(
    volume.command('show').description('show one volume').argument('<name>'),
    (client, _o, [name = '']) => client.get<VolumeView>(`/api/v1/volumes/${enc(name)}`),
    showVolume,
  );

  clientAction<CreateOptions, VolumeView>(
    volume
      .command('create')
      .description('create a volume')
      .argument('<name>')
      .addOption(new Option('--type <type>', 'volume type').choices(['iscsi', 'nas', 'fc']).default('iscsi'))
      .requiredOption('--size <size>', 'size, e.g. 512MiB, 10G, 1.5TiB', sizeArg)
      .option('--pool <pool>', 'pool to carve it from (default: the default pool)')
      .option('--thick', 'preallocate every block (default: thin)')
      .option('--replication', 'use volume replication')
      .addOption(new Option('--io <type>', 'I/O type of an iSCSI volume').choices(['block', 'file']))
      .option('--worm', 'write once, read many (NAS volumes)')
      .option('--snapshot-reserve <size|percent>', 'space reserved for snapshots, e.g. 10% or 1GiB'),
    (client, o, [name]) =>
      client.post('/api/v1/volumes', {
        name,
        type: o.type,
        size: o.size,
        ...(o.pool === undefined ? {} : { pool: o.pool }),
        ...(o.thick === true ? { provisioning: 'thick' } : {}),
        ...(o.replication === true ? { replication: true } : {}),
        ...(o.io === undefined ? {} : { ioType: o.io }),
        ...(o.worm === true ? { worm: true } : {}),
        ...(o.snapshotReserve === undefined ? {} : { snapshotReserve: o.snapshotReserve }),
      }),
    showVolume,
  );

  clientAction<{ size: number }, VolumeView>(
    volume
      .command('expand')
      .description('grow a volume')
      .argument('<name>')
      .requiredOption('--size <size>', 'the new, larger size', sizeArg),
    (client, o, [name = '']) => client.post(`/api/v1/volumes/${enc(name)}/expand`, { size: o.size }),
    showVolume,
  );

  clientAction<{ replication?: boolean; io?: string; worm?: boolean; snapshotReserve?: string }, VolumeView>(
    volume
      .command('set')
      .description('change volume attributes')
      .argument('<name>')
      .option('--replication <on|off>', 'use volume replication', onOffArg)
      .addOption(new Option('--io <type>', 'I/O type of an iSCSI volume').choices(['block', 'file']))
      .option('--worm', 'make a NAS volume WORM (cannot be undone)')
      .option('--snapshot-reserve <size|percent>', 'space reserved for snapshots'),
    (client, o, [name = '']) =>
      client.patch(`/api/v1/volumes/${enc(name)}`, {
        ...(o.replication === undefined ? {} : { replication: o.replication }),
        ...(o.io === undefined ? {} : { ioType: o.io }),
        ...(o.worm === true ? { worm: true } : {}),
        ...(o.snapshotReserve === undefined ? {} : { snapshotReserve: o.snapshotReserve }),
      }),
    showVolume,
  );

  clientAction<{ force?: boolean }, null>(
    volume
      .command('delete')
      .description('delete a volume and its data')
      .argument('<name>')
      .option('--force', 'delete even when exported or replicated (unmaps it)'),
    (client, o, [name = '']) =>
      client.delete(`/api/v1/volumes/${enc(name)}${o.force === true ? '?force=true' : ''}`),
    () => process.stdout.write('volume deleted\n'),
  );
  return volume;
}
