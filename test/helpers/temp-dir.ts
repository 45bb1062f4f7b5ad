// A fresh temporary directory per test, removed afterwards even when the test fails. NAS snapshots
// made by copy or reflink carry the immutable flag, which stops even root: it is cleared first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export function tempDir(t: TestContext, prefix = 'tandem-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
      spawnSync('chattr', ['-R', '-f', '-i', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return dir;
}
