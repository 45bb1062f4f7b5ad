// The NAS side of a node: shares on NAS volumes (with their data replication access), NAS snapshots,
// and the NAS settings that drive the data replication agent. Implements NasControl for the data
// replication tasks.
//
// Invariants: a share's directory lies inside its volume, reached through no symlink, and shares of
// one volume never nest (so a client of one share can never reroute another share's directory); a
// refused request changes nothing; the agent is told the new desired state after every change.
import { mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeFeed } from '../config/change-feed.js';
import type { Repositories } from '../config/repositories/index.js';
import type { NasSettingsRecord, ShareRecord, SnapshotRecord } from '../config/repositories/nas-repo.js';
import type { VolumeRecord } from '../config/repositories/volumes-repo.js';
import type { AgentDesiredState, AgentStatus, DataReplicationAgent } from '../datarep/agent/agent.js';
import { conflict, invalid, messageOf, noSpace, notFound } from '../lib/errors.js';
import { Mutex } from '../lib/mutex.js';
import { validateName } from '../lib/names.js';
import { formatSize } from '../lib/size.js';
import type { Logger } from '../observability/logger.js';
import type { VolumeService } from '../volumes/volume-service.js';
import type { NasControl, NasSnapshotView, ShareView } from './contract.js';
import { pathsOverlap, secureShareDirectory } from './share-paths.js';
import {
  freezeDirectory,
  makeImmutable,
  removeSnapshotDirectory,
  snapshotCost,
  treeUsage,
} from './snapshot-disk.js';
import { SnapshotModeProbe } from './snapshot-mode.js';
import { SnapshotTrash, TRASH_DIR } from './snapshot-trash.js';
import {
  normaliseRelativePath,
  validateAgentAddress,
  validateAgentPort,
  validateAllowedHosts,
  validateComment,
  validateMaxConnections,
  validateReplicationId,
  validateReplicationPassword,
  validateShareName,
} from './validation.js';

/** Where a pool keeps NAS snapshots: beside the volumes, never inside a share. */
export const SNAPSHOTS_DIR = 'nas-snapshots';

export interface CreateShareInput {
  readonly name: string;
  readonly volume: string;
  /** Inside the volume; defaults to the share's name. '' or '.' is the volume's root. */
  readonly path?: string;
  readonly comment?: string;
}

export interface ShareReplicationInput {
  readonly enabled: boolean;
  /** Required the first time; kept when left out. */
  readonly id?: string;
  /** Required the first time; kept when left out. Never returned. */
  readonly password?: string;
}

export interface NasSettingsView {
  readonly localBackup: boolean;
  readonly agent: {
    readonly enabled: boolean;
    readonly port: number;
    readonly address: string;
    readonly allowedHosts: readonly string[];
    readonly maxConnections: number;
  };
}

export interface NasSettingsInput {
  readonly localBackup?: boolean;
  readonly agent?: {
    readonly enabled?: boolean;
    readonly port?: number;
    readonly address?: string;
    readonly allowedHosts?: readonly string[];
    readonly maxConnections?: number;
  };
}

export interface VolumeSnapshotsView {
  readonly volume: string;
  /** The volume's snapshot reserve; 0 means none set (copy snapshots are then limited by free space). */
  readonly reserve: number;
  readonly used: number;
  readonly snapshots: NasSnapshotView[];
}

export interface NasServiceOptions {
  readonly repos: Repositories;
  readonly volumes: VolumeService;
  readonly changes: ChangeFeed;
  readonly agent: DataReplicationAgent;
  readonly logger: Logger;
  readonly now?: () => Date;
}

const toSettingsView = (s: NasSettingsRecord): NasSettingsView => ({
  localBackup: s.localBackup,
  agent: {
    enabled: s.agentEnabled,
    port: s.agentPort,
    address: s.agentAddress,
    allowedHosts: s.agentAllowedHosts,
    maxConnections: s.agentMaxConnections,
  },
});

const pad = (n: number): string => String(n).padStart(2, '0');

/** A default snapshot name from the time: snap-20261126-181500. */
export function timestampName(at: Date): string {
  return (
    `snap-${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}-` +
    `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`
  );
}

