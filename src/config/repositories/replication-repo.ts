// Volume replication's configuration: which side of a pair each volume is, this node's pairing with
// its peer, and the replication tasks. The pair's shared secret and this node's TLS key live only in
// the pairing row: the store file is 0600 in a 0700 data dir, and nothing else keeps a copy.
import { conflict, invalid, notFound } from '../../lib/errors.js';
import type { Db } from '../store.js';
import type { MetaRepo } from './meta-repo.js';

export type ReplicationMode = 'source' | 'destination';
export type TaskDirection = 'source' | 'reverse';
export type RateMode = 'dynamic' | 'fixed';

/** The meta key of this node's name as its replication peer knows it. */
export const REPLICATION_NODE_NAME_KEY = 'replication_node_name';

export interface VolumeReplicationRecord {
  readonly volumeId: string;
  readonly mode: ReplicationMode;
  /** The peer's replication address, host:port. */
  readonly mirrorServer: string;
  readonly updatedAt: string;
}

export interface PairingRecord {
  readonly nodeName: string;
  readonly peerName: string;
  /** The pair's shared secret (HMAC key of the handshake). Never leaves the store but for the handshake. */
  readonly secret: string;
  readonly tls: boolean;
  /** This node's TLS certificate and key, PEM, when TLS is on. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** SHA-256 of the peer's certificate, lowercase hex, pinned when TLS is on. */
  readonly peerFingerprint: string | null;
  readonly updatedAt: string;
}

export interface ReplicationTaskRecord {
  readonly name: string;
  readonly direction: TaskDirection;
  readonly volumeId: string;
  readonly remoteVolume: string;
  readonly peerAddress: string;
  /** Whether the task runs (and is started again after a restart). */
  readonly enabled: boolean;
  readonly rateMode: RateMode;
  /** fixed: the resync rate; dynamic: its cap. */
  readonly rateBytes: number;
  readonly createdAt: string;
}

interface VolumeSettingsRow {
  volume_id: string;
  mode: ReplicationMode;
  mirror_server: string;
  updated_at: string;
}

interface PairingRow {
  node_name: string;
  peer_name: string;
  secret: string;
  tls: number;
  tls_cert: string | null;
  tls_key: string | null;
  peer_fingerprint: string | null;
  updated_at: string;
}

interface TaskRow {
  name: string;
  direction: TaskDirection;
  volume_id: string;
  remote_volume: string;
  peer_address: string;
  enabled: number;
  rate_mode: RateMode;
  rate_bytes: number;
  created_at: string;
}

const toVolumeSettings = (row: VolumeSettingsRow): VolumeReplicationRecord => ({
  volumeId: row.volume_id,
  mode: row.mode,
  mirrorServer: row.mirror_server,
  updatedAt: row.updated_at,
});

const toPairing = (row: PairingRow): PairingRecord => ({
  nodeName: row.node_name,
  peerName: row.peer_name,
  secret: row.secret,
  tls: row.tls === 1,
  tlsCert: row.tls_cert,
  tlsKey: row.tls_key,
  peerFingerprint: row.peer_fingerprint,
  updatedAt: row.updated_at,
});

const toTask = (row: TaskRow): ReplicationTaskRecord => ({
  name: row.name,
  direction: row.direction,
  volumeId: row.volume_id,
  remoteVolume: row.remote_volume,
  peerAddress: row.peer_address,
  enabled: row.enabled === 1,
  rateMode: row.rate_mode,
  rateBytes: row.rate_bytes,
  createdAt: row.created_at,
});

/**
 * SQLite constraint failures as typed errors. The services check first; this is the last line, and
 * it keeps raw SQLite messages out of API answers.
 */
function constraintError(error: unknown, what: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return error;
  const text = error instanceof Error ? error.message : '';
  switch (code) {
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return conflict('replication-task-exists', `${what} already exists`);
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return conflict('volume-in-replication-task', `${what}: the volume is already in a replication task`);
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return notFound('no-such-volume', `${what}: the volume does not exist`);
    default:
      return invalid('replication-record-invalid', `${what} was refused by the store (${text})`);
  }
}

export class ReplicationRepo {
  constructor(
    private readonly db: Db,
    private readonly meta: MetaRepo,
    private readonly now: () => Date = () => new Date(),
  ) {}

  nodeName(): string | undefined {
    return this.meta.get(REPLICATION_NODE_NAME_KEY);
  }

  setNodeName(name: string): void {
    this.meta.set(REPLICATION_NODE_NAME_KEY, name);
  }

