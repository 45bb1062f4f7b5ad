// Puts the API app on the network: a TCP listener for people and peers, and a unix socket in the data
// dir for local tools. Connections on the unix socket are marked trusted for ApiAuth.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { HostPort } from '../lib/host-port.js';
import type { ApiAuth } from './auth.js';

export interface ApiServers {
  /** The TCP address actually bound (the port is known even when 0 was asked for). */
  readonly tcp: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

export async function startApiServers(
  app: FastifyInstance,
  auth: ApiAuth,
  options: { tcp: HostPort; socketPath: string },
): Promise<ApiServers> {
  await app.listen({ host: options.tcp.host, port: options.tcp.port });
  const address = app.server.address() as AddressInfo;

  // A socket file left by a daemon that was killed is stale: we hold the store lock, so nobody else
  // is serving this data dir.
  rmSync(options.socketPath, { force: true });
  const local: Server = createServer((request, response) => app.routing(request, response));
  local.on('connection', (socket) => auth.trustedSockets.add(socket));
  await new Promise<void>((resolve, reject) => {
    local.once('error', reject);
    local.listen(options.socketPath, () => resolve());
  });
  chmodSync(options.socketPath, 0o600);

  return {
    tcp: { host: address.address, port: address.port },
    async close() {
      await new Promise<void>((resolve) => {
        local.close(() => resolve());
        local.closeAllConnections();
      });
      await app.close();
      rmSync(options.socketPath, { force: true });
    },
  };
}
