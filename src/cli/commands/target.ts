// `tandem target ...`: the iSCSI target manager.
import { Command, InvalidArgumentError } from 'commander';
import type { TargetView } from '../../targets/target-service.js';
import { clientAction, collect, enc, lunNumberArg, onOffArg } from '../command-kit.js';
import { printFields, printTable, size } from '../output.js';

interface LunMapping {
  lun: number;
  volume: string;
}

function parseLunMapping(text: string): LunMapping {
  const match = /^(\d{1,3})=(.+)$/.exec(text);
  if (!match || Number(match[1]) > 255) {
    throw new InvalidArgumentError(`"${text}" is not LUN=VOLUME (LUN 0 to 255), e.g. 1=vol1`);
  }
  return { lun: Number(match[1]), volume: match[2] ?? '' };
}

function parseChap(text: string): { username: string; secret: string } {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) throw new InvalidArgumentError('use USER:SECRET');
  return { username: text.slice(0, colon), secret: text.slice(colon + 1) };
}

/** Option/argument parsers that check the syntax while commander parses, so mistakes are usage errors. */
const checkedLun = (text: string): string => (parseLunMapping(text), text);
const checkedChap = (text: string): string => (parseChap(text), text);
const collectChecked =
  (check: (text: string) => string) =>
  (value: string, previous: string[] = []): string[] => [...previous, check(value)];

const showTarget = (t: TargetView): void => {
  printFields([
    ['IQN', t.iqn],
    ['alias', t.alias],
    ['enabled', t.enabled],
    [
      'CHAP users',
      t.chapUsers
        .map((u) => `${u.username} (${u.direction === 'incoming' ? 'one-way' : 'mutual'})`)
        .join(', ') || 'none',
    ],
    ['allowed initiators', t.allowedInitiators.join(', ') || 'all'],
    ['created', t.createdAt],
  ]);
  printTable(
    t.luns,
    [
      { header: 'LUN', value: (l) => l.lun },
      { header: 'VOLUME', value: (l) => l.volume },
      { header: 'SIZE', value: (l) => size(l.size) },
      { header: 'SCSI ID', value: (l) => l.serial },
      { header: 'NAA', value: (l) => l.naa },
      { header: 'RO', value: (l) => l.readOnly },
      { header: 'WB', value: (l) => l.writeBack },
    ],
    'no LUNs',
  );
};

interface CreateOptions {
  lun?: string[];
  wb?: boolean;
  ro?: boolean;
  chap?: string[];
  mutualChap?: string;
  allow?: string[];
  alias?: string;
  disabled?: boolean;
}