export class NasService implements NasControl {
  private readonly repos: Repositories;
  private readonly volumes: VolumeService;
  private readonly agent: DataReplicationAgent;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly mutex = new Mutex();
  private readonly modes = new SnapshotModeProbe();
  private readonly trash: SnapshotTrash;
  private readonly onVolumeChange: (event: { volume: string; action: string }) => void;

  constructor(private readonly options: NasServiceOptions) {
    this.repos = options.repos;
    this.volumes = options.volumes;
    this.agent = options.agent;
    this.logger = options.logger.child({ component: 'nas' });
    this.now = options.now ?? (() => new Date());
    this.trash = new SnapshotTrash({ logger: this.logger });
    this.onVolumeChange = (event) => {
      if (event.action !== 'deleted') return;
      void this.mutex
        .run(async () => {
          await this.removeOrphanSnapshots(event.volume);
          await this.applyAgent();
        })
        .catch((error: unknown) => this.logger.error({ err: error }, 'cleaning up after a volume failed'));
    };
  }

  /** Starts the agent when the settings say so, and follows volume deletions. */
  async start(): Promise<void> {
    this.options.changes.on('volumes', this.onVolumeChange);
    // Snapshots deleted just before an earlier daemon stopped may still be in the trash.
    for (const pool of this.repos.pools.list()) this.trash.sweep(join(pool.path, TRASH_DIR));
    await this.mutex.run(() => this.applyAgent());
  }

  async close(): Promise<void> {
    this.options.changes.off('volumes', this.onVolumeChange);
    await this.trash.close();
    await this.mutex.run(() => this.agent.close());
  }

  /** Resolves when deleted snapshots have been removed from disk (or a removal failed and waits to
   * be retried). */
  trashSwept(): Promise<void> {
    return this.trash.idle();
  }

  // ---- shares ----

  shares(): ShareView[] {
    return this.repos.nas.shares().map((s) => this.shareView(s));
  }

  share(name: string): ShareView {
    return this.shareView(this.shareRecord(name));
  }

  createShare(input: CreateShareInput): Promise<ShareView> {
    return this.mutex.run(async () => {
      const name = validateShareName(input.name);
      const comment = validateComment(input.comment ?? '');
      const relativePath = normaliseRelativePath(input.path ?? name);
      const volume = this.nasVolume(input.volume);
      if (this.repos.nas.share(name)) throw conflict('share-exists', `share "${name}" already exists`);
      for (const other of this.repos.nas.sharesOnVolume(volume.id)) {
        if (pathsOverlap(relativePath, other.relativePath)) {
          throw conflict(
            'share-overlap',
            `"${relativePath || '.'}" overlaps share "${other.name}" (${other.relativePath || '.'}) on volume ` +
              `"${volume.name}"; shares of one volume must not nest`,
          );
        }
      }
      const record: ShareRecord = {
        name,
        volumeId: volume.id,
        relativePath,
        comment,
        dataReplication: null,
        createdAt: this.now().toISOString(),
      };
      await secureShareDirectory(this.volumes.pathOf(volume), relativePath, { create: true });
      this.repos.nas.insertShare(record);
      return this.shareView(record);
    });
  }

  updateShare(name: string, input: { readonly comment?: string }): Promise<ShareView> {
    return this.mutex.run(async () => {
      const share = this.shareRecord(name);
      if (input.comment === undefined) return this.shareView(share);
      const comment = validateComment(input.comment);
      this.repos.nas.setComment(share.name, comment);
      if (share.dataReplication?.enabled === true) await this.applyAgent();
      return this.share(share.name);
    });
  }

  /** Forgets the share; its files stay in the volume. */
  deleteShare(name: string): Promise<void> {
    return this.mutex.run(async () => {
      const share = this.shareRecord(name);
      this.repos.nas.deleteShare(share.name);
      if (share.dataReplication?.enabled === true) await this.applyAgent();
    });
  }

