// Status -> Tasks: the tasks running now (every kind, with live progress) and the task log.
import { Type, type FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { TASK_LOG_STATUSES } from '../../config/repositories/task-log-repo.js';
import { TandemError } from '../../lib/errors.js';
import { TASK_LOG_MAX_LIMIT } from '../../tasks/task-log.js';
import type { ApiContext } from '../context.js';

const TAGS = ['tasks'];

const LogQuery = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'e.g. data-replication' })),
    status: Type.Optional(Type.Union(TASK_LOG_STATUSES.map((s) => Type.Literal(s)))),
    runId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    since: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 time, inclusive' }),
    ),
    until: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 time, exclusive' }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: TASK_LOG_MAX_LIMIT, description: 'newest first' }),
    ),
  },
  { additionalProperties: false },
);

export const taskRoutes: FastifyPluginCallbackTypebox<{ ctx: ApiContext }> = (app, { ctx }, done) => {
  const tasks = (): NonNullable<ApiContext['tasks']> => {
    if (ctx.tasks === undefined)
      throw new TandemError('unavailable', 'tasks-not-running', 'the task registry is not running');
    return ctx.tasks;
  };
  app.get('/api/v1/tasks', { schema: { tags: TAGS, summary: 'Tasks running now, with live progress' } }, () =>
    tasks().running.list(),
  );
  app.get(
    '/api/v1/tasks/log',
    { schema: { tags: TAGS, summary: 'The task log, newest first, filtered', querystring: LogQuery } },
    (request) => tasks().log.query(request.query),
  );
  done();
};
