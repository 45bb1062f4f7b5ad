// Creates and deletes around a crash's leftovers: a create that meets a file or directory no volume owns
// sets it aside (logged) and goes on, or refuses clearly (409), never fails with EEXIST; a create that
// fails leaves nothing, not even its staging file; a delete commits the row's removal first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { TandemError } from '../../../src/lib/errors.js';
import { createLogger, type Logger } from '../../../src/observability/logger.js';
import { createImageFile } from '../../../src/storage/backends/image-file.js';
import { sweepOrphans } from '../../../src/volumes/orphan-sweep.js';
import { ORPHANS_DIR } from '../../../src/volumes/set-aside.js';
import { makeServices } from '../../helpers/services.js';
import { tempDir } from '../../helpers/temp-dir.js';

const MiB = 2 ** 20;

function capturedLogger(): { logger: Logger; warnings: () => string[] } {
  let text = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return {
    logger: createLogger({ level: 'debug', destination: sink }),
    warnings: () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level === 40)
        .map((l) => l.msg),
  };
}

describe('volume create and delete around leftovers', () => {
  it('a create over a leftover image, metadata file or NAS directory sets it aside and succeeds', async (t) => {
    const { logger, warnings } = capturedLogger();
    const s = await makeServices(t, { logger });
    const pool = s.pools.defaultPool().path;
    writeFileSync(join(pool, 'volumes', 'x.img'), 'old data of x');
    writeFileSync(join(pool, 'volumes', 'x.img.replication'), 'stale metadata of x');
    writeFileSync(join(pool, 'volumes', 'y.img'), 'old data of y');
    mkdirSync(join(pool, 'nas', 'z'));
    writeFileSync(join(pool, 'nas', 'z', 'keep.txt'), 'old data of z');

    const x = await s.volumes.create({ name: 'x', type: 'iscsi', size: MiB });
    const y = await s.volumes.create({ name: 'y', type: 'iscsi', size: 4 * MiB, provisioning: 'thick' });
    const z = await s.volumes.create({ name: 'z', type: 'nas', size: MiB });

    assert.equal(statSync(x.path).size, MiB);
    assert.ok(!existsSync(`${x.path}.replication`), 'stale metadata must not be taken for the new volume');
    assert.ok(statSync(y.path).blocks * 512 >= 4 * MiB);
    assert.deepEqual(readdirSync(z.path), []);
    const orphans = join(pool, ORPHANS_DIR);
    const set = readdirSync(orphans).sort();
    assert.equal(set.length, 4);
    const find = (suffix: string): string => {
      const name = set.find((n) => n.endsWith(suffix));
      assert.ok(name, `${suffix} in ${set.join(', ')}`);
      return join(orphans, name);
    };
    assert.equal(readFileSync(find('-x.img'), 'utf8'), 'old data of x');
    assert.equal(readFileSync(find('-x.img.replication'), 'utf8'), 'stale metadata of x');
    assert.equal(readFileSync(find('-y.img'), 'utf8'), 'old data of y');
    assert.equal(readFileSync(join(find('-z'), 'keep.txt'), 'utf8'), 'old data of z');
    assert.equal(warnings().filter((w) => w.includes('set aside to')).length, 4);
  });

  it('refuses with 409 volume-leftover when the leftover cannot be set aside, and changes nothing', async (t) => {
    const s = await makeServices(t);
    const pool = s.pools.defaultPool().path;
    writeFileSync(join(pool, 'volumes', 'x.img'), 'old data of x');
    writeFileSync(join(pool, ORPHANS_DIR), 'a file where the orphans folder should be');
    const error = await s.volumes.create({ name: 'x', type: 'iscsi', size: MiB }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TandemError);
    assert.equal(error.kind, 'conflict');
    assert.equal(error.code, 'volume-leftover');
    assert.match(error.message, /x\.img/);
    assert.equal(s.repos.volumes.byName('x'), undefined);
    assert.equal(readFileSync(join(pool, 'volumes', 'x.img'), 'utf8'), 'old data of x');
  });

  it('a failed image create leaves neither the file nor its staging file', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'big.img');
    // More than any filesystem here can preallocate: fallocate fails after the staging file exists.
    await assert.rejects(createImageFile(path, 2 ** 52, 'thick'));
    assert.deepEqual(readdirSync(dir), []);
    await createImageFile(path, MiB, 'thin');
    assert.deepEqual(readdirSync(dir), ['big.img']);
    await assert.rejects(createImageFile(path, MiB, 'thin'), { code: 'EEXIST' });
    assert.deepEqual(readdirSync(dir), ['big.img'], 'an existing file is never replaced');
    assert.equal(statSync(path).size, MiB);
  });

  it('a delete removes the image and its replication metadata', async (t) => {
    const s = await makeServices(t);
    const v = await s.volumes.create({ name: 'gone', type: 'iscsi', size: MiB });
    writeFileSync(`${v.path}.replication`, 'metadata');
    await s.volumes.delete('gone');
    assert.ok(!existsSync(v.path));
    assert.ok(!existsSync(`${v.path}.replication`));
  });

  it('a delete whose data cannot be removed still deletes the volume; the sweep sets the data aside', async (t) => {
    const { logger, warnings } = capturedLogger();
    const s = await makeServices(t, { logger });
    const v = await s.volumes.create({ name: 'stuck', type: 'nas', size: MiB });
    const file = join(v.path, 'immutable');
    writeFileSync(file, 'cannot be removed');
    if (spawnSync('chattr', ['+i', file]).status !== 0) {
      t.skip('this filesystem has no immutable flag');
      return;
    }
    try {
      await s.volumes.delete('stuck');
      assert.equal(s.repos.volumes.byName('stuck'), undefined, 'the row went first');
      assert.ok(existsSync(file), 'the data could not be removed');
      assert.ok(warnings().some((w) => w.includes('could not be removed')));
      const report = await sweepOrphans(s.repos, logger);
      assert.equal(report.setAside.length, 1);
      assert.ok(!existsSync(v.path));
      await s.volumes.create({ name: 'stuck', type: 'nas', size: MiB });
      assert.deepEqual(readdirSync(v.path), []);
    } finally {
      // Before the temporary directory's removal, which cannot lift the flag.
      spawnSync('chattr', ['-R', '-f', '-i', s.dir]);
    }
  });
});