  setShareReplication(name: string, input: ShareReplicationInput): Promise<ShareView> {
    return this.mutex.run(async () => {
      const share = this.shareRecord(name);
      const id = input.id === undefined ? share.dataReplication?.id : validateReplicationId(input.id);
      const password =
        input.password === undefined
          ? share.dataReplication?.password
          : validateReplicationPassword(input.password);
      if (input.enabled && (id === undefined || password === undefined)) {
        throw invalid(
          'replication-access-incomplete',
          `share "${share.name}" needs an ID and a password before it can be a data replication destination`,
        );
      }
      if (input.enabled) {
        const volume = this.repos.volumes.byId(share.volumeId);
        if (volume)
          await secureShareDirectory(this.volumes.pathOf(volume), share.relativePath, { create: false });
      }
      this.repos.nas.setDataReplication(
        share.name,
        id === undefined || password === undefined ? null : { enabled: input.enabled, id, password },
      );
      await this.applyAgent();
      return this.share(share.name);
    });
  }

  // ---- snapshots ----

  snapshots(volume: string): NasSnapshotView[] {
    const record = this.nasVolume(volume);
    return this.repos.nas.snapshots(record.id).map((s) => this.snapshotView(record, s));
  }

  /** The snapshots with their cost measured now, and the volume's reserve. A reflink/btrfs snapshot's
   * cost is measured here, not when it is made: it is 0 when made and only grows as the volume changes,
   * and measuring takes a walk of the tree (`btrfs filesystem du`: 0.6 s for 10,000 files). */
  volumeSnapshots(volume: string): Promise<VolumeSnapshotsView> {
    return this.mutex.run(async () => {
      const record = this.nasVolume(volume);
      const snapshots: NasSnapshotView[] = [];
      for (const s of this.repos.nas.snapshots(record.id)) {
        const bytes = s.mode === 'copy' ? s.bytes : await snapshotCost(s.mode, s.path).catch(() => s.bytes);
        if (bytes !== s.bytes) this.repos.nas.setSnapshotBytes(record.id, s.name, bytes);
        snapshots.push(this.snapshotView(record, { ...s, bytes }));
      }
      return {
        volume: record.name,
        reserve: record.snapshotReserve,
        used: snapshots.reduce((sum, s) => sum + s.bytes, 0),
        snapshots,
      };
    });
  }

  /** Why a volume must not simply be deleted: the shares on it (for the volume manager). */
  volumeUsers(volume: VolumeRecord): string[] {
    if (volume.type !== 'nas') return [];
    const shares = this.repos.nas.sharesOnVolume(volume.id).map((s) => s.name);
    return shares.length === 0 ? [] : [`holds share(s) ${shares.join(', ')}`];
  }

  /** Bytes the volume's snapshots cost, as last measured (for the volume manager's view). */
  snapshotUsage(volume: VolumeRecord): number {
    if (volume.type !== 'nas') return 0;
    return this.repos.nas.snapshots(volume.id).reduce((sum, s) => sum + s.bytes, 0);
  }

  createSnapshot(volume: string, options: { readonly name?: string } = {}): Promise<NasSnapshotView> {
    return this.mutex.run(async () => {
      const record = this.nasVolume(volume);
      const createdAt = this.now();
      const name =
        options.name === undefined
          ? this.freeSnapshotName(record, createdAt)
          : validateName('snapshot', options.name);
      if (this.repos.nas.snapshot(record.id, name)) {
        throw conflict('snapshot-exists', `volume "${record.name}" already has a snapshot "${name}"`);
      }
      const volumeDir = this.volumes.pathOf(record);
      const parent = this.snapshotParent(record);
      await mkdir(parent, { recursive: true, mode: 0o700 });
      const mode = await this.modes.modeFor(volumeDir, parent);
      // A copy costs what the volume holds, measured for the space check anyway: no second walk after.
      const copyBytes = mode === 'copy' ? await this.checkCopyFits(record, volumeDir, parent) : 0;
      const path = join(parent, name);
      await freezeDirectory(mode, volumeDir, path);
      try {
        const readOnly = mode === 'btrfs' ? true : await makeImmutable(path);
        if (!readOnly)
          this.logger.warn(
            { volume: record.name, snapshot: name },
            'filesystem has no immutable flag; snapshot is writable by root',
          );
        const snapshot: SnapshotRecord = {
          volumeId: record.id,
          name,
          mode,
          path,
          // reflink/btrfs: a fresh snapshot shares every block with the volume, so it costs 0 until the
          // volume changes; the list measures it again (volumeSnapshots).
          bytes: copyBytes,
          readOnly,
          createdAt: createdAt.toISOString(),
        };
        this.repos.nas.insertSnapshot(snapshot);
        this.logger.info(
          { volume: record.name, snapshot: name, mode, bytes: snapshot.bytes },
          'NAS snapshot created',
        );
        return this.snapshotView(record, snapshot);
      } catch (error) {
        await removeSnapshotDirectory(path).catch(() => undefined);
        throw error;
      }
    });
  }

