// Writing the agent's files so that rsync never sees half of one (temp file + fsync + rename, mode set
// at creation), and checking the secrets files' modes before rsync is started.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TandemError } from '../../lib/errors.js';

/** Replaces `path` with `content` atomically; the file never exists with a looser mode than `mode`. */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode); // the umask may have taken bits away; never added any
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Refuses a secrets file that is missing, not a regular file, or readable or writable by anyone but
 * its owner (mode looser than 0600), or not owned by us. A symlink is refused too (lstat).
 */
export async function checkSecretsFile(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch {
    throw new TandemError('internal', 'agent-secrets-missing', `the agent's secrets file ${path} is missing`);
  }
  if (!stats.isFile()) {
    throw new TandemError(
      'internal',
      'agent-secrets-unsafe',
      `the agent's secrets file ${path} is not a file`,
    );
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new TandemError(
      'internal',
      'agent-secrets-unsafe',
      `the agent's secrets file ${path} has mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}; ` +
        'it must be 0600 or stricter, so the agent was not started',
    );
  }
  if (typeof process.getuid === 'function' && stats.uid !== process.getuid()) {
    throw new TandemError(
      'internal',
      'agent-secrets-unsafe',
      `the agent's secrets file ${path} belongs to uid ${stats.uid}, not to us`,
    );
  }
}

/** The agent's directory in the data dir: 0700 (config, secrets, lock file). */
export async function prepareAgentDir(dir: string): Promise<void> {
  await mkdir(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
}

/** Removes secrets files that no module uses any more. */
export async function removeStaleSecrets(secretsDir: string, keep: ReadonlySet<string>): Promise<void> {
  for (const entry of await readdir(secretsDir)) {
    const path = join(secretsDir, entry);
    if (!keep.has(path)) await rm(path, { force: true });
  }
}
