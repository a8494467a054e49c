// DDL of lifecycle_identities (status start and derived state per identity), with the migration from
// the first layout.
import type Database from 'better-sqlite3';
import { rebuildTable, withoutRowid } from '../state/sqlite-schema';

const TABLE = `
  CREATE TABLE IF NOT EXISTS lifecycle_identities (
    identity TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    status_since TEXT NOT NULL,
    state TEXT,
    state_since TEXT,
    kind TEXT,
    reasons TEXT
  ) WITHOUT ROWID`;

// Partial: an identity gets a row when written, with no state until the lifecycle derives it, so a
// bulk import writes one B-tree per identity here instead of four (rowid, key and two NULL entries).
const INDEXES = `
  CREATE INDEX IF NOT EXISTS lifecycle_identities_drifting ON lifecycle_identities (identity) WHERE kind IS NOT NULL;
  CREATE INDEX IF NOT EXISTS lifecycle_identities_by_state ON lifecycle_identities (state) WHERE state IS NOT NULL`;

/**
 * Creates lifecycle_identities if missing (idempotent). A table of the first layout (a rowid table with
 * full indexes on kind and state) is copied into the current one in one transaction.
 */
export function applyLifecycleSchema(db: Database.Database): void {
  db.transaction(() => {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lifecycle_identities'").get() !== undefined;
    if (exists && !withoutRowid(db, 'lifecycle_identities'))
      rebuildTable(db, 'lifecycle_identities', 'identity, status, status_since, state, state_since, kind, reasons', 'identity', TABLE);
    db.exec(`${TABLE};${INDEXES}`);
  })();
}
