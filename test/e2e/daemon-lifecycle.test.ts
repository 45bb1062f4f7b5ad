// The daemon as an administrator meets it: first start, restarts, a second daemon, signals, crashes,
// a broken store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, cliJson, runServeExpectingFailure, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('tandem serve', () => {
  it('creates the data dir, default pool and admin account at first start, printing the password once', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const first = await startDaemon(t, dataDir);
    const passwordFile = join(dataDir, 'admin-password');
    assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dataDir, 'tandem.db')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'tandem.sock')).mode & 0o777, 0o600);
    const password = readFileSync(passwordFile, 'utf8').trim();
    assert.match(password, /^[A-Za-z0-9]{24}$/);
    assert.ok(
      first.output().includes(`password: ${password}`),
      'the generated password is shown at first start',
    );
    const logs = first
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    assert.ok(logs.length > 0);
    assert.ok(!logs.some((l) => l.includes(password)), 'the password never reaches the structured log');

    const pools = await api(first.apiUrl, 'GET', '/api/v1/pools', { password });
    assert.equal(pools.status, 200);
    assert.deepEqual(
      (pools.body as { name: string; path: string }[]).map((p) => [p.name, p.path]),
      [['default', join(dataDir, 'pools', 'default')]],
    );
    assert.equal(await first.stop(), 0);

    const second = await startDaemon(t, dataDir);
    assert.ok(!second.output().includes(password), 'the password is printed only once');
    assert.equal((await api(second.apiUrl, 'GET', '/api/v1/node', { password })).status, 200);
    await second.stop();
  });

  it('takes the admin password from TANDEM_ADMIN_PASSWORD and stores no copy', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const daemon = await startDaemon(t, dataDir, { env: { TANDEM_ADMIN_PASSWORD: 'correct horse battery' } });
    assert.equal(existsSync(join(dataDir, 'admin-password')), false);
    assert.ok(!daemon.output().includes('correct horse battery'));
    assert.equal(
      (await api(daemon.apiUrl, 'GET', '/api/v1/volumes', { password: 'correct horse battery' })).status,
      200,
    );
    assert.equal((await api(daemon.apiUrl, 'GET', '/api/v1/volumes', { password: 'wrong' })).status, 401);
    await daemon.stop();
  });

  it('refuses a second daemon on the same data dir with a clear message', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const first = await startDaemon(t, dataDir, { env: { TANDEM_ADMIN_PASSWORD: 'pw-one-two-three' } });
    const second = await runServeExpectingFailure(dataDir);
    assert.notEqual(second.code, 0);
    assert.match(
      second.stderr,
      new RegExp(`in use by another Tandem daemon.*\\(pid ${first.child.pid ?? 0}\\)`),
    );
    assert.equal(
      (await api(first.apiUrl, 'GET', '/api/v1/health')).status,
      200,
      'the first daemon keeps serving',
    );
    assert.equal((await cliJson<unknown[]>(['--data', dataDir, 'volume', 'list'])).length, 0);
    await first.stop();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`shuts down cleanly on ${signal}`, async (t) => {
      const dataDir = join(tempDir(t), 'var');
      const daemon = await startDaemon(t, dataDir);
      const started = Date.now();
      assert.equal(await daemon.stop(signal), 0);
      assert.ok(Date.now() - started < 5000, 'within a few seconds');
      assert.match(daemon.output(), /"msg":"node stopped"/);
      assert.equal(existsSync(join(dataDir, 'tandem.sock')), false);
      assert.equal(existsSync(join(dataDir, 'tandem.pid')), false);
    });
  }

  it('starts again after being killed (no stale lock or socket)', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const first = await startDaemon(t, dataDir);
    await cliJson(['--data', dataDir, 'volume', 'create', 'survivor', '--size', '16MiB']);
    await first.stop('SIGKILL');
    assert.ok(existsSync(join(dataDir, 'tandem.sock')), 'the killed daemon left its socket');
    await startDaemon(t, dataDir);
    const volumes = await cliJson<{ name: string }[]>(['--data', dataDir, 'volume', 'list']);
    assert.deepEqual(
      volumes.map((v) => v.name),
      ['survivor'],
    );
  });

  it('refuses a corrupt store and leaves it untouched', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const daemon = await startDaemon(t, dataDir);
    await daemon.stop();
    const store = join(dataDir, 'tandem.db');
    writeFileSync(store, Buffer.alloc(64 * 1024, 0x5a));
    const before = createHash('sha256').update(readFileSync(store)).digest('hex');
    const result = await runServeExpectingFailure(dataDir);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /config store .* cannot be read .*left untouched/);
    assert.equal(createHash('sha256').update(readFileSync(store)).digest('hex'), before);
  });

  it('serves OpenAPI docs and Prometheus metrics', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const daemon = await startDaemon(t, dataDir);
    await cliJson(['--data', dataDir, 'volume', 'create', 'm1', '--size', '8MiB']);
    const docs = await api(daemon.apiUrl, 'GET', '/api/docs/');
    assert.equal(docs.status, 200);
    assert.match(String(docs.body), /swagger/i);
    const spec = (await api(daemon.apiUrl, 'GET', '/api/openapi.json')).body as {
      paths: Record<string, unknown>;
    };
    for (const path of [
      '/api/v1/volumes',
      '/api/v1/pools',
      '/api/v1/targets',
      '/api/v1/targets/{iqn}/luns',
    ]) {
      assert.ok(path in spec.paths, `${path} is documented`);
    }
    const metrics = String((await api(daemon.apiUrl, 'GET', '/metrics')).body);
    assert.match(metrics, /tandem_volume_size_bytes\{volume="m1",type="iscsi",pool="default"\} 8388608/);
    assert.match(metrics, /tandem_pool_capacity_bytes\{pool="default"\} \d+/);
    assert.match(metrics, /tandem_targets_served 0/);
    await daemon.stop();
  });
});
