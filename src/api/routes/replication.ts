// Volume replication: the node's pairing with its peer, each volume's replication mode, and the
// replication tasks (create, start/stop, verify, promote/demote, split-brain recovery). The routes
// check the shape of every request and hand it to the replication service (ReplicationControl).
import { Type, type FastifyPluginCallbackTypebox, type TSchema } from '@fastify/type-provider-typebox';
import { TandemError, invalid, notFound } from '../../lib/errors.js';
import { formatHostPort, parseHostPort } from '../../lib/host-port.js';
import { NAME_MAX_LENGTH, validateName } from '../../lib/names.js';
import type { PairingView, ReplicationControl } from '../../replication/control.js';
import type { ApiContext } from '../context.js';
import { Name, Size, toBytes } from '../schemas.js';

const TAGS = ['replication'];

/** The destination's view of a source task is named after it with this suffix. */
export const REVERSE_TASK_SUFFIX = '_reverse';

export const SECRET_MIN_BYTES = 16;
export const SECRET_MAX_BYTES = 256;

const TaskName = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_LENGTH + REVERSE_TASK_SUFFIX.length,
  description: `a name (letters, digits, "_", "-", "."), or a name + "${REVERSE_TASK_SUFFIX}"`,
});
const VolumeParams = Type.Object({ name: Name });
const TaskParams = Type.Object({ name: TaskName });
const Mode = Type.Union([Type.Literal('source'), Type.Literal('destination')]);
const RateMode = Type.Union([Type.Literal('dynamic'), Type.Literal('fixed')], {
  description: 'fixed: resync at bytesPerSecond; dynamic: adapt to application I/O, at most bytesPerSecond',
});
const closed = { additionalProperties: false } as const;
/** A body that may be left out altogether (curl -X POST without data), or else is closed. */
const optionalBody = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const PairBody = Type.Object(
  {
    peerName: Name,
    secret: Type.String({
      minLength: SECRET_MIN_BYTES,
      maxLength: SECRET_MAX_BYTES,
      description: `the pair's shared secret, ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes; never returned`,
    }),
    tls: Type.Optional(Type.Boolean({ description: 'TLS on the replication link' })),
    peerFingerprint: Type.Optional(
      Type.String({
        pattern: '^[0-9a-fA-F]{64}$',
        description: "SHA-256 of the peer's TLS certificate, hex",
      }),
    ),
  },
  closed,
);
const VolumeSettingsBody = Type.Object(
  {
    mode: Mode,
    mirrorServer: Type.String({ minLength: 1, maxLength: 64, description: "the peer's replication address" }),
    clearMetadata: Type.Optional(
      Type.Boolean({ description: 'forget the replication history: the next sync is a full one' }),
    ),
  },
  closed,
);
const CreateTaskBody = Type.Object(
  {
    name: Name,
    volume: Name,
    remoteVolume: Name,
    rate: Type.Optional(Type.Object({ mode: RateMode, bytesPerSecond: Size }, closed)),
  },
  closed,
);
const PromoteBody = optionalBody(
  Type.Object(
    { force: Type.Optional(Type.Boolean({ description: 'promote a volume that is not up to date' })) },
    closed,
  ),
);
const ResolveBody = Type.Object(
  {
    discard: Type.Union([Type.Literal('local'), Type.Literal('peer')], { description: 'as seen from here' }),
  },
  closed,
);
const NoBody = optionalBody(Type.Object({}, closed));

/** Task names are object names; the destination's own tasks carry the reverse suffix on top. */
export function validateTaskName(name: string): string {
  const base =
    name.endsWith(REVERSE_TASK_SUFFIX) && name.length > REVERSE_TASK_SUFFIX.length
      ? name.slice(0, -REVERSE_TASK_SUFFIX.length)
      : name;
  validateName('replication task', base);
  return name;
}

/** The peer must be named in full: host and a port from 1 to 65535. Returns the canonical form. */
export function parseMirrorServer(text: string): string {
  if (/^:?\d*$/.test(text)) {
    throw invalid(
      'bad-address',
      `mirror server "${text}" has no host; write HOST:PORT, e.g. 192.0.2.20:7788`,
    );
  }
  const address = parseHostPort(text, '');
  if (address.port === 0)
    throw invalid('bad-address', `mirror server "${text}" needs a port from 1 to 65535`);
  return formatHostPort(address);
}

function checkSecret(secret: string): void {
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < SECRET_MIN_BYTES || bytes > SECRET_MAX_BYTES) {
    throw invalid('bad-secret', `the shared secret must be ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes`);
  }
}

function rateBytes(rate: number | string): number {
  const bytes = toBytes(rate);
  if (bytes < 1) throw invalid('bad-rate', 'the resync rate must be at least 1 byte per second');
  return bytes;
}

/** Only the fields of the contract, so nothing secret can slip into an answer. */
function publicPairing(view: PairingView): PairingView {
  return {
    nodeName: view.nodeName,
    listen: view.listen,
    peerName: view.peerName,
    paired: view.paired,
    tls: view.tls,
    fingerprint: view.fingerprint,
    peerFingerprint: view.peerFingerprint,
  };
}

