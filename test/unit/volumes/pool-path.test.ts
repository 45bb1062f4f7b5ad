import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../../../src/lib/errors.js';
import { checkPoolPathText, checkPoolPathUsable } from '../../../src/volumes/pool-path.js';
import { tempDir } from '../../helpers/temp-dir.js';

const refusedWith = (pattern: RegExp) => (error: unknown) =>
  error instanceof TandemError && error.code === 'bad-pool-path' && pattern.test(error.message);

describe('pool paths', () => {
  it('refuses control characters, relative paths, the root and system trees', () => {
    const cases: [string, RegExp][] = [
      ['/srv/pool\u0000x', /control characters/],
      ['/srv/po\nol', /control characters/],
      ['srv/pool', /absolute/],
      ['/', /root/],
      ['/srv/..', /root/],
      ['/proc', /belongs to the system/],
      ['/proc/self/cwd', /belongs to the system/],
      ['/sys/kernel', /belongs to the system/],
      ['/dev/shm/pool', /belongs to the system/],
      ['/srv/../etc/pool', /belongs to the system/],
      ['/usr', /belongs to the system/],
    ];
    for (const [path, pattern] of cases)
      assert.throws(() => checkPoolPathText(path), refusedWith(pattern), path);
  });

  it('accepts ordinary directories, normalized', () => {
    assert.equal(checkPoolPathText('/srv/pools/p1/'), '/srv/pools/p1');
    assert.equal(checkPoolPathText('/mnt/data/../pool'), '/mnt/pool');
    assert.equal(checkPoolPathText('/processing'), '/processing', 'only whole path components match');
  });

  it('refuses a path under a file, and a directory the daemon cannot write', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), 'x');
    await assert.rejects(checkPoolPathUsable(join(dir, 'file', 'pool')), refusedWith(/not a directory/));
    await checkPoolPathUsable(join(dir, 'new', 'deeper'));
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      await assert.rejects(checkPoolPathUsable(join(locked, 'pool')), refusedWith(/not writable/));
    }
  });
});
