// Persistent reservation state per volume, as JSON text. The SCSI layer decides what the state means
// and when it must be kept (APTPL); this repo only stores it, in the same transactional store as the
// rest of the configuration. Rows go away with their volume (ON DELETE CASCADE).
import type { Db } from '../store.js';

export class PrStateRepo {
  constructor(private readonly db: Db) {}

  load(volumeId: string): string | undefined {
    const row = this.db.prepare('SELECT state FROM pr_state WHERE volume_id = ?').get(volumeId) as
      { state: string } | undefined;
    return row?.state;
  }

  save(volumeId: string, state: string): void {
    this.db
      .prepare(
        `INSERT INTO pr_state (volume_id, state, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(volume_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      )
      .run(volumeId, state, new Date().toISOString());
  }
}
