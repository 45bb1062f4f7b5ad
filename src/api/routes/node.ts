// The node itself: identity, versions, addresses; and a health probe.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

export const nodeRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  app.get(
    '/api/v1/health',
    {
      schema: { tags: ['node'], summary: 'Liveness probe (no credentials)', security: [] },
      config: { public: true },
    },
    () => ({
      status: 'ok',
    }),
  );
  app.get(
    '/api/v1/node',
    { schema: { tags: ['node'], summary: 'This node: identity, addresses, what it serves' } },
    () => ({
      ...ctx.node(),
      servedTargets: ctx.catalog.served().map((t) => ({ iqn: t.iqn, luns: t.luns.map((l) => l.lun) })),
    }),
  );
  app.get('/metrics', { schema: { hide: true }, config: { public: true } }, async (_request, reply) => {
    const body = await ctx.metrics.metrics();
    return reply.type(ctx.metrics.contentType).send(body);
  });
  done();
};
