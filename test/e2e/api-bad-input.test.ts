// Bad input of every kind through the REST API: a clear error, the right status, nothing changed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'bad-input-password';
const IQN = 'iqn.2026-11.com.example:api.t1';

describe('REST API refusals', () => {
  it('answers every bad request with a clear error and changes nothing', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const daemon = await startDaemon(t, dataDir, { env: { TANDEM_ADMIN_PASSWORD: PASSWORD } });
    const call = (
      method: string,
      path: string,
      options: { body?: unknown; rawBody?: string; password?: string | null } = {},
    ) => api(daemon.apiUrl, method, path, { password: PASSWORD, ...options });

    assert.equal(
      (await call('POST', '/api/v1/volumes', { body: { name: 'nas1', type: 'nas', size: '1GiB' } })).status,
      201,
    );
    assert.equal(
      (await call('POST', '/api/v1/volumes', { body: { name: 'blk1', type: 'iscsi', size: 16777216 } }))
        .status,
      201,
    );
    assert.equal(
      (await call('POST', '/api/v1/targets', { body: { iqn: IQN, luns: [{ lun: 0, volume: 'blk1' }] } }))
        .status,
      201,
    );
    // The host filesystem's free space moves with every other writer on the disk: not this node's state.
    const state = async () =>
      JSON.stringify(
        [
          (await call('GET', '/api/v1/pools')).body,
          (await call('GET', '/api/v1/volumes')).body,
          (await call('GET', '/api/v1/targets')).body,
        ],
        (key, value: unknown) => (key === 'filesystem' ? undefined : value),
      );
    const before = await state();

    const cases: {
      what: string;
      method: string;
      path: string;
      body?: unknown;
      rawBody?: string;
      password?: string | null;
      status: number;
      code: string | RegExp;
    }[] = [
      {
        what: 'no credentials',
        method: 'GET',
        path: '/api/v1/volumes',
        password: null,
        status: 401,
        code: 'unauthorized',
      },
      {
        what: 'no credentials, write',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'iscsi', size: '1G' },
        password: null,
        status: 401,
        code: 'unauthorized',
      },
      {
        what: 'wrong password',
        method: 'DELETE',
        path: '/api/v1/volumes/nas1',
        password: 'guess',
        status: 401,
        code: 'unauthorized',
      },
      {
        what: 'malformed JSON',
        method: 'POST',
        path: '/api/v1/volumes',
        rawBody: '{"name": "x", ',
        status: 400,
        code: /json|bad-request/,
      },
      {
        what: 'unknown field',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'iscsi', size: '1G', sizee: 3 },
        status: 400,
        code: 'bad-request',
      },
      {
        what: 'missing field',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'iscsi' },
        status: 400,
        code: 'bad-request',
      },
      {
        what: 'wrong type',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'iscsi', size: '1G', replication: 'maybe' },
        status: 400,
        code: 'bad-request',
      },
      {
        what: 'unknown volume type',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'tape', size: '1G' },
        status: 400,
        code: 'bad-request',
      },
      {
        what: 'path traversal name',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: '../../etc', type: 'nas', size: '1G' },
        status: 400,
        code: 'bad-name',
      },
      {
        what: 'shell metacharacters',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'a;rm -rf', type: 'nas', size: '1G' },
        status: 400,
        code: 'bad-name',
      },
      {
        what: 'bad size unit',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'iscsi', size: '3 parsecs' },
        status: 400,
        code: 'bad-size-unit',
      },
      {
        what: 'size beyond free space',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'x', type: 'iscsi', size: '7PiB' },
        status: 507,
        code: 'pool-no-space',
      },
      {
        what: 'duplicate volume',
        method: 'POST',
        path: '/api/v1/volumes',
        body: { name: 'blk1', type: 'iscsi', size: '1G' },
        status: 409,
        code: 'volume-exists',
      },
      {
        what: 'shrink',
        method: 'POST',
        path: '/api/v1/volumes/blk1/expand',
        body: { size: '1MiB' },
        status: 400,
        code: 'volume-shrink-refused',
      },
      {
        what: 'delete in use',
        method: 'DELETE',
        path: '/api/v1/volumes/blk1',
        status: 409,
        code: 'volume-in-use',
      },
      {
        what: 'unknown volume',
        method: 'GET',
        path: '/api/v1/volumes/ghost',
        status: 404,
        code: 'volume-not-found',
      },
      {
        what: 'LUN on a NAS volume',
        method: 'POST',
        path: `/api/v1/targets/${IQN}/luns`,
        body: { lun: 1, volume: 'nas1' },
        status: 400,
        code: 'volume-not-iscsi',
      },
      {
        what: 'LUN out of range',
        method: 'POST',
        path: `/api/v1/targets/${IQN}/luns`,
        body: { lun: 256, volume: 'blk1' },
        status: 400,
        code: 'bad-request',
      },
      {
        what: 'duplicate IQN',
        method: 'POST',
        path: '/api/v1/targets',
        body: { iqn: IQN.toUpperCase() },
        status: 409,
        code: 'target-exists',
      },
      {
        what: 'bad IQN',
        method: 'POST',
        path: '/api/v1/targets',
        body: { iqn: 'iqn.bogus' },
        status: 400,
        code: 'bad-iscsi-name',
      },
      {
        what: 'short CHAP secret',
        method: 'POST',
        path: `/api/v1/targets/${IQN}/chap-users`,
        body: { direction: 'incoming', username: 'u', secret: 'abc' },
        status: 400,
        code: 'bad-chap-secret',
      },
      {
        what: 'pool on a relative path',
        method: 'POST',
        path: '/api/v1/pools',
        body: { name: 'p', path: 'rel/dir' },
        status: 400,
        code: 'bad-pool-path',
      },
      {
        what: 'pool inside the default pool',
        method: 'POST',
        path: '/api/v1/pools',
        body: { name: 'p', path: join(dataDir, 'pools', 'default', 'x') },
        status: 409,
        code: 'pool-overlap',
      },
      {
        what: 'pool in /proc',
        method: 'POST',
        path: '/api/v1/pools',
        body: { name: 'p', path: '/proc' },
        status: 400,
        code: 'bad-pool-path',
      },
      {
        what: 'pool path with a NUL byte',
        method: 'POST',
        path: '/api/v1/pools',
        body: { name: 'p', path: '/srv/po\u0000ol' },
        status: 400,
        code: 'bad-pool-path',
      },
      {
        what: 'pool under a file',
        method: 'POST',
        path: '/api/v1/pools',
        body: { name: 'p', path: join(dataDir, 'tandem.db', 'pool') },
        status: 400,
        code: 'bad-pool-path',
      },
      {
        what: 'delete the default pool',
        method: 'DELETE',
        path: '/api/v1/pools/default',
        status: 409,
        code: 'pool-is-default',
      },
      { what: 'unknown route', method: 'GET', path: '/api/v1/frobs', status: 404, code: 'no-such-route' },
      {
        what: 'oversized body',
        method: 'POST',
        path: '/api/v1/volumes',
        rawBody: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
        status: 413,
        code: /body-too-large|too-large/,
      },
    ];
    for (const c of cases) {
      const response = await call(c.method, c.path, {
        ...(c.body === undefined ? {} : { body: c.body }),
        ...(c.rawBody === undefined ? {} : { rawBody: c.rawBody }),
        ...(c.password === undefined ? {} : { password: c.password }),
      });
      assert.equal(response.status, c.status, `${c.what}: ${JSON.stringify(response.body)}`);
      const error = (response.body as { error?: { code?: string; message?: string } }).error;
      assert.ok(error?.message && error.message.length > 5, `${c.what} has a message`);
      if (typeof c.code === 'string') assert.equal(error.code, c.code, c.what);
      else assert.match(error.code ?? '', c.code, c.what);
    }
    assert.equal(await state(), before, 'no refused request changed anything');
    assert.match(daemon.output(), /API sign-in refused: wrong user name or password/);
    assert.ok(!daemon.output().includes(PASSWORD), 'passwords never reach the log');
  });
});
