// Logical volumes of the volume manager.
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { parseSnapshotReserve } from '../../volumes/reserved-space.js';
import type { ApiContext } from '../context.js';
import { ForceQuery, Name, Size, toBytes } from '../schemas.js';

const VolumeParams = Type.Object({ name: Name });
const VolumeType = Type.Union([Type.Literal('iscsi'), Type.Literal('nas'), Type.Literal('fc')]);
const IoType = Type.Union([Type.Literal('block'), Type.Literal('file')]);
const SnapshotReserve = Type.String({
  minLength: 1,
  maxLength: 32,
  description: 'a size (1GiB) or a share (10%)',
});

export const volumeRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  app.get('/api/v1/volumes', { schema: { tags: ['volumes'], summary: 'List logical volumes' } }, () =>
    ctx.volumes.list(),
  );
  app.get('/api/v1/volumes/:name', { schema: { tags: ['volumes'], params: VolumeParams } }, (request) =>
    ctx.volumes.show(request.params.name),
  );
  app.post(
    '/api/v1/volumes',
    {
      schema: {
        tags: ['volumes'],
        summary: 'Create a logical volume',
        body: Type.Object(
          {
            name: Name,
            type: VolumeType,
            size: Size,
            pool: Type.Optional(Name),
            provisioning: Type.Optional(Type.Union([Type.Literal('thin'), Type.Literal('thick')])),
            replication: Type.Optional(Type.Boolean({ description: 'use volume replication' })),
            ioType: Type.Optional(IoType),
            worm: Type.Optional(Type.Boolean()),
            snapshotReserve: Type.Optional(SnapshotReserve),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { size, snapshotReserve, ...rest } = request.body;
      const bytes = toBytes(size);
      const volume = await ctx.volumes.create({
        ...rest,
        size: bytes,
        snapshotReserve: snapshotReserve === undefined ? 0 : parseSnapshotReserve(snapshotReserve, bytes),
      });
      return reply.status(201).send(volume);
    },
  );
  app.patch(
    '/api/v1/volumes/:name',
    {
      schema: {
        tags: ['volumes'],
        summary: 'Change volume attributes',
        params: VolumeParams,
        body: Type.Object(
          {
            replication: Type.Optional(Type.Boolean()),
            ioType: Type.Optional(IoType),
            worm: Type.Optional(Type.Boolean()),
            snapshotReserve: Type.Optional(SnapshotReserve),
          },
          { additionalProperties: false },
        ),
      },
    },
    (request) => {
      const { snapshotReserve, ...rest } = request.body;
      const volume = ctx.volumes.get(request.params.name);
      return ctx.volumes.update(request.params.name, {
        ...rest,
        ...(snapshotReserve === undefined
          ? {}
          : { snapshotReserve: parseSnapshotReserve(snapshotReserve, volume.size) }),
      });
    },
  );
  app.post(
    '/api/v1/volumes/:name/expand',
    {
      schema: {
        tags: ['volumes'],
        summary: 'Grow a volume to a new size',
        params: VolumeParams,
        body: Type.Object({ size: Size }, { additionalProperties: false }),
      },
    },
    (request) => ctx.volumes.expand(request.params.name, toBytes(request.body.size)),
  );
  app.delete(
    '/api/v1/volumes/:name',
    { schema: { tags: ['volumes'], params: VolumeParams, querystring: ForceQuery } },
    async (request, reply) => {
      await ctx.volumes.delete(request.params.name, { force: request.query.force === true });
      return reply.status(204).send();
    },
  );
  done();
};