export function targetCommand(): Command {
  const target = new Command('target').description('iSCSI targets: LUNs, CHAP, initiator allow list');

  clientAction(
    target.command('list').description('list targets'),
    (client) => client.get<TargetView[]>('/api/v1/targets'),
    (targets) =>
      printTable(targets, [
        { header: 'IQN', value: (t) => t.iqn },
        { header: 'ENABLED', value: (t) => t.enabled },
        { header: 'LUNS', value: (t) => t.luns.map((l) => `${l.lun}=${l.volume}`).join(' ') || '-' },
        {
          header: 'CHAP',
          value: (t) =>
            t.chapUsers.length === 0
              ? 'off'
              : t.chapUsers.some((u) => u.direction === 'outgoing')
                ? 'mutual'
                : 'one-way',
        },
        {
          header: 'INITIATORS',
          value: (t) => (t.allowedInitiators.length === 0 ? 'all' : t.allowedInitiators.length),
        },
      ]),
  );

  clientAction(
    target.command('show').description('show one target').argument('<iqn>'),
    (client, _o, [iqn = '']) => client.get<TargetView>(`/api/v1/targets/${enc(iqn)}`),
    showTarget,
  );

  clientAction<CreateOptions, TargetView>(
    target
      .command('create')
      .description('create a target; without an IQN one is generated')
      .argument('[iqn]')
      .option('--lun <lun=volume>', 'map a volume as a LUN (repeatable)', collectChecked(checkedLun))
      .option('--wb', 'write-back cache on the LUNs given here (default: write-through)')
      .option('--ro', 'make the LUNs given here read only')
      .option('--chap <user:secret>', 'one-way CHAP user (repeatable)', collectChecked(checkedChap))
      .option('--mutual-chap <user:secret>', "the target's own CHAP identity for mutual CHAP", checkedChap)
      .option('--allow <initiator>', 'allow only these initiators (repeatable)', collect)
      .option('--alias <alias>', 'a readable alias (TargetAlias)')
      .option('--disabled', 'create it stopped'),
    (client, o, [iqn]) => {
      const luns = (o.lun ?? []).map(parseLunMapping).map((m) => ({
        ...m,
        ...(o.wb === true ? { writeBack: true } : {}),
        ...(o.ro === true ? { readOnly: true } : {}),
      }));
      const chapUsers = [
        ...(o.chap ?? []).map((c) => ({ direction: 'incoming', ...parseChap(c) })),
        ...(o.mutualChap === undefined ? [] : [{ direction: 'outgoing', ...parseChap(o.mutualChap) }]),
      ];
      return client.post('/api/v1/targets', {
        ...(iqn === undefined ? {} : { iqn }),
        ...(o.alias === undefined ? {} : { alias: o.alias }),
        ...(o.disabled === true ? { enabled: false } : {}),
        luns,
        chapUsers,
        allowedInitiators: o.allow ?? [],
      });
    },
    showTarget,
  );

  for (const [verb, description] of [
    ['start', 'serve a target (enable it)'],
    ['stop', 'stop serving a target (disable it)'],
  ] as const) {
    clientAction(
      target.command(verb).description(description).argument('<iqn>'),
      (client, _o, [iqn = '']) => client.post<TargetView>(`/api/v1/targets/${enc(iqn)}/${verb}`),
      showTarget,
    );
  }

  clientAction(
    target.command('delete').description('delete a target (its volumes stay)').argument('<iqn>'),
    (client, _o, [iqn = '']) => client.delete(`/api/v1/targets/${enc(iqn)}`),
    () => process.stdout.write('target deleted\n'),
  );

  const lun = target.command('lun').description('LUNs of a target');
  clientAction<{ ro?: boolean; wb?: boolean; serial?: string; naa?: string }, TargetView>(
    lun
      .command('add')
      .description('map a volume as a LUN')
      .argument('<iqn>')
      .argument('<lun=volume>', 'LUN number and volume name, e.g. 1=vol1', checkedLun)
      .option('--ro', 'read only')
      .option('--wb', 'write-back cache')
      .option('--serial <scsi-id>', 'SCSI ID (unit serial); default derived from the volume')
      .option('--naa <hex>', 'NAA identifier; default derived from the volume'),
    (client, o, [iqn = '', mapping = '']) =>
      client.post(`/api/v1/targets/${enc(iqn)}/luns`, {
        ...parseLunMapping(mapping),
        ...(o.ro === true ? { readOnly: true } : {}),
        ...(o.wb === true ? { writeBack: true } : {}),
        ...(o.serial === undefined ? {} : { serial: o.serial }),
        ...(o.naa === undefined ? {} : { naa: o.naa }),
      }),
    showTarget,
  );
  clientAction<{ ro?: boolean; wb?: boolean; serial?: string; naa?: string }, TargetView>(
    lun
      .command('set')
      .description('change a LUN')
      .argument('<iqn>')
      .argument('<lun>', 'LUN number', lunNumberArg)
      .option('--ro <on|off>', 'read only', onOffArg)
      .option('--wb <on|off>', 'write-back cache', onOffArg)
      .option('--serial <scsi-id>', 'SCSI ID (unit serial)')
      .option('--naa <hex>', 'NAA identifier'),
    (client, o, [iqn = '', number = '']) =>
      client.patch(`/api/v1/targets/${enc(iqn)}/luns/${number}`, {
        ...(o.ro === undefined ? {} : { readOnly: o.ro }),
        ...(o.wb === undefined ? {} : { writeBack: o.wb }),
        ...(o.serial === undefined ? {} : { serial: o.serial }),
        ...(o.naa === undefined ? {} : { naa: o.naa }),
      }),
    showTarget,
  );
  clientAction(
    lun
      .command('remove')
      .description('unmap a LUN (the volume stays)')
      .argument('<iqn>')
      .argument('<lun>', 'LUN number', lunNumberArg),
    (client, _o, [iqn = '', number = '']) =>
      client.delete<TargetView>(`/api/v1/targets/${enc(iqn)}/luns/${number}`),
    showTarget,
  );

  const chap = target.command('chap').description('CHAP users of a target');
  clientAction<{ mutual?: boolean }, TargetView>(
    chap
      .command('add')
      .description("add a one-way CHAP user, or with --mutual the target's own identity")
      .argument('<iqn>')
      .argument('<user:secret>', 'CHAP user name and secret', checkedChap)
      .option('--mutual', 'the target authenticates to the initiator (mutual CHAP)'),
    (client, o, [iqn = '', credentials = '']) =>
      client.post(`/api/v1/targets/${enc(iqn)}/chap-users`, {
        direction: o.mutual === true ? 'outgoing' : 'incoming',
        ...parseChap(credentials),
      }),
    showTarget,
  );
  clientAction<{ mutual?: boolean }, TargetView>(
    chap
      .command('remove')
      .description('remove a CHAP user')
      .argument('<iqn>')
      .argument('<user>')
      .option('--mutual', 'remove the mutual (outgoing) user'),
    (client, o, [iqn = '', user = '']) =>
      client.delete(
        `/api/v1/targets/${enc(iqn)}/chap-users/${o.mutual === true ? 'outgoing' : 'incoming'}/${enc(user)}`,
      ),
    showTarget,
  );

  clientAction(
    target
      .command('allow')
      .description('allow an initiator (once the list is not empty, only listed ones may log in)')
      .argument('<iqn>')
      .argument('<initiator>'),
    (client, _o, [iqn = '', initiator = '']) =>
      client.post<TargetView>(`/api/v1/targets/${enc(iqn)}/initiators`, { name: initiator }),
    showTarget,
  );
  clientAction(
    target
      .command('disallow')
      .description('remove an initiator from the allow list')
      .argument('<iqn>')
      .argument('<initiator>'),
    (client, _o, [iqn = '', initiator = '']) =>
      client.delete<TargetView>(`/api/v1/targets/${enc(iqn)}/initiators/${enc(initiator)}`),
    showTarget,
  );
  return target;
}
