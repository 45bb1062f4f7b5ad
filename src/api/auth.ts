// Who may call the API. The decision is made on the route Fastify matched, never on the spelling of
// the URL: every route needs credentials unless the route itself is declared public
// (`config: { public: true }`), and a request that matches no route needs them too (deny by default).
//
// Requests on the unix socket in the data dir are trusted: the socket is 0600 and owned by the
// daemon's user, so reaching it already proves local root. Everything else needs HTTP Basic
// credentials of a management account. Failed sign-ins are throttled per address and per user name
// (login-throttle.ts), and a refusal takes as long for an unknown user as for a known one.
// Verified credentials are remembered (by a digest, never in clear) for a short while, because scrypt
// is deliberately slow.
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountsRepo } from '../config/repositories/accounts-repo.js';
import { TandemError } from '../lib/errors.js';
import { hashPassword, verifyPassword } from '../lib/password-hash.js';
import { crossSiteRefusal } from './cross-site-guard.js';
import { LoginThrottle } from './login-throttle.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without credentials (health, metrics, the API docs). */
    public?: boolean;
  }
}

const CACHE_MS = 5 * 60 * 1000;
const CACHE_LIMIT = 1000;

export class ApiAuth {
  readonly trustedSockets = new WeakSet<Socket>();
  private readonly verified = new Map<string, number>(); // digest of the header → valid until (ms)
  /** Checked for unknown user names, so that they cost the same time as known ones. */
  private readonly decoyHash: Promise<string> = hashPassword(randomBytes(16).toString('hex'));

  constructor(
    private readonly accounts: AccountsRepo,
    readonly throttle = new LoginThrottle(),
  ) {}

  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request) => {
      // No browser can reach the local socket, so neither the cross-site guard nor a password applies.
      if (this.trustedSockets.has(request.raw.socket)) return;
      const refusal = crossSiteRefusal(request.method, request.headers);
      if (refusal !== null) {
        request.log.warn({ address: request.ip, method: request.method }, `API request refused: ${refusal}`);
        throw new TandemError('forbidden', 'cross-site-refused', refusal);
      }
      if (request.routeOptions.config.public === true) return;
      await this.checkBasic(request);
    });
  }

  private async checkBasic(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    if (!header?.startsWith('Basic ')) throw unauthorized('credentials required (HTTP Basic, user admin)');
    const address = request.ip;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = colon < 0 ? '' : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const shownName = name.slice(0, 64);

    const verdict = await this.throttle.check(address, name);
    if (verdict.waitMs > 0) {
      const retryAfter = Math.ceil(verdict.waitMs / 1000);
      request.log.warn(
        { address, account: shownName, retryAfter, because: verdict.reason },
        'API sign-in refused: too many failed attempts',
      );
      throw new TandemError(
        'throttled',
        'too-many-attempts',
        `too many failed sign-ins ${verdict.reason === 'user' ? 'for this user' : 'from this address'}; try again in ${retryAfter} s`,
        { retryAfter },
      );
    }

    const digest = createHash('sha256').update(header).digest('hex');
    if ((this.verified.get(digest) ?? 0) > Date.now()) {
      await this.throttle.succeeded(address, name);
      return;
    }
    const account = colon < 0 ? undefined : this.accounts.byName(name);
    // Always run the slow check, against a decoy for unknown names: equal time, no name oracle.
    const matches = await verifyPassword(password, account?.passwordHash ?? (await this.decoyHash));
    if (!account || !matches) {
      await this.throttle.failed(address, name);
      request.log.warn({ address, account: shownName }, 'API sign-in refused: wrong user name or password');
      throw unauthorized(colon < 0 ? 'malformed Basic credentials' : 'wrong user name or password');
    }
    await this.throttle.succeeded(address, name);
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(digest, Date.now() + CACHE_MS);
  }
}

function unauthorized(message: string): TandemError {
  return new TandemError('unauthorized', 'unauthorized', message);
}
