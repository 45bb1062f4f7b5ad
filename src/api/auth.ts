// Who may call the API. Requests on the unix socket in the data dir are trusted: the socket is 0600
// and owned by the daemon's user, so reaching it already proves local root. Everything else needs
// HTTP Basic credentials of a management account. Verified credentials are remembered (by a digest,
// never in clear) for a short while, because scrypt is deliberately slow.
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountsRepo } from '../config/repositories/accounts-repo.js';
import { TandemError } from '../lib/errors.js';
import { verifyPassword } from '../lib/password-hash.js';

const CACHE_MS = 5 * 60 * 1000;
const OPEN_PATHS = [/^\/metrics$/, /^\/api\/docs(\/|$)/, /^\/api\/openapi\.json$/, /^\/api\/v1\/health$/];

export class ApiAuth {
  readonly trustedSockets = new WeakSet<Socket>();
  private readonly verified = new Map<string, number>(); // digest of the header → valid until (ms)

  constructor(private readonly accounts: AccountsRepo) {}

  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if (!path.startsWith('/api/') || OPEN_PATHS.some((re) => re.test(path))) return;
      if (this.trustedSockets.has(request.raw.socket)) return;
      await this.checkBasic(request);
    });
  }

  private async checkBasic(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    if (!header?.startsWith('Basic ')) throw unauthorized('credentials required (HTTP Basic, user admin)');
    const digest = createHash('sha256').update(header).digest('hex');
    if ((this.verified.get(digest) ?? 0) > Date.now()) return;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw unauthorized('malformed Basic credentials');
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const account = this.accounts.byName(name);
    if (!account || !(await verifyPassword(password, account.passwordHash))) {
      request.log.warn({ account: name }, 'API login refused');
      throw unauthorized('wrong user name or password');
    }
    if (this.verified.size > 1000) this.verified.clear();
    this.verified.set(digest, Date.now() + CACHE_MS);
  }
}

function unauthorized(message: string): TandemError {
  return new TandemError('unauthorized', 'unauthorized', message);
}
