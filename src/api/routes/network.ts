// Network setup: NICs with their addresses and roles (iSCSI data, auxiliary/heartbeat, none), and the
// virtual IP on the data NIC that the active node of a failover pair holds.
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

const TAGS = ['network'];
const closed = { additionalProperties: false } as const;

const NicParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 15, description: 'NIC name' }),
});
const RoleBody = Type.Object(
  {
    role: Type.Union([Type.Literal('data'), Type.Literal('aux'), Type.Literal('none')], {
      description:
        'data: iSCSI data, carries the virtual IP (one NIC); aux: auxiliary connection (heartbeat); none',
    }),
  },
  closed,
);
const VirtualIpBody = Type.Object(
  {
    address: Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 address' }),
    prefixLength: Type.Integer({ minimum: 0, maximum: 32, description: 'e.g. 24 for 255.255.255.0' }),
    broadcast: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'computed from address/prefix when left out' }),
    ),
    nic: Type.String({ minLength: 1, maxLength: 15, description: 'the data NIC' }),
    driver: Type.Union([Type.Literal('iproute2'), Type.Literal('loopback')], {
      description: 'iproute2: a real address (ip addr, arping); loopback: 127.0.0.0/8, one-machine demo',
    }),
  },
  closed,
);

export const networkRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  app.get(
    '/api/v1/network',
    {
      schema: {
        tags: TAGS,
        summary: 'NICs with roles and addresses; the virtual IP and whether this node holds it',
      },
    },
    () => ctx.network.overview(),
  );
  app.get(
    '/api/v1/network/nics/:name',
    { schema: { tags: TAGS, summary: 'One NIC with its role and addresses', params: NicParams } },
    (request) => ctx.network.nic(request.params.name),
  );
  app.put(
    '/api/v1/network/nics/:name',
    { schema: { tags: TAGS, summary: "Set a NIC's role", params: NicParams, body: RoleBody } },
    (request) => ctx.network.setRole(request.params.name, request.body.role),
  );
  app.get(
    '/api/v1/network/virtual-ip',
    { schema: { tags: TAGS, summary: 'The virtual IP (null when none is configured)' } },
    () => ctx.network.virtualIpView(),
  );
  app.put(
    '/api/v1/network/virtual-ip',
    { schema: { tags: TAGS, summary: 'Configure the virtual IP on the data NIC', body: VirtualIpBody } },
    (request) => ctx.network.setVirtualIp(request.body),
  );
  app.delete(
    '/api/v1/network/virtual-ip',
    { schema: { tags: TAGS, summary: 'Remove the virtual IP setting (refused while this node holds it)' } },
    async (_request, reply) => {
      await ctx.network.clearVirtualIp();
      return reply.status(204).send();
    },
  );
  done();
};
