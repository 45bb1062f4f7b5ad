import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTandemError } from '../../../src/lib/errors.js';
import { pathsOverlap, secureShareDirectory } from '../../../src/nas/share-paths.js';
import { tempDir } from '../../helpers/temp-dir.js';

const unsafe = (error: unknown): boolean => isTandemError(error) && error.code === 'share-path-unsafe';

test('a share directory is made inside the volume', async (t) => {
  const volume = join(tempDir(t), 'vol');
  mkdirSync(volume);
  assert.equal(await secureShareDirectory(volume, 'a/b c', { create: true }), join(volume, 'a', 'b c'));
  assert.ok(existsSync(join(volume, 'a', 'b c')));
  assert.equal(await secureShareDirectory(volume, '', { create: false }), volume);
  await assert.rejects(
    secureShareDirectory(volume, 'missing', { create: false }),
    (e: unknown) => isTandemError(e) && e.code === 'share-path-missing',
  );
});

test('a symlink anywhere on the way is refused, even one pointing inside', async (t) => {
  const dir = tempDir(t);
  const volume = join(dir, 'vol');
  mkdirSync(join(volume, 'real'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  symlinkSync(join(dir, 'outside'), join(volume, 'out'));
  symlinkSync('real', join(volume, 'alias'));
  await assert.rejects(secureShareDirectory(volume, 'out', { create: true }), unsafe);
  await assert.rejects(secureShareDirectory(volume, 'out/deeper', { create: true }), unsafe);
  await assert.rejects(secureShareDirectory(volume, 'alias', { create: true }), unsafe);
  assert.ok(!existsSync(join(dir, 'outside', 'deeper')), 'nothing was made outside');
  // The volume root itself must not be a symlink either.
  symlinkSync(volume, join(dir, 'vol-link'));
  await assert.rejects(secureShareDirectory(join(dir, 'vol-link'), 'real', { create: false }), unsafe);
});

test('a file where a directory should be is refused', async (t) => {
  const volume = tempDir(t);
  writeFileSync(join(volume, 'file'), 'x');
  await assert.rejects(secureShareDirectory(volume, 'file', { create: true }), unsafe);
  await assert.rejects(secureShareDirectory(volume, 'file/sub', { create: true }), unsafe);
});

test('share paths of one volume overlap when one contains the other', () => {
  assert.ok(pathsOverlap('', 'a'));
  assert.ok(pathsOverlap('a', 'a'));
  assert.ok(pathsOverlap('a', 'a/b'));
  assert.ok(pathsOverlap('a/b', 'a'));
  assert.ok(!pathsOverlap('a', 'ab'));
  assert.ok(!pathsOverlap('a/b', 'a/c'));
});
