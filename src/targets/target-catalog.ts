// The live view of what the iSCSI portal serves: enabled targets with their LUNs resolved to volume
// backing files. It is rebuilt from the store whenever targets or volumes change, so the portal follows
// configuration without a restart. Readers always see one consistent snapshot.
import type { ChangeFeed } from '../config/change-feed.js';
import type { ChapUserRecord } from '../config/repositories/targets-repo.js';
import type { Repositories } from '../config/repositories/index.js';
import type { IoType } from '../config/repositories/volumes-repo.js';

export interface ServedLun {
  readonly lun: number;
  readonly volume: string;
  readonly volumeId: string;
  readonly path: string;
  readonly size: number;
  readonly ioType: IoType;
  /** Thin volumes give space back on UNMAP and report unmapped blocks. */
  readonly thin: boolean;
  readonly serial: string;
  readonly naa: string;
  readonly readOnly: boolean;
  readonly writeBack: boolean;
}

export interface ServedTarget {
  readonly iqn: string;
  readonly alias: string | null;
  readonly luns: readonly ServedLun[];
  readonly chapUsers: readonly ChapUserRecord[];
  readonly allowedInitiators: readonly string[];
}

export class TargetCatalog {
  private snapshot: ReadonlyMap<string, ServedTarget> = new Map();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly repos: Repositories,
    private readonly pathOfVolume: (volumeId: string) => string,
    changes: ChangeFeed,
  ) {
    this.refresh();
    changes.on('targets', () => this.refresh());
    changes.on('volumes', () => this.refresh());
  }

  served(): ServedTarget[] {
    return [...this.snapshot.values()];
  }

  find(iqn: string): ServedTarget | undefined {
    return this.snapshot.get(iqn);
  }

  /** Called after every refresh; the portal uses it to end sessions of targets that went away. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private refresh(): void {
    const next = new Map<string, ServedTarget>();
    for (const target of this.repos.targets.list()) {
      if (!target.enabled) continue;
      const luns: ServedLun[] = [];
      for (const lun of target.luns) {
        const volume = this.repos.volumes.byId(lun.volumeId);
        if (!volume) continue;
        luns.push({
          lun: lun.lun,
          volume: volume.name,
          volumeId: volume.id,
          path: this.pathOfVolume(volume.id),
          size: volume.size,
          ioType: volume.ioType ?? 'block',
          thin: volume.provisioning === 'thin',
          serial: lun.serial,
          naa: lun.naa,
          readOnly: lun.readOnly,
          writeBack: lun.writeBack,
        });
      }
      next.set(target.iqn, {
        iqn: target.iqn,
        alias: target.alias,
        luns,
        chapUsers: target.chapUsers,
        allowedInitiators: target.allowedInitiators,
      });
    }
    this.snapshot = next;
    for (const listener of this.listeners) listener();
  }
}
