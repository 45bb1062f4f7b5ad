// The network setup: which NIC carries iSCSI data (and the virtual IP), which carry the auxiliary
// (heartbeat) connection, and the virtual IP itself. A NIC without a row has no role. The store
// enforces one data NIC and one virtual IP; the network service validates everything else first.
import type { VirtualIpDriverKind } from '../../ha/vip/types.js';
import { conflict } from '../../lib/errors.js';
import type { Db } from '../store.js';

export type NicRole = 'data' | 'aux';

export interface NicRoleRecord {
  readonly nic: string;
  readonly role: NicRole;
  readonly updatedAt: string;
}

export interface VirtualIpRecord {
  readonly address: string;
  readonly prefixLength: number;
  readonly broadcast: string;
  readonly nic: string;
  readonly driver: VirtualIpDriverKind;
  readonly updatedAt: string;
}

interface RoleRow {
  nic: string;
  role: NicRole;
  updated_at: string;
}

interface VirtualIpRow {
  address: string;
  prefix_length: number;
  broadcast: string;
  nic: string;
  driver: VirtualIpDriverKind;
  updated_at: string;
}

const toRole = (row: RoleRow): NicRoleRecord => ({ nic: row.nic, role: row.role, updatedAt: row.updated_at });

const toVirtualIp = (row: VirtualIpRow): VirtualIpRecord => ({
  address: row.address,
  prefixLength: row.prefix_length,
  broadcast: row.broadcast,
  nic: row.nic,
  driver: row.driver,
  updatedAt: row.updated_at,
});

export class NetworkRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  roles(): NicRoleRecord[] {
    return (this.db.prepare('SELECT * FROM network_nic_roles ORDER BY nic').all() as RoleRow[]).map(toRole);
  }

  role(nic: string): NicRole | undefined {
    const row = this.db.prepare('SELECT role FROM network_nic_roles WHERE nic = ?').get(nic) as
      { role: NicRole } | undefined;
    return row?.role;
  }

  /** Sets a NIC's role, or removes it (null). Throws conflict when another NIC is the data NIC. */
  setRole(nic: string, role: NicRole | null): void {
    if (role === null) {
      this.db.prepare('DELETE FROM network_nic_roles WHERE nic = ?').run(nic);
      return;
    }
    try {
      this.db
        .prepare(
          `INSERT INTO network_nic_roles (nic, role, updated_at) VALUES (?, ?, ?)
           ON CONFLICT(nic) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
        )
        .run(nic, role, this.now().toISOString());
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw conflict('data-nic-exists', 'another NIC already has the data role; set it to none first');
      }
      throw error;
    }
  }

  virtualIp(): VirtualIpRecord | undefined {
    const row = this.db.prepare('SELECT * FROM network_virtual_ip WHERE id = 1').get() as
      VirtualIpRow | undefined;
    return row && toVirtualIp(row);
  }

  setVirtualIp(vip: Omit<VirtualIpRecord, 'updatedAt'>): VirtualIpRecord {
    const record: VirtualIpRecord = { ...vip, updatedAt: this.now().toISOString() };
    this.db
      .prepare(
        `INSERT INTO network_virtual_ip (id, address, prefix_length, broadcast, nic, driver, updated_at)
         VALUES (1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET address = excluded.address, prefix_length = excluded.prefix_length,
           broadcast = excluded.broadcast, nic = excluded.nic, driver = excluded.driver,
           updated_at = excluded.updated_at`,
      )
      .run(
        record.address,
        record.prefixLength,
        record.broadcast,
        record.nic,
        record.driver,
        record.updatedAt,
      );
    return record;
  }

  /** Returns false when there was no virtual IP. */
  deleteVirtualIp(): boolean {
    return this.db.prepare('DELETE FROM network_virtual_ip WHERE id = 1').run().changes > 0;
  }
}