  deleteSnapshot(volume: string, name: string): Promise<void> {
    return this.mutex.run(async () => {
      const record = this.nasVolume(volume);
      const snapshot = this.repos.nas.snapshot(record.id, validateName('snapshot', name));
      if (!snapshot)
        throw notFound('snapshot-not-found', `volume "${record.name}" has no snapshot "${name}"`);
      if (snapshot.mode === 'btrfs') {
        // A read-only subvolume cannot be moved, and deleting one is a single quick ioctl anyway.
        await removeSnapshotDirectory(snapshot.path);
      } else {
        // A whole tree takes seconds to remove: move it aside now, remove it in the background.
        await this.trash.discard(snapshot.path, join(this.poolPath(record), TRASH_DIR));
      }
      this.repos.nas.deleteSnapshot(record.id, snapshot.name);
      this.logger.info({ volume: record.name, snapshot: snapshot.name }, 'NAS snapshot deleted');
    });
  }

  // ---- settings and the agent ----

  settings(): NasSettingsView {
    return toSettingsView(this.repos.nas.settings());
  }

  /** Local backup is what lets data replication tasks run from this node. */
  localBackupEnabled(): boolean {
    return this.repos.nas.settings().localBackup;
  }

  updateSettings(input: NasSettingsInput): Promise<NasSettingsView> {
    return this.mutex.run(async () => {
      const current = this.repos.nas.settings();
      const agent = input.agent ?? {};
      const next = {
        localBackup: input.localBackup ?? current.localBackup,
        agentEnabled: agent.enabled ?? current.agentEnabled,
        agentPort: agent.port === undefined ? current.agentPort : validateAgentPort(agent.port),
        agentAddress:
          agent.address === undefined ? current.agentAddress : validateAgentAddress(agent.address),
        agentAllowedHosts:
          agent.allowedHosts === undefined
            ? current.agentAllowedHosts
            : validateAllowedHosts(agent.allowedHosts),
        agentMaxConnections:
          agent.maxConnections === undefined
            ? current.agentMaxConnections
            : validateMaxConnections(agent.maxConnections),
      };
      const saved = this.repos.nas.saveSettings(next);
      await this.applyAgent();
      return toSettingsView(saved);
    });
  }

  agentStatus(): AgentStatus {
    return this.agent.status();
  }

  // ---- internals ----

  private shareRecord(name: string): ShareRecord {
    const share = this.repos.nas.share(name);
    if (!share) throw notFound('share-not-found', `share "${name}" does not exist`);
    return share;
  }

  private shareView(share: ShareRecord): ShareView {
    const volume = this.repos.volumes.byId(share.volumeId);
    const root = volume ? this.volumes.pathOf(volume) : '';
    return {
      name: share.name,
      comment: share.comment,
      volume: volume?.name ?? '?',
      relativePath: share.relativePath,
      path: share.relativePath === '' ? root : join(root, share.relativePath),
      dataReplication: share.dataReplication
        ? { enabled: share.dataReplication.enabled, id: share.dataReplication.id }
        : null,
    };
  }

