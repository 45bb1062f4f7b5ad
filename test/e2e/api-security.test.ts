// The API tried as an attacker would: every route the running server declares, unauthenticated, in
// every spelling that could slip past a check on the URL; requests a foreign web page can make a
// browser send; password guessing; and the headers and error bodies of every kind of answer.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, runCli, startDaemon, type Daemon } from '../helpers/daemon.js';
import { documentedRoutes } from '../helpers/openapi-routes.js';
import { basic, rawHttp, spellingsOf, type RawResponse } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'security-test-password';
const IQN = 'iqn.2026-12.com.example:security.t1';
const AUTH = basic('admin', PASSWORD);

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly isPublic: boolean;
}

/** The routes as the running server documents them, with their parameters filled in. */
async function operationsOf(daemon: Daemon): Promise<Operation[]> {
  const document = (await api(daemon.apiUrl, 'GET', '/api/openapi.json')).body;
  return documentedRoutes(document).map((route) => ({ ...route, path: fillParams(route.path) }));
}

/** Path parameters name real objects, so a request that got through would visibly change them. */
function fillParams(path: string): string {
  const values: Record<string, string> = {
    iqn: IQN,
    volume: 'vol1',
    lun: '0',
    direction: 'incoming',
    username: 'alice',
    id: '1',
  };
  return path.replace(/\{(\w+)\}/g, (_, param: string) => {
    if (param === 'name') {
      if (path.startsWith('/api/v1/pools/')) return 'default';
      if (path.startsWith('/api/v1/nas/shares/')) return 'share1';
      if (path.startsWith('/api/v1/targets/')) return 'iqn.2026-12.com.example:initiator';
      return 'vol1';
    }
    return values[param] ?? 'x';
  });
}

const VOLATILE = /available|free|used|At$|time|uptime|bytes|rate|pid|restarts|lastExit|lastError/i;

