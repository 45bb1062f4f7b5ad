// Volume create and delete survive kill -9 at any point: the real daemon is killed at a random moment
// during a burst of parallel creates (thin, thick, NAS) and deletes, round after round on the same data
// dir. After every restart each listed volume has its file or directory, everything in the pools'
// volumes/ and nas/ folders belongs to a listed volume (the rest was set aside into orphans/), and
// every name tried can be created again (201, or 409 volume-exists), never a 500.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/temp-dir.js';

const PASSWORD = 'volume-crash-password';
const ROUNDS = 12;
const NAMES = 24;
const MiB = 2 ** 20;

interface VolumeView {
  name: string;
  type: 'iscsi' | 'nas' | 'fc';
  size: number;
  path: string;
  pool: string;
}

interface PoolView {
  name: string;
  path: string;
}

/** A small seeded generator (mulberry32), so a failing run can be repeated with VOLUME_CRASH_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** JSON in and out, authenticated, with the header every mutating request of a client carries. */
async function call(
  daemon: Daemon,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`,
    'x-tandem-client': '1',
  };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${daemon.apiUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? (JSON.parse(text) as unknown) : null };
}

/** Each name keeps one kind, so creating it again is always the same request. */
function createBody(name: string): Record<string, unknown> {
  const i = Number(name.slice(1));
  if (i % 3 === 0) return { name, type: 'nas', size: 64 * MiB };
  if (i % 3 === 1) return { name, type: 'iscsi', size: 4 * MiB };
  return { name, type: 'iscsi', size: (4 + (i % 4)) * MiB, provisioning: 'thick' };
}

const codeOf = (body: unknown): unknown => (body as { error?: { code?: unknown } } | null)?.error?.code;

/** The state after a restart: every volume whole, every file owned; returns the orphans so far. */
async function checkConsistent(daemon: Daemon, round: number): Promise<number> {
  const volumes = (await call(daemon, 'GET', '/api/v1/volumes')).body as VolumeView[];
  const pools = (await call(daemon, 'GET', '/api/v1/pools')).body as PoolView[];
  for (const v of volumes) {
    const stats = lstatSync(v.path, { throwIfNoEntry: false });
    if (v.type === 'nas') {
      assert.ok(stats?.isDirectory(), `round ${round}: NAS volume ${v.name} has its directory`);
    } else {
      assert.ok(stats?.isFile(), `round ${round}: volume ${v.name} has its image`);
      assert.equal(stats?.size, v.size, `round ${round}: the image of ${v.name} is complete`);
    }
  }
  let orphans = 0;
  for (const pool of pools) {
    const mine = volumes.filter((v) => v.pool === pool.name);
    const owned = (type: 'block' | 'nas'): string[] =>
      mine.filter((v) => (v.type === 'nas') === (type === 'nas')).map((v) => basename(v.path));
    assert.deepEqual(
      readdirSync(join(pool.path, 'volumes')).sort(),
      owned('block').sort(),
      `round ${round}: every image file in pool ${pool.name} is a volume's`,
    );
    assert.deepEqual(
      readdirSync(join(pool.path, 'nas')).sort(),
      owned('nas').sort(),
      `round ${round}: every NAS directory in pool ${pool.name} is a volume's`,
    );
    const orphansDir = join(pool.path, 'orphans');
    if (lstatSync(orphansDir, { throwIfNoEntry: false })) orphans += readdirSync(orphansDir).length;
  }
  return orphans;
}

/** Creates every name: each answers 201, or 409 volume-exists when it is there already. */
async function recreateAll(daemon: Daemon, names: Iterable<string>, round: number): Promise<void> {
  for (const name of names) {
    const r = await call(daemon, 'POST', '/api/v1/volumes', createBody(name));
    assert.ok(
      r.status === 201 || (r.status === 409 && codeOf(r.body) === 'volume-exists'),
      `round ${round}: create ${name} answered ${r.status} ${JSON.stringify(r.body)}`,
    );
  }
}

