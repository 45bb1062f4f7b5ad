// Hostile input to every route the running server declares: each body field in turn set to values
// that have broken servers before (NUL bytes, traversal, system paths, huge and negative numbers,
// wrong types, prototype keys), hostile path parameters, and bodies of the wrong shape. No answer may
// be a 500, every refusal has the documented error body, and the daemon stays up. The daemon runs in
// a lab namespace, so a request that did get through cannot touch this host's network; it is called
// on its unix socket, which skips authentication so every request reaches its handler.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { apiOverSocket, createLab } from '../helpers/netns-lab.js';
import { documentedRoutes, type JsonSchema } from '../helpers/openapi-routes.js';
import { tempDir } from '../helpers/temp-dir.js';

const HOSTILE_VALUES: readonly unknown[] = [
  '',
  '\u0000',
  'a\u0000b',
  '../../../etc/passwd',
  '/proc',
  '/',
  '/dev/sda',
  'x'.repeat(5000),
  '$(reboot);`id`|x',
  'line\nbreak',
  '%00%2e%2e',
  '\u202eevil',
  -1,
  0,
  2 ** 53,
  1e308,
  -0.5,
  true,
  null,
  [],
  [null],
  {},
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
];

const HOSTILE_PARAMS: readonly string[] = [
  '..',
  '%2e%2e',
  '%00',
  'a%2Fb',
  'x'.repeat(100),
  '%E2%80%AE',
  "x'y",
  '%20',
  '-1',
];

function plausible(schema: JsonSchema | undefined): unknown {
  if (!schema) return 'x1';
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  if (schema.anyOf?.[0]) return plausible(schema.anyOf[0]);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object': {
      const body: Record<string, unknown> = {};
      for (const name of schema.required ?? []) body[name] = plausible(schema.properties?.[name]);
      return body;
    }
    default:
      return 'x1';
  }
}

function bodiesFor(schema: JsonSchema): unknown[] {
  const base = plausible(schema) as Record<string, unknown>;
  const bodies: unknown[] = [base, null, [], 'text', 42, { ...base, unknownField: 1 }];
  for (const field of Object.keys(schema.properties ?? {})) {
    for (const value of HOSTILE_VALUES) bodies.push({ ...base, [field]: value });
  }
  return bodies;
}

describe('API hostile input', () => {
  it('answers every hostile input to every route without a 500, and stays up', async (t) => {
    const lab = await createLab(t, { verify: false });
    const dataDir = join(tempDir(t), 'var');
    await startDaemon(t, dataDir, { netns: lab.ns.a, env: { TANDEM_ADMIN_PASSWORD: 'fuzz-password' } });
    const call = (method: string, path: string, body?: unknown) => apiOverSocket(dataDir, method, path, body);
    assert.equal(
      (await call('POST', '/api/v1/volumes', { name: 'vol1', type: 'iscsi', size: '16MiB' })).status,
      201,
    );
    assert.equal(
      (await call('POST', '/api/v1/volumes', { name: 'nas1', type: 'nas', size: '1GiB' })).status,
      201,
    );

    const operations = documentedRoutes((await call('GET', '/api/openapi.json')).body);

    const failures: string[] = [];
    let requests = 0;
    const check = async (method: string, path: string, body?: unknown): Promise<void> => {
      const response = await call(method, path, body);
      requests++;
      const error = (response.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      if (response.status >= 500 && response.status !== 503 && response.status !== 507) {
        failures.push(
          `${method} ${path} ${JSON.stringify(body ?? null).slice(0, 100)} -> ${response.status} ${JSON.stringify(response.body)}`,
        );
      } else if (
        response.status >= 400 &&
        (typeof error?.code !== 'string' || typeof error.message !== 'string')
      ) {
        failures.push(
          `${method} ${path} -> ${response.status} without the error body: ${JSON.stringify(response.body)}`,
        );
      }
    };

    for (const op of operations) {
      const params = op.path.match(/\{\w+\}/g) ?? [];
      const concrete = op.path.replace(/\{\w+\}/g, (p) => (p === '{volume}' ? 'nas1' : 'vol1'));
      if (op.body) {
        for (const body of bodiesFor(op.body)) await check(op.method, concrete, body);
      } else if (op.method !== 'GET') {
        await check(op.method, concrete);
      }
      for (const param of params) {
        for (const hostile of HOSTILE_PARAMS) {
          const path = op.path.replace(param, hostile).replace(/\{\w+\}/g, 'vol1');
          await check(op.method, path, op.body ? plausible(op.body) : undefined);
        }
      }
    }
    const summary = `hostile input: ${operations.length} routes, ${requests} requests, ${failures.length} failures`;
    t.diagnostic(summary);
    console.log(summary);
    assert.deepEqual(failures, []);
    assert.equal((await call('GET', '/api/v1/health')).status, 200, 'the daemon is still up');
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });
});