/** Everything the node would show an administrator, less what moves by itself. */
async function stateOf(daemon: Daemon, operations: readonly Operation[]): Promise<string> {
  const reads = operations.filter(
    (op) =>
      op.method === 'GET' &&
      !op.isPublic &&
      !op.path.includes('browse') &&
      !/\{|vol1|share1|default|iqn/.test(op.path),
  );
  const parts: unknown[] = [];
  for (const op of reads) {
    const response = await rawHttp(daemon.apiUrl, {
      method: 'GET',
      path: op.path,
      headers: { authorization: AUTH },
    });
    parts.push([
      op.path,
      response.status,
      response.text.startsWith('{') || response.text.startsWith('[')
        ? JSON.parse(response.text)
        : response.text,
    ]);
  }
  return JSON.stringify(parts, (key, value: unknown) => (VOLATILE.test(key) ? undefined : value));
}

async function startNode(t: TestContext): Promise<Daemon> {
  const daemon = await startDaemon(t, join(tempDir(t), 'var'), { env: { TANDEM_ADMIN_PASSWORD: PASSWORD } });
  const call = (method: string, path: string, body: unknown) =>
    api(daemon.apiUrl, method, path, { password: PASSWORD, body });
  assert.equal(
    (await call('POST', '/api/v1/volumes', { name: 'vol1', type: 'iscsi', size: '16MiB' })).status,
    201,
  );
  assert.equal(
    (await call('POST', '/api/v1/volumes', { name: 'nas1', type: 'nas', size: '1GiB' })).status,
    201,
  );
  assert.equal(
    (await call('POST', '/api/v1/targets', { iqn: IQN, luns: [{ lun: 0, volume: 'vol1' }] })).status,
    201,
  );
  const share = await call('POST', '/api/v1/nas/shares', { name: 'share1', volume: 'nas1' });
  assert.equal(share.status, 201, JSON.stringify(share.body));
  return daemon;
}

const errorOf = (response: RawResponse): { code?: unknown; message?: unknown } | undefined =>
  (JSON.parse(response.text) as { error?: { code?: unknown; message?: unknown } }).error;

describe('API security', () => {
  it('refuses every protected route without credentials, in every spelling, and changes nothing', async (t) => {
    const daemon = await startNode(t);
    const operations = await operationsOf(daemon);
    const protectedOps = operations.filter((op) => !op.isPublic);
    assert.ok(protectedOps.length >= 60, `the server declares ${protectedOps.length} protected routes`);
    const before = await stateOf(daemon, operations);
    assert.equal(await stateOf(daemon, operations), before, 'the state read is stable');

    let requests = 0;
    const leaks: string[] = [];
    for (const op of protectedOps) {
      const methods = op.method === 'GET' ? ['GET', 'HEAD'] : [op.method];
      for (const method of methods) {
        for (const path of spellingsOf(op.path)) {
          const response = await rawHttp(daemon.apiUrl, {
            method,
            path,
            // Past the cross-site guard, so that only authentication stands in the way.
            headers: { 'content-type': 'application/json', 'x-tandem-client': 'sweep' },
            ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }),
          });
          requests++;
          if (response.status !== 401)
            leaks.push(`${method} ${path} -> ${response.status} ${response.text.slice(0, 120)}`);
          else if (method !== 'HEAD')
            assert.equal(errorOf(response)?.code, 'unauthorized', `${method} ${path}`);
        }
      }
    }
    const summary = `route sweep: ${protectedOps.length} protected routes, ${requests} unauthenticated requests in ${Math.round(requests / protectedOps.length)} spellings each on average`;
    t.diagnostic(summary);
    console.log(summary);
    assert.deepEqual(leaks, [], 'every request without credentials is refused');
    assert.equal(await stateOf(daemon, operations), before, 'nothing changed');

    // The public routes answer without credentials, as documented.
    for (const path of ['/api/v1/health', '/metrics', '/api/openapi.json', '/api/docs/']) {
      assert.equal((await rawHttp(daemon.apiUrl, { method: 'GET', path })).status, 200, path);
    }
  });

  it('refuses what a foreign web page can make a browser send, with valid credentials', async (t) => {
    const daemon = await startNode(t);
    const operations = await operationsOf(daemon);
    const before = await stateOf(daemon, operations);
    const writes = operations.filter((op) => !['GET', 'HEAD'].includes(op.method));
    const simple: { what: string; headers: Record<string, string>; body?: string }[] = [
      { what: 'no body, no type', headers: {} },
      { what: 'text/plain', headers: { 'content-type': 'text/plain' }, body: '{}' },
      { what: 'a form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' },
      {
        what: 'multipart',
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
        body: '--x--\r\n',
      },
      { what: 'no type, foreign origin', headers: { origin: 'http://evil.example' } },
      {
        what: 'JSON from a foreign origin',
        headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
        body: '{}',
      },
      { what: 'marked, from a foreign origin', headers: { origin: 'null', 'x-tandem-client': 'x' } },
      {
        what: 'JSON, cross-site fetch',
        headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
        body: '{}',
      },
    ];
    let requests = 0;
    for (const op of writes) {
      for (const attempt of simple) {
        const response = await rawHttp(daemon.apiUrl, {
          method: op.method,
          path: op.path,
          headers: { authorization: AUTH, ...attempt.headers },
          ...(attempt.body === undefined ? {} : { body: attempt.body }),
        });
        requests++;
        assert.equal(response.status, 403, `${op.method} ${op.path}, ${attempt.what}: ${response.text}`);
        assert.equal(errorOf(response)?.code, 'cross-site-refused');
      }
    }
    console.log(`cross-site sweep: ${writes.length} routes that change state, ${requests} requests, all 403`);
    assert.equal(await stateOf(daemon, operations), before, 'nothing changed');
    assert.match(daemon.output(), /API request refused: requests from another site/);

    // The product's own clients still work: JSON from the same origin, and the marker without a body.
    const host = new URL(daemon.apiUrl).host;
    const created = await rawHttp(daemon.apiUrl, {
      method: 'POST',
      path: '/api/v1/volumes',
      headers: { authorization: AUTH, 'content-type': 'application/json', origin: `http://${host}` },
      body: JSON.stringify({ name: 'vol2', type: 'iscsi', size: '8MiB' }),
    });
    assert.equal(created.status, 201, created.text);
    const stopped = await rawHttp(daemon.apiUrl, {
      method: 'POST',
      path: `/api/v1/targets/${encodeURIComponent(IQN)}/stop`,
      headers: { authorization: AUTH, 'x-tandem-client': 'script' },
    });
    assert.ok(stopped.status < 300, stopped.text);
  });

  it('limits password guessing per address and per user, in equal time for unknown users', async (t) => {
    const daemon = await startNode(t);
    const attempt = (user: string, password: string, from: string) =>
      rawHttp(daemon.apiUrl, {
        method: 'GET',
        path: '/api/v1/node',
        headers: { authorization: basic(user, password) },
        localAddress: from,
      });

    // A refusal for an unknown user costs as long as one for a real user (the decoy hash).
    const known: number[] = [];
    const unknown: number[] = [];
    for (let round = 0; round < 5; round++) {
      const from = `127.0.0.${20 + round}`;
      const a = await attempt('admin', 'wrong', from);
      const b = await attempt(`nobody${round}`, 'wrong', from);
      assert.deepEqual([a.status, b.status], [401, 401]);
      known.push(a.ms);
      unknown.push(b.ms);
      const right = await attempt('admin', PASSWORD, from);
      assert.equal(right.status, 200, `round ${round}: the right password resets the count: ${right.text}`);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    console.log(
      `refusal time: admin ${median(known).toFixed(1)} ms, unknown user ${median(unknown).toFixed(1)} ms`,
    );
    assert.ok(
      median(unknown) > median(known) / 3,
      `unknown users are refused in ${median(unknown)} ms against ${median(known)} ms for admin`,
    );

    // 50 guesses from one address: a few are checked, the rest wait, and then the right password
    // waits too, from that address and (the user being locked) from any other.
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await attempt('admin', `guess-${i}`, '127.0.0.3')).status);
    assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
    assert.ok(statuses.filter((s) => s === 429).length >= 40, `statuses: ${statuses.join(' ')}`);
    assert.ok(statuses.every((s) => s === 401 || s === 429));
    const right = await attempt('admin', PASSWORD, '127.0.0.3');
    assert.equal(right.status, 429, 'the right password after 50 guesses is not let through');
    assert.ok(Number(right.headers['retry-after']) >= 1, 'Retry-After says when');
    assert.equal(errorOf(right)?.code, 'too-many-attempts');
    for (let i = 0; i < 12; i++) await attempt('admin', `spray-${i}`, `127.0.1.${i + 1}`);
    const elsewhere = await attempt('admin', PASSWORD, '127.0.2.1');
    assert.equal(elsewhere.status, 429, 'a user name guessed from many addresses is locked out');
    // A user name the throttle holds does not lock out others, and the local socket always works.
    const cli = await runCli(['--data', daemon.dataDir, 'volume', 'list', '--json']);
    assert.equal(cli.code, 0, cli.stderr);

    const refusals = daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('API sign-in refused'));
    assert.ok(
      refusals.some(
        (line) => line.includes('"address":"127.0.0.3"') && line.includes('too many failed attempts'),
      ),
    );
    assert.ok(
      refusals.some(
        (line) => line.includes('"address":"127.0.0.20"') && line.includes('wrong user name or password'),
      ),
    );
    assert.ok(!daemon.output().includes(PASSWORD), 'passwords never reach the log');
  });

  it('answers every kind of response with security headers and the documented error body', async (t) => {
    const daemon = await startNode(t);
    const cases: { what: string; request: Parameters<typeof rawHttp>[1]; status: number; code?: string }[] = [
      {
        what: 'a read',
        request: { method: 'GET', path: '/api/v1/node', headers: { authorization: AUTH } },
        status: 200,
      },
      {
        what: 'no credentials',
        request: { method: 'GET', path: '/api/v1/node' },
        status: 401,
        code: 'unauthorized',
      },
      {
        what: 'unknown route',
        request: { method: 'GET', path: '/api/v1/frobs', headers: { authorization: AUTH } },
        status: 404,
        code: 'no-such-route',
      },
      {
        what: 'undecodable URL',
        request: { method: 'GET', path: '/api/v1/volumes/%zz', headers: { authorization: AUTH } },
        status: 400,
        code: 'bad-url',
      },
      {
        what: 'parameter too long',
        request: {
          method: 'GET',
          path: `/api/v1/volumes/${'a'.repeat(300)}`,
          headers: { authorization: AUTH },
        },
        status: 414,
        code: 'max-param-length',
      },
      {
        what: 'headers too large',
        request: {
          method: 'GET',
          path: '/api/v1/node',
          headers: { authorization: AUTH, 'x-filler': 'a'.repeat(20_000) },
        },
        status: 431,
        code: 'headers-too-large',
      },
      {
        what: 'URL too large',
        request: { method: 'GET', path: `/api/v1/volumes?${'a'.repeat(20_000)}` },
        status: 431,
        code: 'headers-too-large',
      },
      {
        what: 'bad JSON',
        request: {
          method: 'POST',
          path: '/api/v1/volumes',
          headers: { authorization: AUTH, 'content-type': 'application/json' },
          body: '{',
        },
        status: 400,
      },
      {
        what: 'cross-site',
        request: { method: 'POST', path: '/api/v1/failover/stop', headers: { authorization: AUTH } },
        status: 403,
        code: 'cross-site-refused',
      },
      { what: 'Swagger UI', request: { method: 'GET', path: '/api/docs/' }, status: 200 },
      {
        what: 'Swagger UI asset',
        request: { method: 'GET', path: '/api/docs/static/swagger-ui.css' },
        status: 200,
      },
      { what: 'OpenAPI document', request: { method: 'GET', path: '/api/openapi.json' }, status: 200 },
      { what: 'metrics', request: { method: 'GET', path: '/metrics' }, status: 200 },
      { what: 'health', request: { method: 'GET', path: '/api/v1/health' }, status: 200 },
    ];
    for (const c of cases) {
      const response = await rawHttp(daemon.apiUrl, c.request);
      assert.equal(response.status, c.status, `${c.what}: ${response.text.slice(0, 200)}`);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', c.what);
      assert.ok(response.headers['content-security-policy'], `${c.what} has a content security policy`);
      assert.ok(response.headers['x-frame-options'], `${c.what} refuses framing`);
      if (c.status >= 400) {
        const error = errorOf(response);
        assert.equal(typeof error?.code, 'string', `${c.what}: ${response.text}`);
        assert.equal(typeof error?.message, 'string', c.what);
        if (c.code) assert.equal(error?.code, c.code, c.what);
      }
    }
  });
});
