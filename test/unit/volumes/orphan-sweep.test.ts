// The start-up sweep: what a crash left in a pool's volumes/ and nas/ folders that no volume owns is set
// aside into POOL/orphans (never deleted, each with a warning), everything owned or foreign stays, and
// the names can be used again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../../../src/observability/logger.js';
import { POOL_MARKER } from '../../../src/volumes/pool-service.js';
import { sweepOrphans } from '../../../src/volumes/orphan-sweep.js';
import { ORPHANS_DIR } from '../../../src/volumes/set-aside.js';
import { canMountBtrfs, mountBtrfs } from '../../helpers/btrfs-loop.js';
import { makeServices, type TestServices } from '../../helpers/services.js';

const MiB = 2 ** 20;
const AT = new Date('2026-03-01T10:20:30.456Z');
const STAMP = '20260301T102030Z';

interface LogLine {
  level: number;
  msg: string;
  path?: string;
  to?: string;
}

function capturedLogger(): { logger: Logger; lines: () => LogLine[] } {
  let text = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return {
    logger: createLogger({ level: 'debug', destination: sink }),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine),
  };
}

/** Every path under `dir` (relative), with a file's content, to show that nothing changed. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      const key = relative(dir, path);
      if (entry.isDirectory()) {
        out[`${key}/`] = '';
        walk(path);
      } else if (entry.isFile()) {
        out[key] = readFileSync(path, 'latin1').replace(/\0+/g, '');
      } else {
        out[key] = entry.isSymbolicLink() ? 'symlink' : 'other';
      }
    }
  };
  walk(dir);
  return out;
}

function poolPath(s: TestServices): string {
  return s.pools.defaultPool().path;
}

describe('orphan sweep', () => {
  it('leaves owned files, split-brain copies, foreign entries and the rest of the pool alone', async (t) => {
    const s = await makeServices(t);
    const pool = poolPath(s);
    const blk = await s.volumes.create({ name: 'blk', type: 'iscsi', size: MiB });
    const thick = await s.volumes.create({
      name: 'thick',
      type: 'iscsi',
      size: 4 * MiB,
      provisioning: 'thick',
    });
    const fc = await s.volumes.create({ name: 'fc1', type: 'fc', size: MiB });
    const nas = await s.volumes.create({ name: 'share', type: 'nas', size: 16 * MiB });
    writeFileSync(join(nas.path, 'data.txt'), 'user data');
    writeFileSync(`${blk.path}.replication`, 'metadata of a replicated volume');
    writeFileSync(`${blk.path}.split-brain-2026-01-01T00-00-00-000Z`, 'a split-brain copy');
    writeFileSync(join(pool, 'volumes', 'notes.txt'), 'an administrator put this here');
    mkdirSync(join(pool, 'volumes', 'folder.img'));
    symlinkSync(thick.path, join(pool, 'volumes', 'link.img'));
    symlinkSync(nas.path, join(pool, 'nas', 'alias'));
    writeFileSync(join(pool, 'nas', 'file-not-dir'), 'x');
    mkdirSync(join(pool, 'nas', '.hidden'));
    mkdirSync(join(pool, 'nas-snapshots', 'gone-volume', 'snap1'), { recursive: true });
    writeFileSync(join(pool, 'meta', 'something'), 'x');
    const before = tree(pool);

    const { logger, lines } = capturedLogger();
    const report = await sweepOrphans(s.repos, logger, () => AT);

    assert.deepEqual(report, { setAside: [], missing: [], failed: [] });
    assert.deepEqual(tree(pool), before, 'nothing moved');
    assert.ok(!existsSync(join(pool, ORPHANS_DIR)));
    assert.ok(statSync(fc.path).isFile());
    const leftAlone = lines()
      .filter((l) => l.msg.includes('left where it is'))
      .map((l) => relative(pool, l.path ?? ''))
      .sort();
    assert.deepEqual(leftAlone, [
      'nas/.hidden',
      'nas/alias',
      'nas/file-not-dir',
      'volumes/blk.img.split-brain-2026-01-01T00-00-00-000Z',
      'volumes/folder.img',
      'volumes/link.img',
      'volumes/notes.txt',
    ]);
  });

  it('sets aside unowned images, metadata, staging files and NAS directories; the names work again', async (t) => {
    const s = await makeServices(t);
    const pool = poolPath(s);
    const a = await s.volumes.create({ name: 'a', type: 'iscsi', size: MiB });
    const n = await s.volumes.create({ name: 'n', type: 'nas', size: MiB });
    const kept = await s.volumes.create({ name: 'kept', type: 'iscsi', size: MiB });
    writeFileSync(a.path, 'data of a');
    writeFileSync(`${a.path}.replication`, 'metadata of a');
    writeFileSync(join(n.path, 'f'), 'data of n');
    // A delete killed after its row was committed: the rows are gone, the data is not.
    s.repos.volumes.delete(a.id);
    s.repos.volumes.delete(n.id);
    // Creates killed before their row was committed.
    writeFileSync(join(pool, 'volumes', 'b.img'), 'complete image of b');
    writeFileSync(join(pool, 'volumes', '.creating.0123abcd.c.img'), 'half-allocated c');
    mkdirSync(join(pool, 'nas', 'm'));
    // A NAS volume's name under volumes/ (and a block volume's under nas/) is not owned either.
    writeFileSync(join(pool, 'volumes', 'kept.img.replication'), 'owned: kept is a block volume');

    const { logger, lines } = capturedLogger();
    const report = await sweepOrphans(s.repos, logger, () => AT);

    const orphans = join(pool, ORPHANS_DIR);
    assert.deepEqual(readdirSync(orphans).sort(), [
      `${STAMP}-a.img`,
      `${STAMP}-a.img.replication`,
      `${STAMP}-b.img`,
      `${STAMP}-c.img.incomplete`,
      `${STAMP}-m`,
      `${STAMP}-n`,
    ]);
    assert.equal(readFileSync(join(orphans, `${STAMP}-a.img`), 'utf8'), 'data of a');
    assert.equal(readFileSync(join(orphans, `${STAMP}-n`, 'f'), 'utf8'), 'data of n');
    assert.equal(readFileSync(join(orphans, `${STAMP}-c.img.incomplete`), 'utf8'), 'half-allocated c');
    assert.deepEqual(readdirSync(join(pool, 'volumes')).sort(), ['kept.img', 'kept.img.replication']);
    assert.deepEqual(readdirSync(join(pool, 'nas')), []);
    assert.equal(report.setAside.length, 6);
    assert.deepEqual(report.missing, []);
    assert.deepEqual(report.failed, []);
    const warnings = lines().filter((l) => l.level === 40 && l.msg.includes('set aside to'));
    assert.equal(warnings.length, 6, 'one warning per entry, saying where it went');
    for (const w of warnings) assert.ok(w.to && w.msg.endsWith(w.to), w.msg);
    assert.ok(statSync(kept.path).isFile());

    for (const name of ['a', 'b', 'c']) await s.volumes.create({ name, type: 'iscsi', size: MiB });
    for (const name of ['m', 'n']) await s.volumes.create({ name, type: 'nas', size: MiB });
    assert.equal(statSync(join(pool, 'volumes', 'a.img')).size, MiB, 'a fresh image, not the old data');
    assert.deepEqual(readdirSync(join(pool, 'nas', 'n')), []);

    // Swept again: all owned now. A new leftover with a name already in orphans/ gets a free name.
    s.repos.volumes.delete(s.volumes.get('b').id);
    const again = await sweepOrphans(s.repos, logger, () => AT);
    assert.deepEqual(
      again.setAside.map((e) => relative(orphans, e.to)),
      [`${STAMP}-b.img-2`],
    );
    assert.equal(readFileSync(join(orphans, `${STAMP}-b.img`), 'utf8'), 'complete image of b');
  });

  it('reports catalogued volumes whose data is missing, and changes nothing for them', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({ name: 'lost', type: 'iscsi', size: MiB });
    spawnSync('rm', ['-f', v.path]);
    const { logger, lines } = capturedLogger();
    const report = await sweepOrphans(s.repos, logger, () => AT);
    assert.deepEqual(report.missing, [{ volume: 'lost', path: v.path }]);
    assert.ok(s.repos.volumes.byName('lost'), 'the row stays');
    assert.ok(lines().some((l) => l.level === 50 && l.msg.includes('no image file or directory')));
  });

  it('does not sweep a pool whose directory is not marked as that pool', async (t) => {
    const s = await makeServices(t);
    const other = join(s.dir, 'other-pool');
    await s.pools.create({ name: 'other', path: other });
    writeFileSync(join(other, 'volumes', 'z.img'), 'unowned');
    writeFileSync(join(other, POOL_MARKER), 'some-other-pool-id\n');
    const { logger, lines } = capturedLogger();
    const report = await sweepOrphans(s.repos, logger, () => AT);
    assert.deepEqual(report.setAside, []);
    assert.ok(existsSync(join(other, 'volumes', 'z.img')));
    assert.ok(lines().some((l) => l.level === 40 && l.msg.includes('not swept')));
  });

  it(
    'sets aside an unowned NAS subvolume on btrfs in one rename',
    { skip: canMountBtrfs !== true && canMountBtrfs },
    async (t) => {
      const mountPoint = mountBtrfs(t);
      if (mountPoint === undefined) return;
      const s = await makeServices(t);
      await s.pools.create({ name: 'fast', path: join(mountPoint, 'pool') });
      const v = await s.volumes.create({ name: 'sub', type: 'nas', size: 16 * MiB, pool: 'fast' });
      const isSubvolume = (path: string): boolean => statSync(path).ino === 256;
      assert.ok(isSubvolume(v.path), 'on btrfs a NAS volume is a subvolume');
      writeFileSync(join(v.path, 'f'), 'data');
      s.repos.volumes.delete(v.id);

      const report = await sweepOrphans(s.repos, capturedLogger().logger, () => AT);

      const moved = join(mountPoint, 'pool', ORPHANS_DIR, `${STAMP}-sub`);
      assert.deepEqual(
        report.setAside.map((e) => e.to),
        [moved],
      );
      assert.ok(isSubvolume(moved), 'still a subvolume after the move');
      assert.equal(readFileSync(join(moved, 'f'), 'utf8'), 'data');
      const again = await s.volumes.create({ name: 'sub', type: 'nas', size: 16 * MiB, pool: 'fast' });
      assert.ok(isSubvolume(again.path));
    },
  );
});
