// `tandem network ...`: the node's NICs with their roles (iSCSI data, auxiliary/heartbeat, none) and
// the virtual IP on the data NIC.
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { isTandemError, messageOf } from '../../lib/errors.js';
import { checkPrefixLength, parseIpv4, prefixFromNetmask } from '../../network/ipv4.js';
import type { NetworkView, NicView, VirtualIpView } from '../../network/network-service.js';
import { CliError } from '../client.js';
import { clientAction, enc } from '../command-kit.js';
import { printFields, printTable } from '../output.js';

const NETWORK = '/api/v1/network';
const VIRTUAL_IP = '/api/v1/network/virtual-ip';

const usage = (message: string): CliError => new CliError(message, 'usage', 2);

/** Runs a validator from src/network and turns its error into a usage error. */
function asArgument<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw new InvalidArgumentError(isTandemError(error) ? error.message : messageOf(error));
  }
}

export function prefixArg(text: string): number {
  if (!/^\d{1,2}$/.test(text)) throw new InvalidArgumentError('a prefix length is a number from 0 to 32');
  return asArgument(() => checkPrefixLength(Number(text)));
}

export const netmaskArg = (text: string): number => asArgument(() => prefixFromNetmask(text));

export const ipv4Arg = (text: string): string => asArgument(() => parseIpv4(text));

/** ADDRESS or ADDRESS/PREFIX. */
export function vipAddressArg(text: string): { address: string; prefixLength?: number } {
  const [address = '', prefix, extra] = text.split('/');
  if (extra !== undefined)
    throw new InvalidArgumentError('write ADDRESS or ADDRESS/PREFIX, e.g. 192.0.2.100/24');
  return {
    address: ipv4Arg(address),
    ...(prefix === undefined ? {} : { prefixLength: prefixArg(prefix) }),
  };
}

/** The prefix length from exactly one of: ADDRESS/PREFIX, --prefix, --netmask. */
export function resolvePrefix(
  fromAddress: number | undefined,
  prefix: number | undefined,
  netmask: number | undefined,
): number {
  const given = [fromAddress, prefix, netmask].filter((p) => p !== undefined);
  if (given.length === 0) throw usage('give the prefix length: ADDRESS/PREFIX, --prefix N or --netmask MASK');
  if (given.length > 1 && new Set(given).size > 1) {
    throw usage(`the prefix lengths given disagree (${given.map(String).join(' vs ')})`);
  }
  return given[0] ?? 0;
}

const addressesText = (nic: NicView): string =>
  nic.addresses
    .map((a) => `${a.address}/${String(a.prefixLength)}${a.secondary ? ' (secondary)' : ''}`)
    .join('\n') || '-';

const stateText = (nic: NicView): string => {
  if (!nic.present) return 'missing';
  if (nic.state === 'down' && nic.adminUp && !nic.carrier) return 'down (no carrier)';
  return nic.state;
};

const heldText = (vip: VirtualIpView): string =>
  vip.held === null
    ? `unknown (${vip.heldError ?? 'no answer'})`
    : vip.held
      ? 'yes (this node is active)'
      : 'no';

function showVirtualIp(vip: VirtualIpView | null): void {
  if (!vip) {
    process.stdout.write('no virtual IP is configured\n');
    return;
  }
  printFields([
    ['virtual IP', `${vip.address}/${String(vip.prefixLength)}`],
    ['netmask', vip.netmask],
    ['broadcast', vip.broadcast],
    ['NIC', vip.nic],
    ['driver', vip.driver],
    ['held here', heldText(vip)],
  ]);
}

function showNics(nics: readonly NicView[]): void {
  printTable(nics, [
    { header: 'NIC', value: (n) => (n.loopback ? `${n.name} (loopback)` : n.name) },
    { header: 'ROLE', value: (n) => n.role },
    { header: 'STATE', value: stateText },
    { header: 'MAC', value: (n) => n.mac },
    { header: 'MTU', value: (n) => n.mtu },
    { header: 'ADDRESSES', value: addressesText },
  ]);
}

function vipCommand(): Command {
  const vip = new Command('vip').description('the virtual IP on the data NIC, held by the active node');

  clientAction(
    vip.command('show').description('show the virtual IP and whether this node holds it now'),
    (client) => client.get<VirtualIpView | null>(VIRTUAL_IP),
    showVirtualIp,
  );

  clientAction<
    { nic: string; prefix?: number; netmask?: number; broadcast?: string; driver: string },
    VirtualIpView
  >(
    vip
      .command('set')
      .description('configure the virtual IP (ADDRESS/PREFIX, or ADDRESS with --prefix or --netmask)')
      .addArgument(new Argument('<address>', 'e.g. 192.0.2.100/24').argParser(vipAddressArg))
      .requiredOption('--nic <nic>', 'the data NIC that carries it')
      .option('--prefix <n>', 'prefix length, e.g. 24', prefixArg)
      .option('--netmask <mask>', 'netmask, e.g. 255.255.255.0', netmaskArg)
      .option('--broadcast <address>', 'broadcast address (computed when left out)', ipv4Arg)
      .addOption(
        new Option('--driver <driver>', 'iproute2 (a real address) or loopback (127/8, one-machine demo)')
          .choices(['iproute2', 'loopback'])
          .default('iproute2'),
      ),
    (client, o, args) => {
      // commander checked the argument already; clientAction hands on the raw text.
      const parsed = vipAddressArg(args[0] ?? '');
      return client.call<VirtualIpView>('PUT', VIRTUAL_IP, {
        address: parsed.address,
        prefixLength: resolvePrefix(parsed.prefixLength, o.prefix, o.netmask),
        ...(o.broadcast === undefined ? {} : { broadcast: o.broadcast }),
        nic: o.nic,
        driver: o.driver,
      });
    },
    showVirtualIp,
  );

  clientAction<object, null>(
    vip.command('clear').description('remove the virtual IP setting (refused while this node holds it)'),
    (client) => client.delete(VIRTUAL_IP),
    () => process.stdout.write('virtual IP cleared\n'),
  );
  return vip;
}

export function networkCommand(): Command {
  const network = new Command('network').description('network setup: NICs, their roles, the virtual IP');

  clientAction(
    network.command('list').description('list NICs with roles and addresses, and the virtual IP'),
    (client) => client.get<NetworkView>(NETWORK),
    (view) => {
      showNics(view.nics);
      showVirtualIp(view.virtualIp);
    },
  );

  clientAction(
    network.command('show').description('show one NIC with its role and addresses').argument('<nic>'),
    (client, _o, [nic = '']) => client.get<NicView>(`${NETWORK}/nics/${enc(nic)}`),
    (nic) => showNics([nic]),
  );

  clientAction<object, NicView>(
    network
      .command('role')
      .description("set a NIC's role: data (iSCSI data, carries the virtual IP), aux (heartbeat), none")
      .argument('<nic>')
      .addArgument(new Argument('<role>').choices(['data', 'aux', 'none'])),
    (client, _o, [nic = '', role]) => client.call<NicView>('PUT', `${NETWORK}/nics/${enc(nic)}`, { role }),
    (nic) => showNics([nic]),
  );

  network.addCommand(vipCommand());
  return network;
}
