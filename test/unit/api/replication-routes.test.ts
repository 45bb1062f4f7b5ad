// The replication routes over the real API app (schemas, error mapping, OpenAPI) with a fake
// replication service: status codes, validation of every body and name, and no secret in any answer
// or log line.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../../src/api/app.js';
import type { ApiAuth } from '../../../src/api/auth.js';
import type { ApiContext, NodeInfo } from '../../../src/api/context.js';
import { notFound, conflict } from '../../../src/lib/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import type {
  CreateTaskRequest,
  DestinationVolume,
  PairRequest,
  PairingView,
  ReplicationControl,
  TaskStatus,
  VolumeReplicationSettings,
} from '../../../src/replication/control.js';

const SECRET = 'correct-horse-battery-staple-42';
const FINGERPRINT = 'AB'.repeat(32);
const MiB = 2 ** 20;

const status = (name: string, overrides: Partial<TaskStatus> = {}): TaskStatus => ({
  name,
  direction: 'source',
  volume: 'vol1',
  remoteVolume: 'remote1',
  peerAddress: '192.0.2.20:7789',
  running: false,
  role: 'primary',
  connection: 'standalone',
  diskState: 'up-to-date',
  peerDiskState: 'unknown',
  outOfSyncBytes: 0,
  resync: null,
  verify: null,
  lastError: null,
  rate: { mode: 'dynamic', bytesPerSecond: 100 * MiB },
  ...overrides,
});

/** Records every call; answers from small in-memory state. */
class FakeReplication implements ReplicationControl {
  readonly calls: [string, ...unknown[]][] = [];
  private pairedWith: PairRequest | null = null;
  private readonly settings = new Map<string, VolumeReplicationSettings>();
  private readonly statuses = new Map<string, TaskStatus>([
    ['t1', status('t1')],
    ['t9_reverse', status('t9_reverse', { direction: 'reverse', role: 'secondary' })],
  ]);

  pairing(): PairingView {
    this.calls.push(['pairing']);
    // A careless service could leak its secret; the route must pass only the contract's fields.
    const leaky = {
      nodeName: 'node-a',
      listen: '0.0.0.0:7789',
      peerName: this.pairedWith?.peerName ?? null,
      paired: this.pairedWith !== null,
      tls: this.pairedWith?.tls ?? false,
      fingerprint: this.pairedWith?.tls === true ? 'cd'.repeat(32) : null,
      peerFingerprint: this.pairedWith?.peerFingerprint ?? null,
      secret: this.pairedWith?.secret,
      tlsKey: 'PRIVATE KEY',
    };
    return leaky;
  }
  pair(request: PairRequest): Promise<PairingView> {
    this.calls.push(['pair', request]);
    this.pairedWith = request;
    return Promise.resolve(this.pairing());
  }
  unpair(): Promise<void> {
    this.calls.push(['unpair']);
    this.pairedWith = null;
    return Promise.resolve();
  }
  volumeSettings(volume: string): VolumeReplicationSettings | null {
    this.calls.push(['volumeSettings', volume]);
    return this.settings.get(volume) ?? null;
  }
  setVolumeSettings(
    volume: string,
    settings: { mode: 'source' | 'destination'; mirrorServer: string; clearMetadata?: boolean },
  ): Promise<VolumeReplicationSettings> {
    this.calls.push(['setVolumeSettings', volume, settings]);
    const stored = { volume, mode: settings.mode, mirrorServer: settings.mirrorServer };
    this.settings.set(volume, stored);
    return Promise.resolve(stored);
  }
  browseDestinations(): Promise<DestinationVolume[]> {
    this.calls.push(['browseDestinations']);
    return Promise.resolve([
      { volume: 'remote1', size: 1024 * MiB, unavailable: null },
      { volume: 'remote2', size: 64 * MiB, unavailable: 'mapped to a LUN' },
    ]);
  }
  tasks(): TaskStatus[] {
    this.calls.push(['tasks']);
    return [...this.statuses.values()];
  }
  task(name: string): TaskStatus {
    this.calls.push(['task', name]);
    const found = this.statuses.get(name);
    if (!found) throw notFound('no-such-replication-task', `replication task ${name} does not exist`);
    return found;
  }
  createTask(request: CreateTaskRequest): Promise<TaskStatus> {
    this.calls.push(['createTask', request]);
    if (this.statuses.has(request.name)) {
      return Promise.reject(conflict('replication-task-exists', `replication task ${request.name} exists`));
    }
    const created = status(request.name, {
      volume: request.volume,
      remoteVolume: request.remoteVolume,
      ...(request.rate ? { rate: request.rate } : {}),
    });
    this.statuses.set(request.name, created);
    return Promise.resolve(created);
  }
  deleteTask(name: string): Promise<void> {
    this.calls.push(['deleteTask', name]);
    this.task(name);
    this.statuses.delete(name);
    return Promise.resolve();
  }
  startTask(name: string): Promise<TaskStatus> {
    return this.act('startTask', name, { running: true, connection: 'connecting' });
  }
  stopTask(name: string): Promise<TaskStatus> {
    return this.act('stopTask', name, { running: false, connection: 'standalone' });
  }
  promote(name: string, force: boolean): Promise<TaskStatus & { warning?: string }> {
    this.calls.push(['promote', name, force]);
    const promoted = { ...this.task(name), role: 'primary' as const };
    return Promise.resolve(
      force ? { ...promoted, warning: 'forced: the volume was not up to date' } : promoted,
    );
  }
  demote(name: string): Promise<TaskStatus> {
    return this.act('demote', name, { role: 'secondary' });
  }
  verify(name: string): Promise<TaskStatus> {
    return this.act('verify', name, {
      connection: 'verifying',
      verify: { totalBytes: 1024 * MiB, doneBytes: 0, mismatchedBytes: 0 },
    });
  }
  resolveSplitBrain(name: string, discard: 'local' | 'peer'): Promise<TaskStatus & { copy?: string }> {
    this.calls.push(['resolveSplitBrain', name, discard]);
    const resolved = { ...this.task(name), connection: 'sync-target' as const };
    return Promise.resolve(
      discard === 'local' ? { ...resolved, copy: '/srv/pool/vol1.split-brain' } : resolved,
    );
  }

