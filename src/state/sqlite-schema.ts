// DDL of the state tables. Other components create their own tables through store.db.
import type Database from 'better-sqlite3';

/** Schema version stored in `state_meta`; bump with a migration when tables change. */
export const SCHEMA_VERSION = 1;

/** Creates the state tables if missing (idempotent). */
export function applySchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS identities (
      id TEXT PRIMARY KEY, version INTEGER NOT NULL, observed_at TEXT, body TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, identity_id TEXT NOT NULL) WITHOUT ROWID;
    -- No index by identity_id: each identity's aliases are known from its record (one less index write).
    DROP INDEX IF EXISTS aliases_by_identity;
    CREATE TABLE IF NOT EXISTS devices (
      id TEXT PRIMARY KEY, owner TEXT, owner_key TEXT NOT NULL, version INTEGER NOT NULL, observed_at TEXT,
      body TEXT NOT NULL) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS devices_by_owner ON devices (owner) WHERE owner IS NOT NULL;
    CREATE INDEX IF NOT EXISTS devices_pending_owner ON devices (owner_key) WHERE owner IS NULL;
    CREATE TABLE IF NOT EXISTS tombstones (
      kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, observed_at TEXT, deleted_at TEXT NOT NULL,
      PRIMARY KEY (kind, id)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS exceptions (
      id TEXT PRIMARY KEY, identity TEXT NOT NULL, expires_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS exceptions_by_identity ON exceptions (identity);
    CREATE TABLE IF NOT EXISTS break_glass (identity TEXT PRIMARY KEY, expires_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS apps (id TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS source_marks (
      kind TEXT NOT NULL, source TEXT NOT NULL, last_updated_at TEXT NOT NULL, PRIMARY KEY (kind, source)) WITHOUT ROWID;
  `);
  const row = db.prepare("SELECT value FROM state_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
  if (!row) db.prepare("INSERT INTO state_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
  else if (Number(row.value) > SCHEMA_VERSION)
    throw new Error(`state schema version ${row.value} is newer than this build understands (${SCHEMA_VERSION})`);
}
