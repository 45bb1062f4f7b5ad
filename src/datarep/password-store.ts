// Agent passwords of data replication tasks, one 0600 file per task in a 0700 directory of the data dir.
// They are read only to put them in rsync's environment (RSYNC_PASSWORD), never into argv or a log.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TandemError } from '../lib/errors.js';
import { validateName } from '../lib/names.js';

export class PasswordStore {
  constructor(private readonly dir: string) {}

  private fileOf(taskName: string): string {
    return join(this.dir, `${validateName('data replication task', taskName)}.password`);
  }

  /** Writes atomically (temp file, then rename), 0600 from the start. */
  set(taskName: string, password: string): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const file = this.fileOf(taskName);
    const temp = `${file}.tmp-${process.pid}`;
    writeFileSync(temp, password, { mode: 0o600 });
    renameSync(temp, file);
  }

  /** Throws unless the file exists and no one but the owner can read it. */
  get(taskName: string): string {
    const file = this.fileOf(taskName);
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      throw new TandemError(
        'unavailable',
        'password-missing',
        `the agent password of task ${taskName} is missing`,
      );
    }
    if ((mode & 0o077) !== 0) {
      throw new TandemError(
        'unavailable',
        'password-file-open',
        `the agent password file of task ${taskName} is readable by others; refusing to use it (chmod 600 ${file})`,
      );
    }
    return readFileSync(file, 'utf8');
  }

  delete(taskName: string): void {
    rmSync(this.fileOf(taskName), { force: true });
  }
}
