// Data replication tasks (source side): CRUD, run now, cancel, schedules, and browse of a destination
// agent's shares. The agent password is accepted on create/update and never returned.
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { DatarepControl } from '../../datarep/datarep-service.js';
import { INTERVAL_MAX_HOURS, INTERVAL_MIN_HOURS, WEEKDAYS } from '../../datarep/schedule.js';
import { TandemError } from '../../lib/errors.js';
import { validateName } from '../../lib/names.js';
import type { ApiContext } from '../context.js';
import { Name, Size, toBytes } from '../schemas.js';

const TAGS = ['data replication'];
const BASE = '/api/v1/datarep/tasks';
const closed = { additionalProperties: false } as const;

const TaskParams = Type.Object({ name: Name });
const ScheduleParams = Type.Object({ name: Name, id: Type.Integer({ minimum: 1 }) });

const Schedule = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('interval'),
      hours: Type.Integer({
        minimum: INTERVAL_MIN_HOURS,
        maximum: INTERVAL_MAX_HOURS,
        description: 'every N hours',
      }),
    },
    closed,
  ),
  Type.Object(
    {
      kind: Type.Literal('weekly'),
      days: Type.Array(Type.Union(WEEKDAYS.map((d) => Type.Literal(d))), { minItems: 1, maxItems: 7 }),
      time: Type.String({ pattern: '^\\d{1,2}:\\d{2}$', description: "HH:MM, the node's local time" }),
    },
    closed,
  ),
]);

const Password = Type.String({
  minLength: 1,
  maxLength: 256,
  description: "the agent password (the destination share's data replication password); never returned",
});
// Null first: the API coerces types, and a null tried against the number branch first would become 0.
const BandwidthLimit = Type.Union([Type.Null(), Size], {
  description: 'bytes per second (or with a unit: 10MiB), null for no limit',
});

const taskFields = {
  sourceShare: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'the share on this node to replicate',
  }),
  destination: Type.String({
    minLength: 1,
    maxLength: 300,
    description: 'the agent: host or host:port (873)',
  }),
  destinationShare: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'a share the agent offers (browse)',
  }),
  agentId: Type.String({
    minLength: 1,
    maxLength: 64,
    description: "the destination share's data replication ID",
  }),
  password: Password,
  delete: Type.Optional(
    Type.Boolean({ description: 'delete destination files that are gone from the source' }),
  ),
  bandwidthLimit: Type.Optional(BandwidthLimit),
  compress: Type.Optional(Type.Boolean({ description: 'compress data on the wire (rsync -z)' })),
};

const CreateBody = Type.Object(
  { name: Name, ...taskFields, schedules: Type.Optional(Type.Array(Schedule, { maxItems: 32 })) },
  closed,
);
const UpdateBody = Type.Object(
  {
    sourceShare: Type.Optional(taskFields.sourceShare),
    destination: Type.Optional(taskFields.destination),
    destinationShare: Type.Optional(taskFields.destinationShare),
    agentId: Type.Optional(taskFields.agentId),
    password: Type.Optional(Password),
    delete: taskFields.delete,
    bandwidthLimit: taskFields.bandwidthLimit,
    compress: taskFields.compress,
  },
  closed,
);
const NoBody = Type.Union([Type.Object({}, closed), Type.Null()]);
const BrowseQuery = Type.Object(
  { destination: Type.String({ minLength: 1, maxLength: 300, description: 'host or host:port (873)' }) },
  closed,
);

const limitOf = (limit: number | string | null | undefined): number | null | undefined =>
  limit === undefined || limit === null ? limit : toBytes(limit);

export const datarepRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  const service = (): DatarepControl => {
    if (ctx.datarep === undefined) {
      throw new TandemError('unavailable', 'datarep-not-running', 'data replication is not running');
    }
    return ctx.datarep;
  };
  const taskName = (name: string): string => validateName('data replication task', name);

  app.get(BASE, { schema: { tags: TAGS, summary: 'List data replication tasks' } }, () => service().list());
  app.get(
    `${BASE}/:name`,
    {
      schema: {
        tags: TAGS,
        summary: 'A task: settings, schedules, the running run, the last result',
        params: TaskParams,
      },
    },
    (request) => service().show(taskName(request.params.name)),
  );
  app.post(
    BASE,
    { schema: { tags: TAGS, summary: 'Create a data replication task', body: CreateBody } },
    async (request, reply) => {
      const { bandwidthLimit, ...rest } = request.body;
      const limit = limitOf(bandwidthLimit);
      const task = service().create({ ...rest, ...(limit === undefined ? {} : { bandwidthLimit: limit }) });
      return reply.status(201).send(task);
    },
  );
  app.patch(
    `${BASE}/:name`,
    {
      schema: {
        tags: TAGS,
        summary: 'Change a task (the password only when given)',
        params: TaskParams,
        body: UpdateBody,
      },
    },
    (request) => {
      const { bandwidthLimit, ...rest } = request.body;
      const limit = limitOf(bandwidthLimit);
      return service().update(taskName(request.params.name), {
        ...rest,
        ...(limit === undefined ? {} : { bandwidthLimit: limit }),
      });
    },
  );
  app.delete(
    `${BASE}/:name`,
    { schema: { tags: TAGS, summary: 'Delete a task, its schedules and its password', params: TaskParams } },
    async (request, reply) => {
      service().delete(taskName(request.params.name));
      return reply.status(204).send();
    },
  );
  app.post(
    `${BASE}/:name/run`,
    {
      schema: { tags: TAGS, summary: 'Run a task now (409 while it runs)', params: TaskParams, body: NoBody },
    },
    async (request, reply) => reply.status(202).send(service().run(taskName(request.params.name))),
  );
  app.post(
    `${BASE}/:name/cancel`,
    { schema: { tags: TAGS, summary: 'Cancel the running run of a task', params: TaskParams, body: NoBody } },
    async (request, reply) => reply.status(202).send(service().cancel(taskName(request.params.name))),
  );
  app.post(
    `${BASE}/:name/schedules`,
    { schema: { tags: TAGS, summary: 'Add a schedule to a task', params: TaskParams, body: Schedule } },
    async (request, reply) =>
      reply.status(201).send(service().addSchedule(taskName(request.params.name), request.body)),
  );
  app.delete(
    `${BASE}/:name/schedules/:id`,
    { schema: { tags: TAGS, summary: 'Remove a schedule from a task', params: ScheduleParams } },
    async (request, reply) => {
      service().removeSchedule(taskName(request.params.name), request.params.id);
      return reply.status(204).send();
    },
  );
  app.get(
    '/api/v1/datarep/browse',
    {
      schema: {
        tags: TAGS,
        summary: "The shares a destination's agent offers (any rsync daemon)",
        querystring: BrowseQuery,
      },
    },
    (request) => service().browse(request.query.destination),
  );
  done();
};
