// `tandem serve`: runs this node's daemon in the foreground until SIGTERM or SIGINT.
import { Command } from 'commander';
import { parseHostPort } from '../../lib/host-port.js';
import { startNode } from '../../daemon/node.js';
import { createLogger } from '../../observability/logger.js';
import { DEFAULT_DATA_DIR } from '../client.js';

const SHUTDOWN_LIMIT_MS = 10_000;

export function serveCommand(): Command {
  return new Command('serve')
    .description('run this node: REST API and GUI, iSCSI portal, replication and failover services')
    .option(
      '--data <dir>',
      'data directory (store, default pool, API socket)',
      process.env.TANDEM_DATA ?? DEFAULT_DATA_DIR,
    )
    .option('--api <host:port>', 'where the REST API and GUI listen', '127.0.0.1:8080')
    .option('--iscsi <host:port>', 'where the iSCSI portal listens', '0.0.0.0:3260')
    .option('--replication <host:port>', 'where volume replication listens for its peer', '0.0.0.0:7788')
    .option('--node-name <name>', "this node's name towards its replication peer (default: the host name)")
    .action(
      async (options: {
        data: string;
        api: string;
        iscsi: string;
        replication: string;
        nodeName?: string;
      }) => {
        const api = parseHostPort(options.api, '127.0.0.1');
        const iscsi = parseHostPort(options.iscsi, '0.0.0.0');
        const replication = parseHostPort(options.replication, '0.0.0.0');
        const logger = createLogger();
        const node = await startNode({
          dataDir: options.data,
          api,
          iscsi,
          replication,
          ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName }),
          adminPassword: process.env.TANDEM_ADMIN_PASSWORD,
          logger,
        });
        if (node.generatedAdminPassword !== null) {
          process.stdout.write(
            `\nTandem admin account created.\n  user:     admin\n  password: ${node.generatedAdminPassword}\n` +
              `  (shown once; also saved in ${node.paths.adminPasswordFile}, mode 0600)\n\n`,
          );
        }
        const shutdown = (signal: string): void => {
          logger.info({ signal }, 'shutdown requested');
          const timer = setTimeout(() => {
            logger.error('shutdown took too long; exiting');
            process.exit(1);
          }, SHUTDOWN_LIMIT_MS);
          timer.unref();
          node.stop().then(
            () => process.exit(0),
            (error: unknown) => {
              logger.error({ err: error }, 'shutdown failed');
              process.exit(1);
            },
          );
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
        // Announced last: whoever waits for this line can signal, call the API and read the banner.
        logger.info(
          {
            api: `http://${node.info.api}`,
            iscsiPortal: node.info.iscsiPortal,
            socket: node.paths.socket,
            version: node.info.version,
            replication: node.info.replication,
          },
          'node ready',
        );
      },
    );
}
