// The data replication and task routes over the real API app, with the real service and store (a
// directory-backed NAS; no run reaches rsync here): status codes, closed bodies, validation of every
// name, and the password in no answer and no log line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { buildApiApp } from '../../../src/api/app.js';
import type { ApiAuth } from '../../../src/api/auth.js';
import type { ApiContext } from '../../../src/api/context.js';
import { createRepositories } from '../../../src/config/repositories/index.js';
import { openStore } from '../../../src/config/store.js';
import { DatarepService } from '../../../src/datarep/datarep-service.js';
import { PasswordStore } from '../../../src/datarep/password-store.js';
import { createLogger } from '../../../src/observability/logger.js';
import { RunningTasks } from '../../../src/tasks/running-tasks.js';
import { TaskLog } from '../../../src/tasks/task-log.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { DirectoryNas } from './helpers/fake-nas.js';

const PASSWORD = 'very-secret-agent-password';
const NODE = {
  name: 'tandem',
  version: '0.1.0',
  nodeId: 'n',
  hostname: 'h',
  dataDir: '/x',
  startedAt: '',
  api: '',
  iscsiPortal: '',
  replication: '',
};

async function harness(t: TestContext, withService = true) {
  const dir = tempDir(t);
  const db = openStore(join(dir, 'tandem.db'));
  const repos = createRepositories(db);
  const nas = new DirectoryNas(join(dir, 'nas'));
  nas.addShare('office', 'vol1');
  const tasks = { running: new RunningTasks(), log: new TaskLog(repos.taskLog) };
  let logged = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logged += chunk.toString('utf8');
      callback();
    },
  });
  const logger = createLogger({ level: 'trace', destination });
  const datarep = new DatarepService({
    repo: repos.datarep,
    taskLog: tasks.log,
    running: tasks.running,
    nas: () => nas,
    passwords: new PasswordStore(join(dir, 'pw')),
    logger,
  });
  datarep.start();
  const ctx = { node: () => NODE, ...(withService ? { datarep, tasks } : {}) } as unknown as ApiContext;
  const app = await buildApiApp(ctx, { register: () => undefined } as unknown as ApiAuth, logger);
  t.after(async () => {
    await app.close();
    await datarep.close();
    db.close();
  });
  const answers: string[] = [];
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
    const response = await app.inject({
      method,
      url,
      ...(body === undefined
        ? {}
        : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    answers.push(response.body);
    return {
      status: response.statusCode,
      body: response.body.length > 0 ? response.json<Record<string, unknown>>() : {},
    };
  };
  return { call, everything: () => `${answers.join('\n')}\n${logged}`, dir };
}

const task = {
  name: 'nightly',
  sourceShare: 'office',
  destination: '192.0.2.20',
  destinationShare: 'backup',
  agentId: 'agent1',
  password: PASSWORD,
};
const code = (body: unknown): unknown => (body as { error?: { code?: string } }).error?.code;

describe('data replication routes', () => {
  it('create, show, update, schedules, delete; the password is never answered or logged', async (t) => {
    const h = await harness(t);
    const created = await h.call('POST', '/api/v1/datarep/tasks', {
      ...task,
      bandwidthLimit: '2MiB',
      schedules: [{ kind: 'interval', hours: 6 }],
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.destination, '192.0.2.20:873');
    assert.deepEqual(created.body.options, {
      delete: false,
      bandwidthLimit: 2 * 1024 * 1024,
      compress: false,
    });
    assert.equal((await h.call('POST', '/api/v1/datarep/tasks', task)).status, 409);

    const patched = await h.call('PATCH', '/api/v1/datarep/tasks/nightly', {
      bandwidthLimit: null,
      compress: true,
      password: `${PASSWORD}-2`,
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.options, { delete: false, bandwidthLimit: null, compress: true });

    const added = await h.call('POST', '/api/v1/datarep/tasks/nightly/schedules', {
      kind: 'weekly',
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      time: '18:00',
    });
    assert.equal(added.status, 201);
    assert.equal(added.body.description, 'Mon-Fri at 18:00');
    assert.ok(typeof added.body.nextRun === 'string');
    const shown = await h.call('GET', '/api/v1/datarep/tasks/nightly');
    assert.equal((shown.body.schedules as unknown[]).length, 2);
    assert.equal(
      (await h.call('DELETE', `/api/v1/datarep/tasks/nightly/schedules/${String(added.body.id)}`)).status,
      204,
    );
    assert.equal((await h.call('DELETE', '/api/v1/datarep/tasks/nightly/schedules/999')).status, 404);

    assert.equal((await h.call('POST', '/api/v1/datarep/tasks/nightly/cancel')).status, 409);
    assert.equal((await h.call('GET', '/api/v1/datarep/tasks')).body.length, 1);
    assert.deepEqual((await h.call('GET', '/api/v1/tasks')).body, []);
    assert.equal((await h.call('DELETE', '/api/v1/datarep/tasks/nightly')).status, 204);
    assert.equal((await h.call('GET', '/api/v1/datarep/tasks/nightly')).status, 404);
    assert.ok(!h.everything().includes(PASSWORD), 'no answer and no log line has the password');
  });

  it('refuses bad input with 400 and changes nothing', async (t) => {
    const h = await harness(t);
    const bad: [string, unknown][] = [
      ['unknown field', { ...task, extra: 1 }],
      ['name ..', { ...task, name: '..' }],
      ['name /', { ...task, name: 'a/b' }],
      ['module ..', { ...task, destinationShare: '../etc' }],
      ['module ;', { ...task, destinationShare: 'x;rm -rf /' }],
      ['module $()', { ...task, destinationShare: '$(reboot)' }],
      ['agent id @', { ...task, agentId: 'a@b' }],
      ['destination', { ...task, destination: 'host name' }],
      ['port', { ...task, destination: 'host:99999' }],
      ['password newline', { ...task, password: 'a\nb' }],
      ['empty password', { ...task, password: '' }],
      ['bandwidth', { ...task, bandwidthLimit: 10 }],
      ['schedule hours', { ...task, schedules: [{ kind: 'interval', hours: 200 }] }],
      ['schedule time', { ...task, schedules: [{ kind: 'weekly', days: ['mon'], time: '25:00' }] }],
      ['schedule day', { ...task, schedules: [{ kind: 'weekly', days: ['someday'], time: '10:00' }] }],
    ];
    for (const [what, body] of bad) {
      const answer = await h.call('POST', '/api/v1/datarep/tasks', body);
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
    }
    assert.equal(
      (await h.call('POST', '/api/v1/datarep/tasks', { ...task, sourceShare: 'nope' })).status,
      404,
    );
    assert.deepEqual((await h.call('GET', '/api/v1/datarep/tasks')).body, []);
    assert.equal((await h.call('GET', '/api/v1/datarep/browse?destination=a;b')).status, 400);
    for (const query of ['status=fine', 'limit=0', 'limit=20000', 'since=notadate', 'bogus=1']) {
      assert.equal((await h.call('GET', `/api/v1/tasks/log?${query}`)).status, 400, query);
    }
    assert.deepEqual((await h.call('GET', '/api/v1/tasks/log?status=error&limit=5')).body, []);
  });

  it('answers 503 while the service is not running', async (t) => {
    const h = await harness(t, false);
    const answer = await h.call('GET', '/api/v1/datarep/tasks');
    assert.equal(answer.status, 503);
    assert.equal(code(answer.body), 'datarep-not-running');
    assert.equal((await h.call('GET', '/api/v1/tasks')).status, 503);
  });
});
