// One place that turns errors into API responses: `{ error: { code, message, details? } }` with an
// HTTP status from the error's kind. Unknown errors are logged and answered without internals. The
// framework's own refusals (a URL it cannot decode, a parameter that is too long, a request the HTTP
// parser rejects) get the same body.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTandemError, type ErrorKind } from '../lib/errors.js';

export const STATUS_OF: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  throttled: 429,
  'no-space': 507,
  unavailable: 503,
  internal: 500,
};

/** The documented error body. */
export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** Fastify's codes (FST_ERR_CTP_INVALID_MEDIA_TYPE) as ours (ctp-invalid-media-type). */
const codeOf = (fastifyCode: string): string =>
  fastifyCode
    .replace(/^FST_ERR_/, '')
    .toLowerCase()
    .replace(/_/g, '-');

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isTandemError(error)) {
      const status = STATUS_OF[error.kind];
      if (status === 401) void reply.header('www-authenticate', 'Basic realm="tandem"');
      const retryAfter = error.details?.retryAfter;
      if (status === 429 && typeof retryAfter === 'number')
        void reply.header('retry-after', String(retryAfter));
      if (status >= 500) request.log.error({ code: error.code, err: error }, error.message);
      return reply.status(status).send(errorBody(error.code, error.message, error.details));
    }
    if (error.validation) {
      return reply.status(400).send(errorBody('bad-request', `invalid request: ${error.message}`));
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.status(error.statusCode).send(errorBody(codeOf(error.code), error.message));
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.status(500).send(errorBody('internal', 'internal error; see the daemon log'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(errorBody('no-such-route', `no route ${request.method} ${request.url.slice(0, 200)}`)),
  );
}

/** Fastify's `frameworkErrors`: a URL it cannot decode (400) or a path parameter over the length
 * limit (414), answered in the documented body. */
export function frameworkErrorHandler(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode === 414 ? 414 : 400;
  void reply
    .status(status)
    .headers(FALLBACK_SECURITY_HEADERS)
    .send(errorBody(codeOf(error.code), error.message));
}

/** The headers @fastify/helmet would add, for the answers written before its hook runs (framework
 * errors) or on the raw socket (parser errors). */
export const FALLBACK_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'content-security-policy': "default-src 'none'; frame-ancestors 'self'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** What the HTTP parser's refusals are answered with, by its error code. */
const PARSER_REFUSALS: Readonly<Record<string, { status: number; code: string; message: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers-too-large',
    message: 'the request headers (or the URL) are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'request-timeout',
    message: 'the request took too long to arrive',
  },
};
const NOT_HTTP = { status: 400, code: 'bad-http-request', message: 'the request is not valid HTTP' };

/** Requests the HTTP parser refuses before Fastify sees them (a header block over the limit: 431,
 * a malformed request line: 400, a request that takes too long: 408). */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return;
  const { status, code, message } = PARSER_REFUSALS[error.code ?? ''] ?? NOT_HTTP;
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...Object.entries(FALLBACK_SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}