  private nasVolume(name: string): VolumeRecord {
    const volume = this.volumes.get(name);
    if (volume.type !== 'nas') {
      throw invalid(
        'not-a-nas-volume',
        `volume "${volume.name}" is an ${volume.type} volume, not a NAS volume`,
      );
    }
    return volume;
  }

  private poolPath(volume: VolumeRecord): string {
    const pool = this.repos.pools.byId(volume.poolId);
    if (!pool) throw notFound('pool-not-found', `pool of volume "${volume.name}" is missing`);
    return pool.path;
  }

  private snapshotParent(volume: VolumeRecord): string {
    return join(this.poolPath(volume), SNAPSHOTS_DIR, volume.name);
  }

  private snapshotView(volume: VolumeRecord, s: SnapshotRecord): NasSnapshotView & { readOnly: boolean } {
    return {
      volume: volume.name,
      name: s.name,
      createdAt: s.createdAt,
      mode: s.mode,
      path: s.path,
      bytes: s.bytes,
      readOnly: s.readOnly,
    };
  }

  private freeSnapshotName(volume: VolumeRecord, at: Date): string {
    const base = timestampName(at);
    let name = base;
    for (let n = 2; this.repos.nas.snapshot(volume.id, name); n += 1) name = `${base}-${n}`;
    return name;
  }

  /** A full copy must fit the volume's snapshot reserve (when one is set) and the filesystem; returns
   * the bytes it will take. */
  private async checkCopyFits(volume: VolumeRecord, volumeDir: string, parent: string): Promise<number> {
    const needed = await treeUsage(volumeDir);
    if (volume.snapshotReserve > 0) {
      const used = this.snapshotUsage(volume);
      if (used + needed > volume.snapshotReserve) {
        throw noSpace(
          'snapshot-reserve-full',
          `a full-copy snapshot of "${volume.name}" needs ${formatSize(needed)}; its snapshot reserve of ` +
            `${formatSize(volume.snapshotReserve)} has ${formatSize(Math.max(0, volume.snapshotReserve - used))} left`,
          { needed, used, reserve: volume.snapshotReserve },
        );
      }
    }
    const fs = await statfs(parent);
    const available = fs.bavail * fs.bsize;
    if (needed > available) {
      throw noSpace(
        'filesystem-no-space',
        `a full-copy snapshot of "${volume.name}" needs ${formatSize(needed)}; the filesystem has ${formatSize(available)}`,
      );
    }
    return needed;
  }

  /** After a volume is deleted (its rows went with it): its snapshot directories in every pool. */
  private async removeOrphanSnapshots(volumeName: string): Promise<void> {
    if (this.repos.volumes.byName(volumeName)) return;
    for (const pool of this.repos.pools.list()) {
      const dir = join(pool.path, SNAPSHOTS_DIR, volumeName);
      const entries = await readdir(dir).catch(() => [] as string[]);
      for (const entry of entries) await removeSnapshotDirectory(join(dir, entry));
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** What the agent should serve now, from the settings and the shares. */
  private async desiredAgent(): Promise<AgentDesiredState> {
    const settings = this.repos.nas.settings();
    const shares: AgentDesiredState['shares'][number][] = [];
    for (const share of this.repos.nas.shares()) {
      const access = share.dataReplication;
      if (access?.enabled !== true) continue;
      const volume = this.repos.volumes.byId(share.volumeId);
      if (!volume) continue;
      try {
        const path = await secureShareDirectory(this.volumes.pathOf(volume), share.relativePath, {
          create: false,
        });
        shares.push({
          name: share.name,
          path,
          comment: share.comment,
          id: access.id,
          password: access.password,
        });
      } catch (error) {
        // A share whose directory became unsafe is not served until it is safe again.
        this.logger.error(
          { share: share.name, reason: messageOf(error) },
          'share left out of the data replication agent',
        );
      }
    }
    return {
      enabled: settings.agentEnabled,
      listen: { port: settings.agentPort, address: settings.agentAddress },
      allowedHosts: settings.agentAllowedHosts,
      maxConnections: settings.agentMaxConnections,
      shares,
    };
  }

  private async applyAgent(): Promise<void> {
    await this.agent.apply(await this.desiredAgent());
  }
}