  volumeSettings(volumeId: string): VolumeReplicationRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM replication_volume_settings WHERE volume_id = ?')
      .get(volumeId) as VolumeSettingsRow | undefined;
    return row && toVolumeSettings(row);
  }

  allVolumeSettings(): VolumeReplicationRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM replication_volume_settings ORDER BY volume_id')
        .all() as VolumeSettingsRow[]
    ).map(toVolumeSettings);
  }

  /** Inserts or replaces a volume's settings; throws not-found when the volume does not exist. */
  setVolumeSettings(
    volumeId: string,
    settings: { readonly mode: ReplicationMode; readonly mirrorServer: string },
  ): VolumeReplicationRecord {
    const record: VolumeReplicationRecord = {
      volumeId,
      mode: settings.mode,
      mirrorServer: settings.mirrorServer,
      updatedAt: this.now().toISOString(),
    };
    try {
      this.db
        .prepare(
          `INSERT INTO replication_volume_settings (volume_id, mode, mirror_server, updated_at)
           VALUES (?, ?, ?, ?)
           ON CONFLICT(volume_id) DO UPDATE SET mode = excluded.mode,
             mirror_server = excluded.mirror_server, updated_at = excluded.updated_at`,
        )
        .run(record.volumeId, record.mode, record.mirrorServer, record.updatedAt);
    } catch (error) {
      throw constraintError(error, `replication settings of volume ${volumeId}`);
    }
    return record;
  }

  /** Returns false when the volume had no settings. */
  deleteVolumeSettings(volumeId: string): boolean {
    return (
      this.db.prepare('DELETE FROM replication_volume_settings WHERE volume_id = ?').run(volumeId).changes > 0
    );
  }

  pairing(): PairingRecord | undefined {
    const row = this.db.prepare('SELECT * FROM replication_pairing WHERE id = 1').get() as
      PairingRow | undefined;
    return row && toPairing(row);
  }

  /** Replaces the pairing (a node has one peer). */
  setPairing(pairing: Omit<PairingRecord, 'updatedAt'>): PairingRecord {
    const record: PairingRecord = { ...pairing, updatedAt: this.now().toISOString() };
    try {
      this.db
        .prepare(
          `INSERT INTO replication_pairing
             (id, node_name, peer_name, secret, tls, tls_cert, tls_key, peer_fingerprint, updated_at)
           VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET node_name = excluded.node_name, peer_name = excluded.peer_name,
             secret = excluded.secret, tls = excluded.tls, tls_cert = excluded.tls_cert,
             tls_key = excluded.tls_key, peer_fingerprint = excluded.peer_fingerprint,
             updated_at = excluded.updated_at`,
        )
        .run(
          record.nodeName,
          record.peerName,
          record.secret,
          record.tls ? 1 : 0,
          record.tlsCert,
          record.tlsKey,
          record.peerFingerprint,
          record.updatedAt,
        );
    } catch (error) {
      throw constraintError(error, 'the replication pairing');
    }
    return record;
  }

  /** Returns false when the node was not paired. */
  deletePairing(): boolean {
    return this.db.prepare('DELETE FROM replication_pairing WHERE id = 1').run().changes > 0;
  }

  tasks(): ReplicationTaskRecord[] {
    return (this.db.prepare('SELECT * FROM replication_tasks ORDER BY name').all() as TaskRow[]).map(toTask);
  }

  task(name: string): ReplicationTaskRecord | undefined {
    const row = this.db.prepare('SELECT * FROM replication_tasks WHERE name = ?').get(name) as
      TaskRow | undefined;
    return row && toTask(row);
  }

  taskOfVolume(volumeId: string): ReplicationTaskRecord | undefined {
    const row = this.db.prepare('SELECT * FROM replication_tasks WHERE volume_id = ?').get(volumeId) as
      TaskRow | undefined;
    return row && toTask(row);
  }

  /** Throws conflict for a taken name or a volume already in a task, not-found for a missing volume. */
  insertTask(task: ReplicationTaskRecord): void {
    try {
      this.db
        .prepare(
          `INSERT INTO replication_tasks (name, direction, volume_id, remote_volume, peer_address, enabled,
             rate_mode, rate_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          task.name,
          task.direction,
          task.volumeId,
          task.remoteVolume,
          task.peerAddress,
          task.enabled ? 1 : 0,
          task.rateMode,
          task.rateBytes,
          task.createdAt,
        );
    } catch (error) {
      throw constraintError(error, `replication task ${task.name}`);
    }
  }

  setTaskEnabled(name: string, enabled: boolean): void {
    this.updateTask(name, 'UPDATE replication_tasks SET enabled = ? WHERE name = ?', enabled ? 1 : 0);
  }

  setTaskRate(name: string, rate: { readonly mode: RateMode; readonly bytesPerSecond: number }): void {
    this.updateTask(
      name,
      'UPDATE replication_tasks SET rate_mode = ?, rate_bytes = ? WHERE name = ?',
      rate.mode,
      rate.bytesPerSecond,
    );
  }

  /** Returns false when there was no such task. */
  deleteTask(name: string): boolean {
    return this.db.prepare('DELETE FROM replication_tasks WHERE name = ?').run(name).changes > 0;
  }

  private updateTask(name: string, sql: string, ...values: (string | number)[]): void {
    let changes: number;
    try {
      changes = this.db.prepare(sql).run(...values, name).changes;
    } catch (error) {
      throw constraintError(error, `replication task ${name}`);
    }
    if (changes === 0) throw notFound('no-such-replication-task', `replication task ${name} does not exist`);
  }
}
