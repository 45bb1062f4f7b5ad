import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isTandemError } from '../../../src/lib/errors.js';
import {
  normaliseRelativePath,
  validateAllowedHosts,
  validateComment,
  validateReplicationId,
  validateReplicationPassword,
  validateShareName,
} from '../../../src/nas/validation.js';

const refuses = (fn: () => unknown, code: string): void => {
  assert.throws(
    fn,
    (error: unknown) => isTandemError(error) && error.kind === 'invalid' && error.code === code,
  );
};

test('share names: the safe alphabet only', () => {
  for (const good of ['office', 'Office-2', 'a', 'backup_2026.q4', 'x'.repeat(64)]) {
    assert.equal(validateShareName(good), good);
  }
  const bad = [
    '',
    '..',
    '../x',
    'a/b',
    '/abs',
    'a;rm',
    'a;rm -rf /',
    '$(reboot)',
    '`id`',
    'a|b',
    'a&b',
    'a>b',
    'a b',
    'tab\tname',
    'new\nline',
    '.hidden',
    '-option',
    '_under',
    'a..b',
    'x'.repeat(65),
    'quote"',
    "quote'",
    'star*',
    'back\\slash',
    'ünï',
    'a:b',
    'a@b',
    '[global]',
  ];
  for (const name of bad) refuses(() => validateShareName(name), 'bad-name');
});

test('share paths are normalised and cannot leave the volume', () => {
  const good: [string, string][] = [
    ['office', 'office'],
    ['a/b/c', 'a/b/c'],
    ['a//b/', 'a/b'],
    ['./a/./b', 'a/b'],
    ['', ''],
    ['.', ''],
    ['./', ''],
    ['Office Docs/2026', 'Office Docs/2026'],
    ['ünïcode', 'ünïcode'],
  ];
  for (const [input, expected] of good) assert.equal(normaliseRelativePath(input), expected, input);
  const bad = [
    '../../etc',
    '..',
    'a/../../b',
    'a/..',
    '/etc',
    '/',
    'a\\b',
    'a\nb',
    'a\u0000b',
    '%HOME%',
    'a/.hidden',
    '.ssh',
    '-rf',
    ' lead',
    'trail ',
    'x'.repeat(1025),
    'y'.repeat(256),
  ];
  for (const input of bad) refuses(() => normaliseRelativePath(input), 'bad-share-path');
});

test('comments are one line and cannot carry rsync %VAR% references', () => {
  assert.equal(validateComment('  Office files, 50% full '), 'Office files, 50% full');
  refuses(() => validateComment('two\nlines'), 'bad-comment');
  refuses(() => validateComment('tab\there'), 'bad-comment');
  refuses(() => validateComment('home is %HOME%'), 'bad-comment');
  refuses(() => validateComment('x'.repeat(256)), 'bad-comment');
});

test('replication IDs and passwords fit an rsync secrets line', () => {
  assert.equal(validateReplicationId('alice'), 'alice');
  for (const id of ['', 'a:b', 'a b', 'a,b', '-x', 'a\nb'])
    refuses(() => validateReplicationId(id), 'bad-name');
  assert.equal(validateReplicationPassword('pass:word with spaces'), 'pass:word with spaces');
  for (const pw of ['short', ' leading-space', 'trailing-space ', 'new\nline1234', 'x'.repeat(257)]) {
    refuses(() => validateReplicationPassword(pw), 'bad-password');
  }
});

test('allowed hosts: addresses, prefixes and host name patterns, normalised', () => {
  assert.deepEqual(
    validateAllowedHosts(['192.0.2.7', '10.0.0.0/8', 'fd00::/8', '*.Example.com', '10.0.0.0/8']),
    ['192.0.2.7', '10.0.0.0/8', 'fd00::/8', '*.example.com'],
  );
  for (const bad of ['10.0.0.0/33', 'a b', 'host;rm', '', '-x', 'a..b', '1.2.3.4/x']) {
    refuses(() => validateAllowedHosts([bad]), 'bad-allowed-hosts');
  }
});

test('property: whatever is typed, an accepted share path resolves inside the volume', () => {
  const piece = fc.constantFrom('a', 'b', '..', '.', '', ' ', '-', '%', '\\', '\n', 'ü', '/', '//', 'x y');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), fc.string({ maxLength: 12 }), (pieces, noise) => {
      const text = pieces.join('/') + noise;
      let normal: string;
      try {
        normal = normaliseRelativePath(text);
      } catch (error) {
        assert.ok(isTandemError(error) && error.code === 'bad-share-path');
        return;
      }
      const resolved = posix.resolve('/vol', normal);
      assert.ok(
        resolved === '/vol' || resolved.startsWith('/vol/'),
        `${JSON.stringify(text)} -> ${resolved}`,
      );
      assert.ok(!normal.split('/').includes('..'));
      assert.ok(!normal.startsWith('/'));
      assert.equal(normaliseRelativePath(normal), normal, 'normalising is idempotent');
    }),
    { numRuns: 2000 },
  );
});

test('property: an accepted share name has no path, shell or rsync meaning', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 70 }), (name) => {
      try {
        validateShareName(name);
      } catch {
        return;
      }
      assert.match(name, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
      assert.ok(!name.includes('..'));
    }),
    { numRuns: 2000 },
  );
});
