// NAS configuration: shares (with their data replication access), NAS snapshots and the node's NAS
// settings. A share's replication password lives only here: the store file is 0600 in a 0700 data
// dir; the agent's secrets files are derived from it and rewritten on every change.
import { conflict, invalid, notFound } from '../../lib/errors.js';
import type { Db } from '../store.js';

export type NasSnapshotMode = 'btrfs' | 'reflink' | 'copy';

export interface ShareRecord {
  readonly name: string;
  readonly volumeId: string;
  /** Normalised path inside the volume, '' for the volume's root. */
  readonly relativePath: string;
  readonly comment: string;
  readonly dataReplication: {
    readonly enabled: boolean;
    readonly id: string;
    readonly password: string;
  } | null;
  readonly createdAt: string;
}

export interface SnapshotRecord {
  readonly volumeId: string;
  readonly name: string;
  readonly mode: NasSnapshotMode;
  readonly path: string;
  readonly bytes: number;
  readonly readOnly: boolean;
  readonly createdAt: string;
}

export interface NasSettingsRecord {
  readonly localBackup: boolean;
  readonly agentEnabled: boolean;
  readonly agentPort: number;
  readonly agentAddress: string;
  readonly agentAllowedHosts: readonly string[];
  readonly agentMaxConnections: number;
  readonly updatedAt: string;
}

export const DEFAULT_AGENT_PORT = 873;
export const DEFAULT_AGENT_MAX_CONNECTIONS = 10;

interface ShareRow {
  name: string;
  volume_id: string;
  relative_path: string;
  comment: string;
  datarep_enabled: number;
  datarep_id: string | null;
  datarep_password: string | null;
  created_at: string;
}

interface SnapshotRow {
  volume_id: string;
  name: string;
  mode: NasSnapshotMode;
  path: string;
  bytes: number;
  read_only: number;
  created_at: string;
}

interface SettingsRow {
  local_backup: number;
  agent_enabled: number;
  agent_port: number;
  agent_address: string;
  agent_allowed_hosts: string;
  agent_max_connections: number;
  updated_at: string;
}

const toShare = (row: ShareRow): ShareRecord => ({
  name: row.name,
  volumeId: row.volume_id,
  relativePath: row.relative_path,
  comment: row.comment,
  dataReplication:
    row.datarep_id === null || row.datarep_password === null
      ? null
      : { enabled: row.datarep_enabled === 1, id: row.datarep_id, password: row.datarep_password },
  createdAt: row.created_at,
});

const toSnapshot = (row: SnapshotRow): SnapshotRecord => ({
  volumeId: row.volume_id,
  name: row.name,
  mode: row.mode,
  path: row.path,
  bytes: row.bytes,
  readOnly: row.read_only === 1,
  createdAt: row.created_at,
});

function parseHosts(text: string): string[] {
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed.filter((h): h is string => typeof h === 'string') : [];
}

const toSettings = (row: SettingsRow): NasSettingsRecord => ({
  localBackup: row.local_backup === 1,
  agentEnabled: row.agent_enabled === 1,
  agentPort: row.agent_port,
  agentAddress: row.agent_address,
  agentAllowedHosts: parseHosts(row.agent_allowed_hosts),
  agentMaxConnections: row.agent_max_connections,
  updatedAt: row.updated_at,
});

/** SQLite constraint failures as typed errors; the service checks first, this keeps raw SQLite text out. */
function constraintError(error: unknown, what: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return error;
  switch (code) {
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return conflict('nas-exists', `${what} already exists`);
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return conflict('nas-path-taken', `${what}: its directory is already used`);
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return notFound('volume-not-found', `${what}: the volume does not exist`);
    default:
      return invalid('nas-record-invalid', `${what} was refused by the store`);
  }
}

