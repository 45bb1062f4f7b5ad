// One place that turns errors into API responses: `{ error: { code, message, details? } }` with an
// HTTP status from the error's kind. Unknown errors are logged and answered without internals.
import type { FastifyError, FastifyInstance } from 'fastify';
import { isTandemError, type ErrorKind } from '../lib/errors.js';

export const STATUS_OF: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'no-space': 507,
  unavailable: 503,
  internal: 500,
};

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isTandemError(error)) {
      const status = STATUS_OF[error.kind];
      if (status === 401) void reply.header('www-authenticate', 'Basic realm="tandem"');
      if (status >= 500) request.log.error({ code: error.code, err: error }, error.message);
      return reply
        .status(status)
        .send({ error: { code: error.code, message: error.message, details: error.details } });
    }
    if (error.validation) {
      return reply
        .status(400)
        .send({ error: { code: 'bad-request', message: `invalid request: ${error.message}` } });
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply
        .status(error.statusCode)
        .send({ error: { code: error.code.toLowerCase().replace(/_/g, '-'), message: error.message } });
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply
      .status(500)
      .send({ error: { code: 'internal', message: 'internal error; see the daemon log' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'no-such-route', message: `no route ${request.method} ${request.url}` } }),
  );
}
