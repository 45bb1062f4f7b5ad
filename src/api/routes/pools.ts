// Pools of the volume manager.
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { Name, Size, toBytes } from '../schemas.js';

const PoolParams = Type.Object({ name: Name });

export const poolRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  app.get(
    '/api/v1/pools',
    { schema: { tags: ['pools'], summary: 'List pools with capacity and reserved areas' } },
    () => ctx.pools.list(),
  );
  app.get('/api/v1/pools/:name', { schema: { tags: ['pools'], params: PoolParams } }, (request) =>
    ctx.pools.show(request.params.name),
  );
  app.post(
    '/api/v1/pools',
    {
      schema: {
        tags: ['pools'],
        summary: 'Create a pool on a directory',
        body: Type.Object(
          {
            name: Name,
            path: Type.String({ minLength: 1, maxLength: 4096, description: 'absolute directory path' }),
            capacity: Type.Optional(Size),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { name, path, capacity } = request.body;
      const pool = await ctx.pools.create({
        name,
        path,
        capacityLimit: capacity === undefined ? null : toBytes(capacity),
      });
      return reply.status(201).send(pool);
    },
  );
  app.patch(
    '/api/v1/pools/:name',
    {
      schema: {
        tags: ['pools'],
        summary: 'Change the capacity limit (null: the whole filesystem)',
        params: PoolParams,
        body: Type.Object({ capacity: Type.Union([Size, Type.Null()]) }, { additionalProperties: false }),
      },
    },
    (request) => {
      const { capacity } = request.body;
      return ctx.pools.setCapacity(request.params.name, capacity === null ? null : toBytes(capacity));
    },
  );
  app.delete(
    '/api/v1/pools/:name',
    { schema: { tags: ['pools'], params: PoolParams } },
    async (request, reply) => {
      await ctx.pools.delete(request.params.name);
      return reply.status(204).send();
    },
  );
  done();
};
