import assert from 'node:assert/strict';
import {
  chmodSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  checkSecretsFile,
  removeStaleSecrets,
  writeFileAtomic,
} from '../../../../src/datarep/agent/agent-files.js';
import { isTandemError } from '../../../../src/lib/errors.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const unsafe = (error: unknown): boolean => isTandemError(error) && error.code === 'agent-secrets-unsafe';

test('atomic write: content replaced, mode exact despite the umask, no temp file left', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'rsyncd.conf');
  writeFileSync(path, 'old', { mode: 0o644 });
  const umask = process.umask(0o077);
  try {
    await writeFileAtomic(path, 'new content\n', 0o600);
  } finally {
    process.umask(umask);
  }
  assert.equal(readFileSync(path, 'utf8'), 'new content\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['rsyncd.conf']);
});

test('secrets files must be 0600 or stricter, plain files', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'office.secrets');
  writeFileSync(path, 'alice:pw\n', { mode: 0o600 });
  await checkSecretsFile(path);
  chmodSync(path, 0o400);
  await checkSecretsFile(path);
  for (const loose of [0o640, 0o604, 0o644, 0o660, 0o606, 0o700 | 0o010]) {
    chmodSync(path, loose);
    await assert.rejects(checkSecretsFile(path), unsafe, loose.toString(8));
  }
  chmodSync(path, 0o600);
  symlinkSync(path, join(dir, 'link.secrets'));
  await assert.rejects(checkSecretsFile(join(dir, 'link.secrets')), unsafe, 'a symlink, even to a 0600 file');
  mkdirSync(join(dir, 'a-dir'), { mode: 0o700 });
  await assert.rejects(checkSecretsFile(join(dir, 'a-dir')), unsafe);
  await assert.rejects(
    checkSecretsFile(join(dir, 'missing')),
    (e: unknown) => isTandemError(e) && e.code === 'agent-secrets-missing',
  );
});

test('stale secrets files are removed, used ones kept', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.secrets'), 'x');
  writeFileSync(join(dir, 'b.secrets'), 'x');
  symlinkSync('/etc/passwd', join(dir, 'c.secrets'));
  await removeStaleSecrets(dir, new Set([join(dir, 'a.secrets')]));
  assert.deepEqual(readdirSync(dir), ['a.secrets']);
});