  private act(method: string, name: string, change: Partial<TaskStatus>): Promise<TaskStatus> {
    this.calls.push([method, name]);
    const updated = { ...this.task(name), ...change };
    this.statuses.set(name, updated);
    return Promise.resolve(updated);
  }
}

interface Harness {
  readonly app: FastifyInstance;
  readonly fake: FakeReplication;
  /** Every response body and log line so far, to look for secrets in. */
  everything(): string;
  logs(): string;
  call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string }>;
}

const NODE: NodeInfo = {
  name: 'node-a',
  version: '0.0.0-test',
  nodeId: 'n-1',
  hostname: 'node-a.example.com',
  dataDir: '/var/lib/tandem',
  startedAt: '2026-11-02T10:00:00.000Z',
  api: '127.0.0.1:8080',
  iscsiPortal: '127.0.0.1:3260',
  replication: '0.0.0.0:7789',
};

async function harness(t: TestContext, options: { withService?: boolean } = {}): Promise<Harness> {
  const fake = new FakeReplication();
  let logged = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logged += chunk.toString('utf8');
      callback();
    },
  });
  // Only the replication routes are exercised; the other services are never reached.
  const ctx = {
    node: () => NODE,
    ...(options.withService === false ? {} : { replication: fake }),
  } as unknown as ApiContext;
  const noAuth = { register: () => undefined } as unknown as ApiAuth;
  const app = await buildApiApp(ctx, noAuth, createLogger({ level: 'trace', destination }));
  t.after(() => app.close());
  const responses: string[] = [];
  return {
    app,
    fake,
    everything: () => `${responses.join('\n')}\n${logged}`,
    logs: () => logged,
    async call(method, url, body) {
      const response = await app.inject({
        method,
        url,
        ...(body === undefined
          ? {}
          : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      responses.push(response.body);
      return {
        status: response.statusCode,
        text: response.body,
        body: response.body.length > 0 ? response.json<unknown>() : null,
      };
    },
  };
}

const errorCode = (body: unknown): string | undefined => (body as { error?: { code?: string } }).error?.code;

async function expectRefusal(
  h: Harness,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  body: unknown,
  status: number,
  code: string,
): Promise<void> {
  const before = h.fake.calls.filter(([m]) => !['pairing', 'task', 'volumeSettings'].includes(m)).length;
  const response = await h.call(method, url, body);
  const what = `${method} ${url} ${JSON.stringify(body)}`;
  assert.equal(response.status, status, `${what}: ${response.text}`);
  assert.equal(errorCode(response.body), code, `${what}: ${response.text}`);
  const after = h.fake.calls.filter(([m]) => !['pairing', 'task', 'volumeSettings'].includes(m)).length;
  assert.equal(after, before, `${what} changed nothing`);
}

describe('replication API: service availability', () => {
  it('answers 503 with a clear message while volume replication is not running', async (t) => {
    const h = await harness(t, { withService: false });
    for (const [method, url, body] of [
      ['GET', '/api/v1/replication/pairing', undefined],
      ['GET', '/api/v1/replication/tasks', undefined],
      ['POST', '/api/v1/replication/tasks/t1/start', undefined],
    ] as const) {
      const response = await h.call(method, url, body);
      assert.equal(response.status, 503, `${method} ${url}`);
      assert.deepEqual(response.body, {
        error: { code: 'replication-not-running', message: 'volume replication is not running' },
      });
    }
  });

  it('lists the replication routes in the OpenAPI document', async (t) => {
    const h = await harness(t);
    const response = await h.call('GET', '/api/openapi.json');
    assert.equal(response.status, 200);
    const paths = Object.keys((response.body as { paths: Record<string, unknown> }).paths);
    for (const path of [
      '/api/v1/replication/pairing',
      '/api/v1/volumes/{name}/replication',
      '/api/v1/replication/destinations',
      '/api/v1/replication/tasks',
      '/api/v1/replication/tasks/{name}/promote',
      '/api/v1/replication/tasks/{name}/resolve-split-brain',
    ]) {
      assert.ok(paths.includes(path), `OpenAPI has ${path}`);
    }
  });
});

describe('replication API: pairing', () => {
  it('pairs, shows and unpairs, and never answers with the secret', async (t) => {
    const h = await harness(t);
    const unpaired = await h.call('GET', '/api/v1/replication/pairing');
    assert.equal(unpaired.status, 200);
    assert.deepEqual(unpaired.body, {
      nodeName: 'node-a',
      listen: '0.0.0.0:7789',
      peerName: null,
      paired: false,
      tls: false,
      fingerprint: null,
      peerFingerprint: null,
    });

    const paired = await h.call('PUT', '/api/v1/replication/pairing', {
      peerName: 'node-b',
      secret: SECRET,
      tls: true,
      peerFingerprint: FINGERPRINT,
    });
    assert.equal(paired.status, 200, paired.text);
    assert.deepEqual(
      h.fake.calls.find(([m]) => m === 'pair'),
      ['pair', { peerName: 'node-b', secret: SECRET, tls: true, peerFingerprint: FINGERPRINT.toLowerCase() }],
    );
    assert.deepEqual(Object.keys(paired.body as object).sort(), [
      'fingerprint',
      'listen',
      'nodeName',
      'paired',
      'peerFingerprint',
      'peerName',
      'tls',
    ]);
    assert.equal((paired.body as PairingView).paired, true);
    assert.equal((await h.call('GET', '/api/v1/replication/pairing')).text.includes('PRIVATE KEY'), false);

    const deleted = await h.call('DELETE', '/api/v1/replication/pairing');
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.ok(h.fake.calls.some(([m]) => m === 'unpair'));
    assert.ok(!h.everything().includes(SECRET), 'the secret is in no response and no log line');
  });

  it('refuses bad pairing requests without echoing the secret', async (t) => {
    const h = await harness(t);
    const url = '/api/v1/replication/pairing';
    const good = { peerName: 'node-b', secret: SECRET };
    const cases: [string, unknown, string][] = [
      ['unknown field', { ...good, secrett: SECRET }, 'bad-request'],
      ['short secret', { ...good, secret: 'fifteen-chars!!' }, 'bad-request'],
      ['long secret', { ...good, secret: `${SECRET}${'x'.repeat(256)}` }, 'bad-request'],
      ['secret of too many bytes', { ...good, secret: `${SECRET}${'é'.repeat(200)}` }, 'bad-secret'],
      ['missing secret', { peerName: 'node-b' }, 'bad-request'],
      ['short fingerprint', { ...good, peerFingerprint: 'a'.repeat(63) }, 'bad-request'],
      ['non-hex fingerprint', { ...good, peerFingerprint: 'g'.repeat(64) }, 'bad-request'],
      ['colon fingerprint', { ...good, peerFingerprint: 'ab:'.repeat(31) + 'ab' }, 'bad-request'],
      ['tls not a boolean', { ...good, tls: 'yes' }, 'bad-request'],
      ['path in the peer name', { ...good, peerName: '../x' }, 'bad-name'],
      ['no body', undefined, 'bad-request'],
    ];
    for (const [what, body, code] of cases) {
      await t.test(what, () => expectRefusal(h, 'PUT', url, body, 400, code));
    }
    assert.ok(!h.everything().includes(SECRET), 'no refusal echoes the secret');
  });
});

describe('replication API: volume settings', () => {
  it('sets and shows a volume’s mode and mirror server', async (t) => {
    const h = await harness(t);
    const missing = await h.call('GET', '/api/v1/volumes/vol1/replication');
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing.body), 'volume-not-replicated');
    assert.match(JSON.stringify(missing.body), /vol1 has no replication settings/);

    const set = await h.call('PUT', '/api/v1/volumes/vol1/replication', {
      mode: 'source',
      mirrorServer: '192.0.2.20:7789',
      clearMetadata: true,
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.body, { volume: 'vol1', mode: 'source', mirrorServer: '192.0.2.20:7789' });
    assert.deepEqual(h.fake.calls.at(-1), [
      'setVolumeSettings',
      'vol1',
      { mode: 'source', mirrorServer: '192.0.2.20:7789', clearMetadata: true },
    ]);
    const shown = await h.call('GET', '/api/v1/volumes/vol1/replication');
    assert.deepEqual(shown.body, set.body);

    await h.call('PUT', '/api/v1/volumes/vol2/replication', {
      mode: 'destination',
      mirrorServer: '[2001:DB8::1]:7789',
    });
    assert.deepEqual(h.fake.calls.at(-1), [
      'setVolumeSettings',
      'vol2',
      { mode: 'destination', mirrorServer: '[2001:DB8::1]:7789' },
    ]);
  });

  it('refuses bad modes, bad mirror servers and bad names', async (t) => {
    const h = await harness(t);
    const put = (name: string, body: unknown, code: string): Promise<void> =>
      expectRefusal(h, 'PUT', `/api/v1/volumes/${name}/replication`, body, 400, code);
    const good = { mode: 'source', mirrorServer: '192.0.2.20:7789' };
    await put('vol1', { ...good, mode: 'both' }, 'bad-request');
    await put('vol1', { ...good, extra: 1 }, 'bad-request');
    await put('vol1', { mode: 'source' }, 'bad-request');
    for (const mirrorServer of [
      '7789',
      ':7789',
      '',
      '192.0.2.20',
      '192.0.2.20:',
      '192.0.2.20:0',
      '192.0.2.20:65536',
      'peer.example.com:7789',
      '2001:db8::1:7789',
      '192.0.2.20:77x9',
    ]) {
      await t.test(`mirror server "${mirrorServer}"`, () =>
        put('vol1', { ...good, mirrorServer }, mirrorServer === '' ? 'bad-request' : 'bad-address'),
      );
    }
    await put('..%2Fx', good, 'bad-name');
    await put('-x', good, 'bad-name');
    await expectRefusal(h, 'GET', '/api/v1/volumes/..%2Fetc/replication', undefined, 400, 'bad-name');
  });
});

describe('replication API: destinations', () => {
  it('lists the peer’s destination volumes', async (t) => {
    const h = await harness(t);
    const response = await h.call('GET', '/api/v1/replication/destinations');
    assert.equal(response.status, 200);
    assert.deepEqual(
      (response.body as DestinationVolume[]).map((d) => [d.volume, d.unavailable]),
      [
        ['remote1', null],
        ['remote2', 'mapped to a LUN'],
      ],
    );
  });
});

describe('replication API: tasks', () => {
  it('creates, lists, shows and deletes tasks', async (t) => {
    const h = await harness(t);
    const created = await h.call('POST', '/api/v1/replication/tasks', {
      name: 't2',
      volume: 'vol2',
      remoteVolume: 'remote2',
      rate: { mode: 'fixed', bytesPerSecond: '40MiB' },
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(h.fake.calls.at(-1), [
      'createTask',
      {
        name: 't2',
        volume: 'vol2',
        remoteVolume: 'remote2',
        rate: { mode: 'fixed', bytesPerSecond: 40 * MiB },
      },
    ]);
    assert.deepEqual((created.body as TaskStatus).rate, { mode: 'fixed', bytesPerSecond: 40 * MiB });

    const plain = await h.call('POST', '/api/v1/replication/tasks', {
      name: 't3',
      volume: 'vol3',
      remoteVolume: 'remote3',
    });
    assert.equal(plain.status, 201);
    assert.deepEqual(h.fake.calls.at(-1), [
      'createTask',
      { name: 't3', volume: 'vol3', remoteVolume: 'remote3' },
    ]);

    const list = await h.call('GET', '/api/v1/replication/tasks');
    assert.deepEqual(
      (list.body as TaskStatus[]).map((x) => x.name),
      ['t1', 't9_reverse', 't2', 't3'],
    );
    const shown = await h.call('GET', '/api/v1/replication/tasks/t9_reverse');
    assert.equal(shown.status, 200);
    assert.equal((shown.body as TaskStatus).direction, 'reverse');

    const missing = await h.call('GET', '/api/v1/replication/tasks/ghost');
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing.body), 'no-such-replication-task');
    const duplicate = await h.call('POST', '/api/v1/replication/tasks', {
      name: 't1',
      volume: 'vol9',
      remoteVolume: 'remote9',
    });
    assert.equal(duplicate.status, 409);
    assert.equal(errorCode(duplicate.body), 'replication-task-exists');

    const deleted = await h.call('DELETE', '/api/v1/replication/tasks/t2');
    assert.equal(deleted.status, 204);
    assert.equal((await h.call('GET', '/api/v1/replication/tasks/t2')).status, 404);
    assert.equal((await h.call('DELETE', '/api/v1/replication/tasks/t2')).status, 404);
  });

  it('refuses bad task requests', async (t) => {
    const h = await harness(t);
    const url = '/api/v1/replication/tasks';
    const good = { name: 't5', volume: 'vol5', remoteVolume: 'remote5' };
    const cases: [string, unknown, string][] = [
      ['unknown field', { ...good, peer: 'x' }, 'bad-request'],
      ['missing remote volume', { name: 't5', volume: 'vol5' }, 'bad-request'],
      ['path in the name', { ...good, name: '../x' }, 'bad-name'],
      ['path in the volume', { ...good, volume: 'a/b' }, 'bad-name'],
      ['path in the remote volume', { ...good, remoteVolume: '..' }, 'bad-name'],
      ['reserved suffix', { ...good, name: 't5_reverse' }, 'reserved-task-name'],
      ['unknown rate mode', { ...good, rate: { mode: 'turbo', bytesPerSecond: 1 } }, 'bad-request'],
      [
        'unknown rate field',
        { ...good, rate: { mode: 'fixed', bytesPerSecond: 1, burst: 2 } },
        'bad-request',
      ],
      ['zero rate', { ...good, rate: { mode: 'fixed', bytesPerSecond: 0 } }, 'bad-rate'],
      ['zero rate as text', { ...good, rate: { mode: 'fixed', bytesPerSecond: '0KiB' } }, 'bad-rate'],
      ['rate not a size', { ...good, rate: { mode: 'fixed', bytesPerSecond: 'fast' } }, 'bad-size'],
      ['rate without a mode', { ...good, rate: { bytesPerSecond: 1024 } }, 'bad-request'],
    ];
    for (const [what, body, code] of cases) {
      await t.test(what, () => expectRefusal(h, 'POST', url, body, 400, code));
    }
    for (const name of ['..%2Fx', '_reverse', '.hidden', 'x'.repeat(65)]) {
      await t.test(`task name ${name}`, () =>
        expectRefusal(h, 'GET', `/api/v1/replication/tasks/${name}`, undefined, 400, 'bad-name'),
      );
    }
    await expectRefusal(
      h,
      'GET',
      `/api/v1/replication/tasks/${'x'.repeat(80)}`,
      undefined,
      400,
      'bad-request',
    );
  });

  it('starts, stops, verifies, promotes, demotes and resolves split brain', async (t) => {
    const h = await harness(t);
    const post = (path: string, body?: unknown) =>
      h.call('POST', `/api/v1/replication/tasks/t1/${path}`, body);

    const started = await post('start');
    assert.equal(started.status, 200, started.text);
    assert.equal((started.body as TaskStatus).connection, 'connecting');
    assert.equal((await post('verify', {})).status, 200);
    assert.equal((await post('stop')).status, 200);
    assert.equal((await post('demote')).status, 200);
    assert.deepEqual(
      h.fake.calls.filter(([m]) => m !== 'task'),
      [
        ['startTask', 't1'],
        ['verify', 't1'],
        ['stopTask', 't1'],
        ['demote', 't1'],
      ],
    );

    const plain = await post('promote');
    assert.equal(plain.status, 200);
    assert.equal((plain.body as { warning?: string }).warning, undefined);
    const forced = await post('promote', { force: true });
    assert.equal(forced.status, 200);
    assert.equal((forced.body as { warning?: string }).warning, 'forced: the volume was not up to date');
    assert.deepEqual(
      h.fake.calls.filter(([m]) => m === 'promote'),
      [
        ['promote', 't1', false],
        ['promote', 't1', true],
      ],
    );

    const resolved = await post('resolve-split-brain', { discard: 'local' });
    assert.equal(resolved.status, 200);
    assert.equal((resolved.body as { copy?: string }).copy, '/srv/pool/vol1.split-brain');
    assert.deepEqual(h.fake.calls.filter(([m]) => m !== 'task').at(-1), ['resolveSplitBrain', 't1', 'local']);

    const reverse = await h.call('POST', '/api/v1/replication/tasks/t9_reverse/promote', { force: false });
    assert.equal(reverse.status, 200);
    const ghost = await h.call('POST', '/api/v1/replication/tasks/ghost/start');
    assert.equal(ghost.status, 404);
  });

  it('refuses bad action bodies and names', async (t) => {
    const h = await harness(t);
    const base = '/api/v1/replication/tasks/t1';
    await expectRefusal(h, 'POST', `${base}/start`, { now: true }, 400, 'bad-request');
    await expectRefusal(h, 'POST', `${base}/promote`, { force: 'yes' }, 400, 'bad-request');
    await expectRefusal(h, 'POST', `${base}/promote`, { force: true, really: true }, 400, 'bad-request');
    await expectRefusal(h, 'POST', `${base}/resolve-split-brain`, { discard: 'both' }, 400, 'bad-request');
    await expectRefusal(h, 'POST', `${base}/resolve-split-brain`, undefined, 400, 'bad-request');
    await expectRefusal(h, 'POST', `${base}/resolve-split-brain`, {}, 400, 'bad-request');
    await expectRefusal(h, 'POST', '/api/v1/replication/tasks/..%2Fx/stop', undefined, 400, 'bad-name');
    await expectRefusal(h, 'DELETE', '/api/v1/replication/tasks/..%2Fx', undefined, 400, 'bad-name');
  });
});

describe('replication API: secrets', () => {
  it('never shows the pair secret, through any route', async (t) => {
    const h = await harness(t);
    await h.call('PUT', '/api/v1/replication/pairing', { peerName: 'node-b', secret: SECRET, tls: true });
    const routes: ['GET' | 'PUT' | 'POST' | 'DELETE', string, unknown][] = [
      ['GET', '/api/v1/replication/pairing', undefined],
      ['PUT', '/api/v1/replication/pairing', { peerName: 'node-b', secret: SECRET }],
      ['PUT', '/api/v1/replication/pairing', { peerName: 'node-b', secret: SECRET, bogus: SECRET }],
      ['PUT', '/api/v1/volumes/vol1/replication', { mode: 'source', mirrorServer: '192.0.2.20:7789' }],
      ['GET', '/api/v1/volumes/vol1/replication', undefined],
      ['GET', '/api/v1/replication/destinations', undefined],
      ['POST', '/api/v1/replication/tasks', { name: 't7', volume: 'v7', remoteVolume: 'r7' }],
      ['GET', '/api/v1/replication/tasks', undefined],
      ['GET', '/api/v1/replication/tasks/t7', undefined],
      ['POST', '/api/v1/replication/tasks/t7/start', undefined],
      ['POST', '/api/v1/replication/tasks/t7/verify', undefined],
      ['POST', '/api/v1/replication/tasks/t7/promote', { force: true }],
      ['POST', '/api/v1/replication/tasks/t7/demote', undefined],
      ['POST', '/api/v1/replication/tasks/t7/resolve-split-brain', { discard: 'peer' }],
      ['POST', '/api/v1/replication/tasks/t7/stop', undefined],
      ['DELETE', '/api/v1/replication/tasks/t7', undefined],
      ['DELETE', '/api/v1/replication/pairing', undefined],
    ];
    for (const [method, url, body] of routes) {
      const response = await h.call(method, url, body);
      assert.ok(response.status < 500, `${method} ${url}: ${response.text}`);
    }
    assert.match(h.logs(), /incoming request/, 'the request log is captured');
    assert.ok(!h.everything().includes(SECRET), 'the secret is in no response and no log line');
    assert.ok(!h.everything().includes('PRIVATE KEY'), 'the TLS key is in no response and no log line');
  });
});