export class NasRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  shares(): ShareRecord[] {
    return (this.db.prepare('SELECT * FROM nas_shares ORDER BY name').all() as ShareRow[]).map(toShare);
  }

  sharesOnVolume(volumeId: string): ShareRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM nas_shares WHERE volume_id = ? ORDER BY name')
        .all(volumeId) as ShareRow[]
    ).map(toShare);
  }

  share(name: string): ShareRecord | undefined {
    const row = this.db.prepare('SELECT * FROM nas_shares WHERE name = ?').get(name) as ShareRow | undefined;
    return row && toShare(row);
  }

  insertShare(share: ShareRecord): void {
    try {
      this.db
        .prepare(
          `INSERT INTO nas_shares (name, volume_id, relative_path, comment, datarep_enabled, datarep_id,
             datarep_password, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          share.name,
          share.volumeId,
          share.relativePath,
          share.comment,
          share.dataReplication?.enabled === true ? 1 : 0,
          share.dataReplication?.id ?? null,
          share.dataReplication?.password ?? null,
          share.createdAt,
        );
    } catch (error) {
      throw constraintError(error, `share ${share.name}`);
    }
  }

  setComment(name: string, comment: string): void {
    this.changeShare(name, 'UPDATE nas_shares SET comment = ? WHERE name = ?', comment);
  }

  setDataReplication(
    name: string,
    access: { readonly enabled: boolean; readonly id: string; readonly password: string } | null,
  ): void {
    this.changeShare(
      name,
      'UPDATE nas_shares SET datarep_enabled = ?, datarep_id = ?, datarep_password = ? WHERE name = ?',
      access?.enabled === true ? 1 : 0,
      access?.id ?? null,
      access?.password ?? null,
    );
  }

  /** Returns false when there was no such share. */
  deleteShare(name: string): boolean {
    return this.db.prepare('DELETE FROM nas_shares WHERE name = ?').run(name).changes > 0;
  }

  snapshots(volumeId: string): SnapshotRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM nas_snapshots WHERE volume_id = ? ORDER BY created_at, name')
        .all(volumeId) as SnapshotRow[]
    ).map(toSnapshot);
  }

  snapshot(volumeId: string, name: string): SnapshotRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM nas_snapshots WHERE volume_id = ? AND name = ?')
      .get(volumeId, name) as SnapshotRow | undefined;
    return row && toSnapshot(row);
  }

  insertSnapshot(snapshot: SnapshotRecord): void {
    try {
      this.db
        .prepare(
          `INSERT INTO nas_snapshots (volume_id, name, mode, path, bytes, read_only, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          snapshot.volumeId,
          snapshot.name,
          snapshot.mode,
          snapshot.path,
          snapshot.bytes,
          snapshot.readOnly ? 1 : 0,
          snapshot.createdAt,
        );
    } catch (error) {
      throw constraintError(error, `snapshot ${snapshot.name}`);
    }
  }

  setSnapshotBytes(volumeId: string, name: string, bytes: number): void {
    this.db
      .prepare('UPDATE nas_snapshots SET bytes = ? WHERE volume_id = ? AND name = ?')
      .run(bytes, volumeId, name);
  }

  deleteSnapshot(volumeId: string, name: string): boolean {
    return (
      this.db.prepare('DELETE FROM nas_snapshots WHERE volume_id = ? AND name = ?').run(volumeId, name)
        .changes > 0
    );
  }

  /** The node's NAS settings; defaults until first saved. */
  settings(): NasSettingsRecord {
    const row = this.db.prepare('SELECT * FROM nas_settings WHERE id = 1').get() as SettingsRow | undefined;
    if (row) return toSettings(row);
    return {
      localBackup: false,
      agentEnabled: false,
      agentPort: DEFAULT_AGENT_PORT,
      agentAddress: '0.0.0.0',
      agentAllowedHosts: [],
      agentMaxConnections: DEFAULT_AGENT_MAX_CONNECTIONS,
      updatedAt: '',
    };
  }

  saveSettings(settings: Omit<NasSettingsRecord, 'updatedAt'>): NasSettingsRecord {
    const record: NasSettingsRecord = { ...settings, updatedAt: this.now().toISOString() };
    try {
      this.db
        .prepare(
          `INSERT INTO nas_settings (id, local_backup, agent_enabled, agent_port, agent_address,
             agent_allowed_hosts, agent_max_connections, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET local_backup = excluded.local_backup,
             agent_enabled = excluded.agent_enabled, agent_port = excluded.agent_port,
             agent_address = excluded.agent_address, agent_allowed_hosts = excluded.agent_allowed_hosts,
             agent_max_connections = excluded.agent_max_connections, updated_at = excluded.updated_at`,
        )
        .run(
          record.localBackup ? 1 : 0,
          record.agentEnabled ? 1 : 0,
          record.agentPort,
          record.agentAddress,
          JSON.stringify(record.agentAllowedHosts),
          record.agentMaxConnections,
          record.updatedAt,
        );
    } catch (error) {
      throw constraintError(error, 'the NAS settings');
    }
    return record;
  }

  private changeShare(name: string, sql: string, ...values: (string | number | null)[]): void {
    let changes: number;
    try {
      changes = this.db.prepare(sql).run(...values, name).changes;
    } catch (error) {
      throw constraintError(error, `share ${name}`);
    }
    if (changes === 0) throw notFound('share-not-found', `share "${name}" does not exist`);
  }
}
