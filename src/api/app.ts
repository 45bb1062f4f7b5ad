// The Fastify application: security headers, auth, error mapping, OpenAPI docs at /api/docs, and one
// plugin per resource. The same app answers on TCP and on the data dir's unix socket (see server.ts).
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.js';
import type { ApiAuth } from './auth.js';
import type { ApiContext } from './context.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandler } from './errors.js';
import { datarepRoutes } from './routes/datarep.js';
import { nasRoutes } from './routes/nas.js';
import { networkRoutes } from './routes/network.js';
import { failoverRoutes } from './routes/failover.js';
import { nodeRoutes } from './routes/node.js';
import { poolRoutes } from './routes/pools.js';
import { replicationRoutes } from './routes/replication.js';
import { targetRoutes } from './routes/targets.js';
import { taskRoutes } from './routes/tasks.js';
import { volumeRoutes } from './routes/volumes.js';

export async function buildApiApp(ctx: ApiContext, auth: ApiAuth, logger: Logger): Promise<FastifyInstance> {
  // Fastify's logger type is narrower than pino's own; the instance is the same.
  const loggerInstance: FastifyBaseLogger = logger.child({ component: 'api' });
  const app = Fastify({
    loggerInstance,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerErrorHandler(app);
  declareDocsPublic(app);
  // Before auth: a refused request carries the headers too.
  await app.register(helmet, {
    // Served over plain HTTP on a LAN: asking the browser to upgrade to HTTPS would break every page.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    strictTransportSecurity: false,
  });
  auth.register(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tandem node API',
        version: ctx.node().version,
        description:
          'HTTP Basic credentials on every route except the public ones. A request that changes something ' +
          '(POST, PUT, PATCH, DELETE) carries `content-type: application/json` or the `X-Tandem-Client` ' +
          'header (any value); a request with another site in its Origin is refused. See docs/security.md.',
      },
      components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
      security: [{ basic: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // Swagger UI's own policy (hashes of its inline scripts), less the HTTPS upgrade.
    staticCSP: true,
    // Swagger UI's "Try it out" marks its requests as the CLI does (see cross-site-guard.ts). The
    // function runs in the browser: swagger-ui writes its source into the page's initializer.
    uiConfig: {
      requestInterceptor: (request) => {
        (request.headers as Record<string, string>)['X-Tandem-Client'] = 'api-docs';
        return request;
      },
    },
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });
  app.get('/api/openapi.json', { schema: { hide: true }, config: { public: true } }, () => app.swagger());

  await app.register(nodeRoutes, { ctx });
  await app.register(poolRoutes, { ctx });
  await app.register(volumeRoutes, { ctx });
  await app.register(targetRoutes, { ctx });
  await app.register(replicationRoutes, { ctx });
  await app.register(failoverRoutes, { ctx });
  await app.register(nasRoutes, { ctx });
  await app.register(datarepRoutes, { ctx });
  await app.register(taskRoutes, { ctx });
  await app.register(networkRoutes, { ctx });
  return app;
}

const DOCS_PREFIX = '/api/docs';

/** Swagger UI's routes are public. Every other route that is hidden from the OpenAPI document must be
 * public too: the document is the list of protected routes (the route sweep test reads it). */
function declareDocsPublic(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) {
      route.config = { ...route.config, public: true };
    }
    const hidden = route.schema?.hide === true;
    if (hidden && route.config?.public !== true) {
      throw new Error(`route ${route.url} is hidden from the API docs but not public`);
    }
  });
}
