// `tandem node`: what the daemon says about itself.
import { Command } from 'commander';
import type { NodeInfo } from '../../api/context.js';
import { clientAction } from '../command-kit.js';
import { printFields } from '../output.js';

type NodeStatus = NodeInfo & { servedTargets: { iqn: string; luns: number[] }[] };

export function nodeCommand(): Command {
  const node = new Command('node').description('this node');
  clientAction(
    node.command('status').description('identity, addresses and what the portal serves'),
    (client) => client.get<NodeStatus>('/api/v1/node'),
    (n) =>
      printFields([
        ['node id', n.nodeId],
        ['host name', n.hostname],
        ['version', n.version],
        ['data dir', n.dataDir],
        ['API', n.api],
        ['iSCSI portal', n.iscsiPortal],
        ['started', n.startedAt],
        [
          'served targets',
          n.servedTargets.map((t) => `${t.iqn} (LUNs ${t.luns.join(',') || 'none'})`).join('\n') || 'none',
        ],
      ]),
  );
  return node;
}
