// The iSCSI target manager: targets, LUNs, CHAP users, initiator allow lists, start/stop.
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';

const Iqn = Type.String({ minLength: 1, maxLength: 223, description: 'iqn., eui. or naa. name' });
const TargetParams = Type.Object({ iqn: Iqn });
const LunNumber = Type.Integer({ minimum: 0, maximum: 255 });
const Direction = Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')], {
  description: 'incoming: the initiator authenticates; outgoing: the target authenticates too (mutual)',
});
const LunBody = Type.Object(
  {
    lun: LunNumber,
    volume: Type.String({ minLength: 1, maxLength: 64 }),
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'SCSI ID (unit serial)' })),
    naa: Type.Optional(Type.String({ minLength: 16, maxLength: 36 })),
    readOnly: Type.Optional(Type.Boolean()),
    writeBack: Type.Optional(Type.Boolean({ description: 'write-back cache; off means write-through' })),
  },
  { additionalProperties: false },
);
const ChapBody = Type.Object(
  {
    direction: Direction,
    username: Type.String({ minLength: 1, maxLength: 255 }),
    secret: Type.String({ minLength: 1, maxLength: 255 }),
  },
  { additionalProperties: false },
);

export const targetRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  app.get('/api/v1/targets', { schema: { tags: ['targets'], summary: 'List iSCSI targets' } }, () =>
    ctx.targets.list(),
  );
  app.get('/api/v1/targets/:iqn', { schema: { tags: ['targets'], params: TargetParams } }, (request) =>
    ctx.targets.show(request.params.iqn),
  );
  app.post(
    '/api/v1/targets',
    {
      schema: {
        tags: ['targets'],
        summary: 'Create a target (IQN generated when not given)',
        body: Type.Object(
          {
            iqn: Type.Optional(Iqn),
            alias: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
            enabled: Type.Optional(Type.Boolean()),
            luns: Type.Optional(Type.Array(LunBody, { maxItems: 256 })),
            chapUsers: Type.Optional(Type.Array(ChapBody, { maxItems: 64 })),
            allowedInitiators: Type.Optional(Type.Array(Iqn, { maxItems: 1024 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    (request, reply) => reply.status(201).send(ctx.targets.create(request.body)),
  );
  app.patch(
    '/api/v1/targets/:iqn',
    {
      schema: {
        tags: ['targets'],
        params: TargetParams,
        body: Type.Object(
          {
            alias: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    (request) => ctx.targets.update(request.params.iqn, request.body),
  );
  app.post('/api/v1/targets/:iqn/start', { schema: { tags: ['targets'], params: TargetParams } }, (request) =>
    ctx.targets.update(request.params.iqn, { enabled: true }),
  );
  app.post('/api/v1/targets/:iqn/stop', { schema: { tags: ['targets'], params: TargetParams } }, (request) =>
    ctx.targets.update(request.params.iqn, { enabled: false }),
  );
  app.delete(
    '/api/v1/targets/:iqn',
    { schema: { tags: ['targets'], params: TargetParams } },
    (request, reply) => {
      ctx.targets.delete(request.params.iqn);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/targets/:iqn/luns',
    { schema: { tags: ['targets'], summary: 'Map a volume as a LUN', params: TargetParams, body: LunBody } },
    (request, reply) => reply.status(201).send(ctx.targets.addLun(request.params.iqn, request.body)),
  );
  app.patch(
    '/api/v1/targets/:iqn/luns/:lun',
    {
      schema: {
        tags: ['targets'],
        params: Type.Object({ iqn: Iqn, lun: LunNumber }),
        body: Type.Object(
          {
            serial: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
            naa: Type.Optional(Type.String({ minLength: 16, maxLength: 36 })),
            readOnly: Type.Optional(Type.Boolean()),
            writeBack: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    (request) => ctx.targets.updateLun(request.params.iqn, request.params.lun, request.body),
  );
  app.delete(
    '/api/v1/targets/:iqn/luns/:lun',
    { schema: { tags: ['targets'], params: Type.Object({ iqn: Iqn, lun: LunNumber }) } },
    (request) => ctx.targets.removeLun(request.params.iqn, request.params.lun),
  );

  app.post(
    '/api/v1/targets/:iqn/chap-users',
    { schema: { tags: ['targets'], summary: 'Add a CHAP user', params: TargetParams, body: ChapBody } },
    (request, reply) => reply.status(201).send(ctx.targets.addChapUser(request.params.iqn, request.body)),
  );
  app.delete(
    '/api/v1/targets/:iqn/chap-users/:direction/:username',
    {
      schema: {
        tags: ['targets'],
        params: Type.Object({
          iqn: Iqn,
          direction: Direction,
          username: Type.String({ minLength: 1, maxLength: 255 }),
        }),
      },
    },
    (request) =>
      ctx.targets.removeChapUser(request.params.iqn, request.params.direction, request.params.username),
  );

  app.post(
    '/api/v1/targets/:iqn/initiators',
    {
      schema: {
        tags: ['targets'],
        summary: 'Allow an initiator (an empty list allows all)',
        params: TargetParams,
        body: Type.Object({ name: Iqn }, { additionalProperties: false }),
      },
    },
    (request, reply) =>
      reply.status(201).send(ctx.targets.allowInitiator(request.params.iqn, request.body.name)),
  );
  app.delete(
    '/api/v1/targets/:iqn/initiators/:name',
    { schema: { tags: ['targets'], params: Type.Object({ iqn: Iqn, name: Iqn }) } },
    (request) => ctx.targets.disallowInitiator(request.params.iqn, request.params.name),
  );
  done();
};
