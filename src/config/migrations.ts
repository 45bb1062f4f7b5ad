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
  {
    version: 4,
    description: 'NAS: shares with their data replication access, NAS snapshots, NAS settings (agent)',
    sql: `
      CREATE TABLE nas_shares (
        name              TEXT PRIMARY KEY,
        volume_id         TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
        relative_path     TEXT NOT NULL,
        comment           TEXT NOT NULL DEFAULT '',
        datarep_enabled   INTEGER NOT NULL DEFAULT 0 CHECK (datarep_enabled IN (0, 1)),
        datarep_id        TEXT,
        datarep_password  TEXT,
        created_at        TEXT NOT NULL,
        UNIQUE (volume_id, relative_path),
        CHECK (datarep_enabled = 0 OR (datarep_id IS NOT NULL AND datarep_password IS NOT NULL))
      );
      CREATE TABLE nas_snapshots (
        volume_id  TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        mode       TEXT NOT NULL CHECK (mode IN ('btrfs', 'reflink', 'copy')),
        path       TEXT NOT NULL UNIQUE,
        bytes      INTEGER NOT NULL CHECK (bytes >= 0),
        read_only  INTEGER NOT NULL DEFAULT 1 CHECK (read_only IN (0, 1)),
        created_at TEXT NOT NULL,
        PRIMARY KEY (volume_id, name)
      );
      CREATE TABLE nas_settings (
        id                    INTEGER PRIMARY KEY CHECK (id = 1),
        local_backup          INTEGER NOT NULL DEFAULT 0 CHECK (local_backup IN (0, 1)),
        agent_enabled         INTEGER NOT NULL DEFAULT 0 CHECK (agent_enabled IN (0, 1)),
        agent_port            INTEGER NOT NULL DEFAULT 873 CHECK (agent_port BETWEEN 1 AND 65535),
        agent_address         TEXT NOT NULL DEFAULT '0.0.0.0',
        agent_allowed_hosts   TEXT NOT NULL DEFAULT '[]',
        agent_max_connections INTEGER NOT NULL DEFAULT 10 CHECK (agent_max_connections >= 1),
        updated_at            TEXT NOT NULL
      );
    `,
  },
  {
    version: 5,
    description: 'data replication tasks and their schedules; the task log (all kinds of tasks)',
    sql: `
      CREATE TABLE datarep_tasks (
        name              TEXT PRIMARY KEY,
        source_share      TEXT NOT NULL,
        destination_host  TEXT NOT NULL,
        destination_port  INTEGER NOT NULL CHECK (destination_port BETWEEN 1 AND 65535),
        destination_share TEXT NOT NULL,
        agent_id          TEXT NOT NULL,
        delete_extraneous INTEGER NOT NULL DEFAULT 0 CHECK (delete_extraneous IN (0, 1)),
        bandwidth_limit   INTEGER CHECK (bandwidth_limit IS NULL OR bandwidth_limit > 0),
        compress          INTEGER NOT NULL DEFAULT 0 CHECK (compress IN (0, 1)),
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL
      );
      CREATE TABLE datarep_schedules (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        task_name  TEXT NOT NULL REFERENCES datarep_tasks(name) ON DELETE CASCADE,
        spec       TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE task_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        time    TEXT NOT NULL,
        name    TEXT NOT NULL,
        type    TEXT NOT NULL,
        status  TEXT NOT NULL CHECK (status IN ('ok', 'error', 'skipped', 'running')),
        action  TEXT NOT NULL CHECK (action IN ('started', 'finished', 'skipped', 'cancelled')),
        run_id  TEXT,
        details TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX task_log_time ON task_log (time);
      CREATE INDEX task_log_name ON task_log (name, id);
    `,
  },
  {
    version: 6,
    description: 'network setup: NIC roles (one data NIC, auxiliary NICs) and the virtual IP',
    sql: `
      CREATE TABLE network_nic_roles (
        nic        TEXT PRIMARY KEY,
        role       TEXT NOT NULL CHECK (role IN ('data', 'aux')),
        updated_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX network_one_data_nic ON network_nic_roles (role) WHERE role = 'data';
      CREATE TABLE network_virtual_ip (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        address       TEXT NOT NULL,
        prefix_length INTEGER NOT NULL CHECK (prefix_length BETWEEN 0 AND 32),
        broadcast     TEXT NOT NULL,
        nic           TEXT NOT NULL,
        driver        TEXT NOT NULL CHECK (driver IN ('iproute2', 'loopback')),
        updated_at    TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    description: 'data replication: the base snapshot each task last replicated in full (incremental runs)',
    sql: `
      CREATE TABLE datarep_bases (
        task_name    TEXT PRIMARY KEY REFERENCES datarep_tasks(name) ON DELETE CASCADE,
        volume       TEXT NOT NULL,
        snapshot     TEXT NOT NULL,
        target       TEXT NOT NULL,
        full_run_at  TEXT NOT NULL,
        tree_entries INTEGER,
        updated_at   TEXT NOT NULL
      );
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