describe('volumes across kill -9', () => {
  it('leave no orphan behind and every name usable again, round after round', async (t) => {
    const seed = Number(process.env.VOLUME_CRASH_SEED ?? Date.now() % 2 ** 31);
    const rand = random(seed);
    const dataDir = join(tempDir(t), 'var');
    const pool = join(dataDir, 'pools', 'default');
    const env = { TANDEM_ADMIN_PASSWORD: PASSWORD };
    const names = Array.from({ length: NAMES }, (_, i) => `v${String(i).padStart(2, '0')}`);
    let kills = 0;
    let answered = 0;
    let cutOff = 0;
    const setAside = { sweep: 0, create: 0 };
    const countSetAside = (daemon: Daemon): void => {
      for (const line of daemon.output().split('\n')) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as { msg?: string; to?: string; volume?: string };
        if (record.to === undefined || record.msg?.includes('set aside to') !== true) continue;
        if (record.volume === undefined) setAside.sweep += 1;
        else setAside.create += 1;
      }
    };

    for (let round = 0; ; round += 1) {
      if (round === ROUNDS) {
        // Leftovers of every kind, planted while no daemon runs: the start-up sweep sets them aside.
        writeFileSync(join(pool, 'volumes', 'swept.img'), 'left over');
        writeFileSync(join(pool, 'volumes', 'swept.img.replication'), 'left over');
        writeFileSync(join(pool, 'volumes', '.creating.0123abcd.half.img'), 'half made');
        mkdirSync(join(pool, 'nas', 'swept-nas'));
      }
      const daemon = await startDaemon(t, dataDir, { env });
      const orphans = await checkConsistent(daemon, round);
      await recreateAll(daemon, names, round);

      if (round === ROUNDS) {
        // Leftovers appearing under a running daemon: the create sets them aside and succeeds.
        writeFileSync(join(pool, 'volumes', 'planted.img'), 'left over');
        mkdirSync(join(pool, 'nas', 'planted-nas'));
        const a = await call(daemon, 'POST', '/api/v1/volumes', {
          name: 'planted',
          type: 'iscsi',
          size: MiB,
        });
        const b = await call(daemon, 'POST', '/api/v1/volumes', {
          name: 'planted-nas',
          type: 'nas',
          size: MiB,
        });
        assert.deepEqual([a.status, b.status], [201, 201], JSON.stringify([a.body, b.body]));
        const after = await checkConsistent(daemon, round);
        assert.equal(after, orphans + 2, 'both leftovers were set aside');
        assert.equal(await daemon.stop(), 0);
        countSetAside(daemon);
        t.diagnostic(
          `seed ${seed}: ${ROUNDS} rounds, ${kills} kills (${answered} requests answered, ${cutOff} cut off); ` +
            `${after} orphans in ${join(pool, 'orphans')}: ${setAside.sweep} set aside by start-up sweeps ` +
            `(4 planted), ${setAside.create} by creates (2 planted)`,
        );
        assert.equal(setAside.sweep + setAside.create, after, 'every orphan was logged');
        break;
      }

      // A burst: every name deleted and created twice, in random order, all at once; then kill -9.
      const ops = names.flatMap((name) =>
        ['delete', 'create', 'delete', 'create'].map((op) => ({ op, name })),
      );
      for (let i = ops.length - 1; i > 0; i -= 1) {
        const j = Math.floor(rand() * (i + 1));
        [ops[i], ops[j]] = [ops[j]!, ops[i]!];
      }
      const statuses: number[] = [];
      const burst = ops.map(({ op, name }) =>
        (op === 'create'
          ? call(daemon, 'POST', '/api/v1/volumes', createBody(name))
          : call(daemon, 'DELETE', `/api/v1/volumes/${name}`)
        ).then(
          (r) => statuses.push(r.status),
          () => (cutOff += 1),
        ),
      );
      await sleep(20 + Math.floor(rand() * 900));
      await daemon.stop('SIGKILL');
      kills += 1;
      countSetAside(daemon);
      await Promise.all(burst);
      answered += statuses.length;
      assert.deepEqual(
        statuses.filter((s) => s >= 500),
        [],
        `round ${round}: no request failed with a server error`,
      );
    }
  });
});
