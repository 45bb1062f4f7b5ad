// iSCSI targets as configured: the target, its LUN map, its CHAP users and its initiator allow list.
// The repo loads and saves a target as one aggregate; the target manager validates before saving.
import type { Db } from '../store.js';

export type ChapDirection = 'incoming' | 'outgoing';

export interface LunRecord {
  readonly lun: number;
  readonly volumeId: string;
  /** SCSI ID: the unit serial number (VPD 0x80). */
  readonly serial: string;
  /** NAA designator as hex digits (VPD 0x83). */
  readonly naa: string;
  readonly readOnly: boolean;
  /** Write-back cache; false means write-through (every acknowledged write is durable). */
  readonly writeBack: boolean;
}

export interface ChapUserRecord {
  /** incoming: the initiator proves itself to us; outgoing: we prove ourselves (mutual CHAP). */
  readonly direction: ChapDirection;
  readonly username: string;
  readonly secret: string;
}

export interface TargetRecord {
  readonly id: string;
  readonly iqn: string;
  readonly alias: string | null;
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly luns: readonly LunRecord[];
  readonly chapUsers: readonly ChapUserRecord[];
  /** Initiator names allowed to log in; empty means every initiator. */
  readonly allowedInitiators: readonly string[];
}

interface TargetRow {
  id: string;
  iqn: string;
  alias: string | null;
  enabled: number;
  created_at: string;
}

interface LunRow {
  lun: number;
  volume_id: string;
  serial: string;
  naa: string;
  read_only: number;
  write_back: number;
}

export class TargetsRepo {
  constructor(private readonly db: Db) {}

  list(): TargetRecord[] {
    const rows = this.db.prepare('SELECT * FROM targets ORDER BY iqn').all() as TargetRow[];
    return rows.map((row) => this.load(row));
  }

  byIqn(iqn: string): TargetRecord | undefined {
    const row = this.db.prepare('SELECT * FROM targets WHERE iqn = ?').get(iqn) as TargetRow | undefined;
    return row && this.load(row);
  }

  /** The target and LUN that export a volume, if any. */
  mappingOfVolume(volumeId: string): { iqn: string; lun: number } | undefined {
    return this.db
      .prepare(
        'SELECT t.iqn AS iqn, l.lun AS lun FROM luns l JOIN targets t ON t.id = l.target_id WHERE l.volume_id = ?',
      )
      .get(volumeId) as { iqn: string; lun: number } | undefined;
  }

  /** Every serial and NAA in use, to keep identities unique on this node. */
  identitiesInUse(): { serial: string; naa: string; iqn: string; lun: number }[] {
    return this.db
      .prepare(
        'SELECT l.serial AS serial, l.naa AS naa, t.iqn AS iqn, l.lun AS lun FROM luns l JOIN targets t ON t.id = l.target_id',
      )
      .all() as { serial: string; naa: string; iqn: string; lun: number }[];
  }

  /** Inserts or replaces the whole aggregate in one transaction. */
  save(target: TargetRecord): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO targets (id, iqn, alias, enabled, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET iqn = excluded.iqn, alias = excluded.alias, enabled = excluded.enabled`,
        )
        .run(target.id, target.iqn, target.alias, target.enabled ? 1 : 0, target.createdAt);
      this.db.prepare('DELETE FROM luns WHERE target_id = ?').run(target.id);
      this.db.prepare('DELETE FROM chap_users WHERE target_id = ?').run(target.id);
      this.db.prepare('DELETE FROM initiator_acl WHERE target_id = ?').run(target.id);
      const insertLun = this.db.prepare(
        'INSERT INTO luns (target_id, lun, volume_id, serial, naa, read_only, write_back) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const lun of target.luns) {
        insertLun.run(
          target.id,
          lun.lun,
          lun.volumeId,
          lun.serial,
          lun.naa,
          lun.readOnly ? 1 : 0,
          lun.writeBack ? 1 : 0,
        );
      }
      const insertChap = this.db.prepare(
        'INSERT INTO chap_users (target_id, direction, username, secret) VALUES (?, ?, ?, ?)',
      );
      for (const user of target.chapUsers)
        insertChap.run(target.id, user.direction, user.username, user.secret);
      const insertAcl = this.db.prepare('INSERT INTO initiator_acl (target_id, initiator) VALUES (?, ?)');
      for (const initiator of target.allowedInitiators) insertAcl.run(target.id, initiator);
    })();
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM targets WHERE id = ?').run(id);
  }

  private load(row: TargetRow): TargetRecord {
    const luns = (
      this.db.prepare('SELECT * FROM luns WHERE target_id = ? ORDER BY lun').all(row.id) as LunRow[]
    ).map((l): LunRecord => ({
      lun: l.lun,
      volumeId: l.volume_id,
      serial: l.serial,
      naa: l.naa,
      readOnly: l.read_only === 1,
      writeBack: l.write_back === 1,
    }));
    const chapUsers = this.db
      .prepare(
        'SELECT direction, username, secret FROM chap_users WHERE target_id = ? ORDER BY direction, username',
      )
      .all(row.id) as ChapUserRecord[];
    const allowedInitiators = (
      this.db
        .prepare('SELECT initiator FROM initiator_acl WHERE target_id = ? ORDER BY initiator')
        .all(row.id) as {
        initiator: string;
      }[]
    ).map((r) => r.initiator);
    return {
      id: row.id,
      iqn: row.iqn,
      alias: row.alias,
      enabled: row.enabled === 1,
      createdAt: row.created_at,
      luns,
      chapUsers,
      allowedInitiators,
    };
  }
}
