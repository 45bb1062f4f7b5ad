// NAS resources: shares (with their data replication access), NAS snapshots per NAS volume, the NAS
// settings, and the data replication agent (status, and browsing the shares another agent offers).
// The routes check the shape of every request; the NAS service checks the meaning.
import { Type, type FastifyPluginCallbackTypebox, type TSchema } from '@fastify/type-provider-typebox';
import { browseAgent } from '../../datarep/browse.js';
import { validateHost } from '../../datarep/destination.js';
import { TandemError } from '../../lib/errors.js';
import type { NasService } from '../../nas/nas-service.js';
import type { ApiContext } from '../context.js';
import { Name } from '../schemas.js';

const TAGS = ['nas'];
const closed = { additionalProperties: false } as const;
const optionalBody = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const ShareParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) });
const VolumeParams = Type.Object({ volume: Name });
const SnapshotParams = Type.Object({ volume: Name, name: Type.String({ minLength: 1, maxLength: 256 }) });
const Comment = Type.String({ maxLength: 255, description: 'one line, shown when the agent is browsed' });

const CreateShareBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256, description: 'letters, digits, "_", "-", "."' }),
    volume: Name,
    path: Type.Optional(
      Type.String({
        maxLength: 1024,
        description: 'directory inside the volume (default: the share name; "." for the volume root)',
      }),
    ),
    comment: Type.Optional(Comment),
  },
  closed,
);
const UpdateShareBody = Type.Object({ comment: Type.Optional(Comment) }, closed);
const ReplicationBody = Type.Object(
  {
    enabled: Type.Boolean({ description: 'serve this share as a data replication destination' }),
    id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'the rsync user of the agent' }),
    ),
    password: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'stored 0600, never returned' }),
    ),
  },
  closed,
);
const SnapshotBody = optionalBody(
  Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, closed),
);
const SettingsBody = Type.Object(
  {
    localBackup: Type.Optional(
      Type.Boolean({ description: 'let data replication tasks run from this node' }),
    ),
    agent: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          address: Type.Optional(
            Type.String({ minLength: 1, maxLength: 64, description: 'IP address to bind' }),
          ),
          allowedHosts: Type.Optional(
            Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
              maxItems: 64,
              description: 'addresses, address/prefix or host name patterns; empty: any host',
            }),
          ),
          maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        closed,
      ),
    ),
  },
  closed,
);
const BrowseQuery = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 873 })),
  },
  closed,
);

export const nasRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  const nas = (): NasService => {
    if (ctx.nas === undefined)
      throw new TandemError('unavailable', 'nas-not-running', 'the NAS service is not running');
    return ctx.nas;
  };

  app.get('/api/v1/nas/shares', { schema: { tags: TAGS, summary: 'List shares' } }, () => nas().shares());
  app.get(
    '/api/v1/nas/shares/:name',
    { schema: { tags: TAGS, summary: 'One share', params: ShareParams } },
    (request) => nas().share(request.params.name),
  );
  app.post(
    '/api/v1/nas/shares',
    { schema: { tags: TAGS, summary: 'Create a share on a NAS volume', body: CreateShareBody } },
    async (request, reply) => reply.status(201).send(await nas().createShare(request.body)),
  );
  app.patch(
    '/api/v1/nas/shares/:name',
    {
      schema: { tags: TAGS, summary: "Change a share's comment", params: ShareParams, body: UpdateShareBody },
    },
    (request) => nas().updateShare(request.params.name, request.body),
  );
  app.delete(
    '/api/v1/nas/shares/:name',
    { schema: { tags: TAGS, summary: 'Delete a share (its files stay in the volume)', params: ShareParams } },
    async (request, reply) => {
      await nas().deleteShare(request.params.name);
      return reply.status(204).send();
    },
  );
  app.put(
    '/api/v1/nas/shares/:name/data-replication',
    {
      schema: {
        tags: TAGS,
        summary: "Set a share's data replication access (ID and password for the agent)",
        params: ShareParams,
        body: ReplicationBody,
      },
    },
    (request) => nas().setShareReplication(request.params.name, request.body),
  );

  app.get(
    '/api/v1/nas/volumes/:volume/snapshots',
    {
      schema: {
        tags: TAGS,
        summary: "A NAS volume's snapshots, their mode and cost, and its snapshot reserve",
        params: VolumeParams,
      },
    },
    (request) => nas().volumeSnapshots(request.params.volume),
  );
  app.post(
    '/api/v1/nas/volumes/:volume/snapshots',
    {
      schema: {
        tags: TAGS,
        summary: 'Freeze a NAS volume now (btrfs, reflink or full copy, as its filesystem allows)',
        params: VolumeParams,
        body: SnapshotBody,
      },
    },
    async (request, reply) => {
      const name = request.body?.name;
      const snapshot = await nas().createSnapshot(request.params.volume, name === undefined ? {} : { name });
      return reply.status(201).send(snapshot);
    },
  );
  app.delete(
    '/api/v1/nas/volumes/:volume/snapshots/:name',
    { schema: { tags: TAGS, summary: 'Delete a NAS snapshot', params: SnapshotParams } },
    async (request, reply) => {
      await nas().deleteSnapshot(request.params.volume, request.params.name);
      return reply.status(204).send();
    },
  );

  app.get('/api/v1/nas/settings', { schema: { tags: TAGS, summary: 'NAS settings' } }, () =>
    nas().settings(),
  );
  app.patch(
    '/api/v1/nas/settings',
    { schema: { tags: TAGS, summary: 'Change NAS settings (local backup, the agent)', body: SettingsBody } },
    (request) => nas().updateSettings(request.body),
  );

  app.get(
    '/api/v1/nas/agent',
    { schema: { tags: TAGS, summary: "The data replication agent's state" } },
    () => nas().agentStatus(),
  );
  app.get(
    '/api/v1/nas/agent/browse',
    {
      schema: {
        tags: TAGS,
        summary: 'The shares a data replication agent (ours or any rsync daemon) offers',
        querystring: BrowseQuery,
      },
    },
    (request) => browseAgent({ host: validateHost(request.query.host), port: request.query.port ?? 873 }),
  );
  done();
};