export const replicationRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  // The daemon may run without the replication service (not configured, or failed to start).
  const service = (): ReplicationControl => {
    if (ctx.replication === undefined) {
      throw new TandemError('unavailable', 'replication-not-running', 'volume replication is not running');
    }
    return ctx.replication;
  };

  app.get(
    '/api/v1/replication/pairing',
    { schema: { tags: TAGS, summary: "This node's pairing with its replication peer" } },
    () => publicPairing(service().pairing()),
  );
  app.put(
    '/api/v1/replication/pairing',
    { schema: { tags: TAGS, summary: 'Pair with the peer node (replaces any pairing)', body: PairBody } },
    async (request) => {
      const { peerName, secret, tls, peerFingerprint } = request.body;
      validateName('peer node', peerName);
      checkSecret(secret);
      const view = await service().pair({
        peerName,
        secret,
        ...(tls === undefined ? {} : { tls }),
        ...(peerFingerprint === undefined ? {} : { peerFingerprint: peerFingerprint.toLowerCase() }),
      });
      return publicPairing(view);
    },
  );
  app.delete(
    '/api/v1/replication/pairing',
    { schema: { tags: TAGS, summary: 'Forget the peer and the shared secret' } },
    async (_request, reply) => {
      await service().unpair();
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/volumes/:name/replication',
    {
      schema: { tags: TAGS, summary: "A volume's replication mode and mirror server", params: VolumeParams },
    },
    (request) => {
      const name = validateName('volume', request.params.name);
      const settings = service().volumeSettings(name);
      if (settings === null) {
        throw notFound(
          'volume-not-replicated',
          `volume ${name} has no replication settings; set its mode and mirror server first`,
        );
      }
      return settings;
    },
  );
  app.put(
    '/api/v1/volumes/:name/replication',
    {
      schema: {
        tags: TAGS,
        summary: "Set a volume's replication mode and mirror server",
        params: VolumeParams,
        body: VolumeSettingsBody,
      },
    },
    (request) => {
      const name = validateName('volume', request.params.name);
      const { mode, mirrorServer, clearMetadata } = request.body;
      return service().setVolumeSettings(name, {
        mode,
        mirrorServer: parseMirrorServer(mirrorServer),
        ...(clearMetadata === undefined ? {} : { clearMetadata }),
      });
    },
  );

  app.get(
    '/api/v1/replication/destinations',
    { schema: { tags: TAGS, summary: "The peer's destination volumes, to pick one for a task" } },
    () => service().browseDestinations(),
  );

  app.get('/api/v1/replication/tasks', { schema: { tags: TAGS, summary: 'List replication tasks' } }, () =>
    service().tasks(),
  );
  app.get(
    '/api/v1/replication/tasks/:name',
    { schema: { tags: TAGS, summary: "A replication task's status", params: TaskParams } },
    (request) => service().task(validateTaskName(request.params.name)),
  );
  app.post(
    '/api/v1/replication/tasks',
    { schema: { tags: TAGS, summary: 'Create a replication task (source side)', body: CreateTaskBody } },
    async (request, reply) => {
      const { name, volume, remoteVolume, rate } = request.body;
      validateName('replication task', name);
      if (name.endsWith(REVERSE_TASK_SUFFIX)) {
        throw invalid(
          'reserved-task-name',
          `task names ending in ${REVERSE_TASK_SUFFIX} name the destination's view of a task; choose another name`,
        );
      }
      validateName('volume', volume);
      validateName('remote volume', remoteVolume);
      const task = await service().createTask({
        name,
        volume,
        remoteVolume,
        ...(rate === undefined
          ? {}
          : { rate: { mode: rate.mode, bytesPerSecond: rateBytes(rate.bytesPerSecond) } }),
      });
      return reply.status(201).send(task);
    },
  );
  app.delete(
    '/api/v1/replication/tasks/:name',
    { schema: { tags: TAGS, summary: 'Delete a replication task', params: TaskParams } },
    async (request, reply) => {
      await service().deleteTask(validateTaskName(request.params.name));
      return reply.status(204).send();
    },
  );

  const actions = {
    start: ['Start a task: connect, then sync', (s, name) => s.startTask(name)],
    stop: ['Stop a task: disconnect and stand alone', (s, name) => s.stopTask(name)],
    verify: ['Online verify: compare checksums with the peer', (s, name) => s.verify(name)],
    demote: ['Make this side secondary', (s, name) => s.demote(name)],
  } as const satisfies Record<
    string,
    readonly [string, (s: ReplicationControl, name: string) => Promise<unknown>]
  >;
  for (const [action, [summary, run]] of Object.entries(actions)) {
    app.post(
      `/api/v1/replication/tasks/:name/${action}`,
      { schema: { tags: TAGS, summary, params: TaskParams, body: NoBody } },
      (request) => run(service(), validateTaskName(request.params.name)),
    );
  }
  app.post(
    '/api/v1/replication/tasks/:name/promote',
    {
      schema: {
        tags: TAGS,
        summary: 'Make this side primary (only an up-to-date volume, unless forced)',
        params: TaskParams,
        body: PromoteBody,
      },
    },
    (request) => service().promote(validateTaskName(request.params.name), request.body?.force === true),
  );
  app.post(
    '/api/v1/replication/tasks/:name/resolve-split-brain',
    {
      schema: {
        tags: TAGS,
        summary: "Recover from split brain: discard one side's changes (a copy is kept)",
        params: TaskParams,
        body: ResolveBody,
      },
    },
    (request) => service().resolveSplitBrain(validateTaskName(request.params.name), request.body.discard),
  );
  done();
};
