// A NasControl over plain directories for datarep tests: a volume is a directory, a share a directory in
// it, and a snapshot a real copy (`cp -a`, reflinks where the filesystem has them), so a run reads a
// frozen tree exactly as it would from the real NAS service. With `btrfs` (the root on a btrfs mount) a
// volume is a subvolume and a snapshot a read-only subvolume snapshot, as the NAS service makes them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { notFound } from '../../../../src/lib/errors.js';
import type { NasControl, NasSnapshotView, ShareView } from '../../../../src/nas/contract.js';

export class DirectoryNas implements NasControl {
  private readonly shareMap = new Map<string, ShareView>();
  private readonly snaps = new Map<string, NasSnapshotView>();
  /** Every snapshot ever created, for tests that check they were released. */
  readonly created: string[] = [];
  /** Set to delay snapshot creation (ms), to catch a cancel during it. */
  snapshotDelayMs = 0;

  constructor(
    private readonly root: string,
    private readonly options: { readonly btrfs?: boolean } = {},
  ) {}

  volumePath(volume: string): string {
    return join(this.root, 'volumes', volume);
  }

  addShare(name: string, volume: string, relativePath = name): ShareView {
    const path = join(this.volumePath(volume), relativePath);
    if (this.options.btrfs === true && !existsSync(this.volumePath(volume))) {
      mkdirSync(join(this.root, 'volumes'), { recursive: true });
      execFileSync('btrfs', ['-q', 'subvolume', 'create', this.volumePath(volume)]);
    }
    mkdirSync(path, { recursive: true });
    const share: ShareView = { name, comment: '', volume, relativePath, path, dataReplication: null };
    this.shareMap.set(name, share);
    return share;
  }

  share(name: string): ShareView {
    const share = this.shareMap.get(name);
    if (!share) throw notFound('no-such-share', `no share ${name}`);
    return share;
  }

  shares(): ShareView[] {
    return [...this.shareMap.values()];
  }

  async createSnapshot(volume: string, options?: { readonly name?: string }): Promise<NasSnapshotView> {
    if (this.snapshotDelayMs > 0) await new Promise((r) => setTimeout(r, this.snapshotDelayMs));
    const name = options?.name ?? `snap-${Date.now()}`;
    const path = join(this.root, 'snapshots', volume, name);
    mkdirSync(join(this.root, 'snapshots', volume), { recursive: true });
    const btrfs = this.options.btrfs === true;
    if (btrfs) execFileSync('btrfs', ['-q', 'subvolume', 'snapshot', '-r', this.volumePath(volume), path]);
    else execFileSync('cp', ['-a', '--reflink=auto', '--sparse=always', this.volumePath(volume), path]);
    const view: NasSnapshotView = {
      volume,
      name,
      createdAt: new Date().toISOString(),
      mode: btrfs ? 'btrfs' : 'copy',
      path,
      bytes: 0,
    };
    this.snaps.set(`${volume}/${name}`, view);
    this.created.push(`${volume}/${name}`);
    return view;
  }

  deleteSnapshot(volume: string, name: string): Promise<void> {
    const view = this.snaps.get(`${volume}/${name}`);
    if (!view) return Promise.reject(notFound('no-such-snapshot', `no snapshot ${volume}/${name}`));
    if (view.mode === 'btrfs') execFileSync('btrfs', ['-q', 'subvolume', 'delete', view.path]);
    else rmSync(view.path, { recursive: true, force: true });
    this.snaps.delete(`${volume}/${name}`);
    return Promise.resolve();
  }

  snapshots(volume: string): NasSnapshotView[] {
    return [...this.snaps.values()].filter((s) => s.volume === volume);
  }
}
