// Numbered schema migrations. Migration N brings the store from user_version N-1 to N; each runs in
// one transaction with the version bump, so a store is always at exactly one version. Append only:
// a released migration is never edited, a change is a new entry.

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'node metadata, admin accounts, pools, volumes, targets, LUNs, CHAP users, initiator ACLs',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE accounts (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
      );
      CREATE TABLE pools (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        path           TEXT NOT NULL UNIQUE,
        capacity_limit INTEGER CHECK (capacity_limit IS NULL OR capacity_limit > 0),
        is_default     INTEGER NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL
      );
      CREATE TABLE volumes (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL UNIQUE,
        pool_id          TEXT NOT NULL REFERENCES pools(id),
        type             TEXT NOT NULL CHECK (type IN ('iscsi', 'nas', 'fc')),
        size             INTEGER NOT NULL CHECK (size > 0),
        provisioning     TEXT NOT NULL CHECK (provisioning IN ('thin', 'thick')),
        io_type          TEXT CHECK (io_type IS NULL OR io_type IN ('block', 'file')),
        replication      INTEGER NOT NULL DEFAULT 0,
        worm             INTEGER NOT NULL DEFAULT 0,
        snapshot_reserve INTEGER NOT NULL DEFAULT 0 CHECK (snapshot_reserve >= 0),
        created_at       TEXT NOT NULL
      );
      CREATE TABLE targets (
        id         TEXT PRIMARY KEY,
        iqn        TEXT NOT NULL UNIQUE,
        alias      TEXT,
        enabled    INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
      );
      CREATE TABLE luns (
        target_id  TEXT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
        lun        INTEGER NOT NULL CHECK (lun BETWEEN 0 AND 255),
        volume_id  TEXT NOT NULL UNIQUE REFERENCES volumes(id),
        serial     TEXT NOT NULL,
        naa        TEXT NOT NULL,
        read_only  INTEGER NOT NULL DEFAULT 0,
        write_back INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (target_id, lun)
      );
      CREATE TABLE chap_users (
        target_id TEXT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
        direction TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
        username  TEXT NOT NULL,
        secret    TEXT NOT NULL,
        PRIMARY KEY (target_id, direction, username)
      );
      CREATE TABLE initiator_acl (
        target_id TEXT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
        initiator TEXT NOT NULL,
        PRIMARY KEY (target_id, initiator)
      );
    `,
  },
  {
    version: 2,
    description: 'persistent reservation state per volume (kept across restarts when APTPL is set)',
    sql: `
      CREATE TABLE pr_state (
        volume_id  TEXT PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
        state      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: 'volume replication: per-volume mode and mirror server, the node pairing, replication tasks',
    sql: `
      CREATE TABLE replication_volume_settings (
        volume_id     TEXT PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
        mode          TEXT NOT NULL CHECK (mode IN ('source', 'destination')),
        mirror_server TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
      CREATE TABLE replication_pairing (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        node_name        TEXT NOT NULL,
        peer_name        TEXT NOT NULL,
        secret           TEXT NOT NULL,
        tls              INTEGER NOT NULL DEFAULT 0 CHECK (tls IN (0, 1)),
        tls_cert         TEXT,
        tls_key          TEXT,
        peer_fingerprint TEXT,
        updated_at       TEXT NOT NULL
      );
      CREATE TABLE replication_tasks (
        name          TEXT PRIMARY KEY,
        direction     TEXT NOT NULL CHECK (direction IN ('source', 'reverse')),
        volume_id     TEXT NOT NULL UNIQUE REFERENCES volumes(id) ON DELETE CASCADE,
        remote_volume TEXT NOT NULL,
        peer_address  TEXT NOT NULL,
        enabled       INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
        rate_mode     TEXT NOT NULL DEFAULT 'dynamic' CHECK (rate_mode IN ('dynamic', 'fixed')),
        rate_bytes    INTEGER NOT NULL CHECK (rate_bytes >= 0),
        created_at    TEXT NOT NULL
      );
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
