// A small btrfs filesystem on a loop device for one test: mounted in a private temporary directory,
// unmounted and removed afterwards even when the test fails. Needs root and mkfs.btrfs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** true, or the reason to skip (for `test(..., { skip })`). */
export const canMountBtrfs: true | string =
  process.getuid?.() === 0 && spawnSync('mkfs.btrfs', ['--version']).status === 0
    ? true
    : 'needs root and mkfs.btrfs';

/** The mount point, or undefined (after t.skip) when this machine cannot mount a loop filesystem. */
export function mountBtrfs(t: TestContext, size = '256M'): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-btrfs-'));
  const image = join(dir, 'btrfs.img');
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint);
  let isMounted = false;
  t.after(() => {
    if (isMounted) {
      spawnSync('chattr', ['-R', '-f', '-i', mountPoint]);
      if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  spawnSync('truncate', ['-s', size, image]);
  const made = spawnSync('mkfs.btrfs', ['-q', image]);
  if (made.status !== 0) throw new Error(`mkfs.btrfs failed: ${String(made.stderr)}`);
  const mounted = spawnSync('mount', ['-o', 'loop', image, mountPoint]);
  if (mounted.status !== 0) {
    t.skip(`cannot mount a loop filesystem here: ${String(mounted.stderr)}`);
    return undefined;
  }
  isMounted = true;
  return mountPoint;
}
