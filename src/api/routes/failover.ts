// iSCSI failover: the node's failover settings, the preflight, and the failover manager's commands
// (Start, Stop, Manual failover, Sync volume, Failback). The routes check the shape of every request
// and hand it to the failover service (FailoverControl).
import { Type, type FastifyPluginCallbackTypebox, type TSchema } from '@fastify/type-provider-typebox';
import { TandemError } from '../../lib/errors.js';
import type { FailoverControl } from '../../ha/control.js';
import type { ApiContext } from '../context.js';
import { Name } from '../schemas.js';

const TAGS = ['failover'];
const closed = { additionalProperties: false } as const;
const optionalBody = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Endpoint = (what: string) =>
  Type.String({
    maxLength: 64,
    description: `${what}: IPv4 address with an optional :port (default 7790); "" clears it`,
  });

const ConfigBody = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    dataLocal: Type.Optional(Endpoint("this node's heartbeat address on the data link")),
    dataPeer: Type.Optional(Endpoint("the peer's heartbeat address on the data link")),
    auxLocal: Type.Optional(Endpoint("this node's heartbeat address on the auxiliary link")),
    auxPeer: Type.Optional(Endpoint("the peer's heartbeat address on the auxiliary link")),
    pingNodes: Type.Optional(
      Type.Array(Type.String({ maxLength: 15 }), {
        maxItems: 8,
        description: 'IPv4 addresses of ping nodes',
      }),
    ),
    tasks: Type.Optional(
      Type.Array(Name, {
        maxItems: 64,
        description: 'volume replication tasks (source names) that fail over',
      }),
    ),
    intervalMs: Type.Optional(
      Type.Integer({ description: 'heartbeat interval, 100..10000 ms (default 500)' }),
    ),
    portalPort: Type.Optional(
      Type.Integer({
        description: 'iSCSI port served on the virtual IP, the same on both nodes (default 3260)',
      }),
    ),
    deadTimeMs: Type.Optional(
      Type.Integer({ description: 'silence after which a link is dead, ≥ 3 intervals (default 2500)' }),
    ),
    witness: Type.Optional(
      Type.Array(Type.String({ maxLength: 200 }), {
        maxItems: 5,
        description:
          'etcd client URLs of the witness (the third vote), e.g. http://198.18.0.4:2379; [] for ping-node mode',
      }),
    ),
  },
  closed,
);
const StartBody = optionalBody(
  Type.Object(
    { force: Type.Optional(Type.Boolean({ description: 'start even though preflight checks fail' })) },
    closed,
  ),
);
const NoBody = optionalBody(Type.Object({}, closed));

export const failoverRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  const service = (): FailoverControl => {
    if (ctx.failover === undefined) {
      throw new TandemError('unavailable', 'failover-not-running', 'the failover service is not running');
    }
    return ctx.failover;
  };

  app.get('/api/v1/failover', { schema: { tags: TAGS, summary: 'Failover status of this node' } }, () =>
    service().status(),
  );
  app.get('/api/v1/failover/config', { schema: { tags: TAGS, summary: 'Failover settings' } }, () =>
    service().config(),
  );
  app.put(
    '/api/v1/failover/config',
    { schema: { tags: TAGS, summary: 'Change failover settings (fields left out stay)', body: ConfigBody } },
    (request) => service().configure(request.body),
  );
  app.post(
    '/api/v1/failover/preflight',
    { schema: { tags: TAGS, summary: 'Run the checks that Start runs', body: NoBody } },
    async () => ({ checks: await service().preflight() }),
  );
  app.post(
    '/api/v1/failover/start',
    { schema: { tags: TAGS, summary: 'Start failover on this node (it becomes active)', body: StartBody } },
    (request) => service().start({ force: request.body?.force === true }),
  );
  app.post(
    '/api/v1/failover/stop',
    {
      schema: {
        tags: TAGS,
        summary: 'Stop failover on both nodes (the service stays where it is)',
        body: NoBody,
      },
    },
    () => service().stop(),
  );
  app.post(
    '/api/v1/failover/manual-failover',
    { schema: { tags: TAGS, summary: 'Hand the active role to the peer', body: NoBody } },
    () => service().manualFailover(),
  );
  app.post(
    '/api/v1/failover/sync-volume',
    { schema: { tags: TAGS, summary: 'Let the returning node reconnect and resync', body: NoBody } },
    () => service().syncVolume(),
  );
  app.post(
    '/api/v1/failover/failback',
    {
      schema: { tags: TAGS, summary: 'Give the active role back once the peer is up to date', body: NoBody },
    },
    () => service().failback(),
  );
  done();
};
