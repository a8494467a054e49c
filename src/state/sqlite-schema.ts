// DDL of the state tables, and the migration of stores written by an earlier layout. Other components
// create their own tables through store.db.
import type Database from 'better-sqlite3';

/** Schema version stored in `state_meta`; bump with a migration when tables change. */
export const SCHEMA_VERSION = 2;

/** What a layout migration did (the server logs it: a large store takes a while once). */
export interface MigrationReport {
  from: number;
  to: number;
  identities: number;
  devices: number;
  ms: number;
}

// Identities and devices are rowid tables, their id a (unique) index: records are appended in write
// order and only the small index entries land where the id sorts. As WITHOUT ROWID tables (layout 1)
// every ~450-byte record was placed by id, so an import of GUID-named records (Entra, Intune, Jamf)
// dirtied about one page per record and wrote it twice (WAL, checkpoint): 5,900 records/s through
// `tether serve` against 23,600 for ascending ids (bench/README "Import with GUID ids").
const RECORD_TABLES = `
  CREATE TABLE IF NOT EXISTS identities (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, observed_at TEXT, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY, owner TEXT, owner_key TEXT NOT NULL, version INTEGER NOT NULL, observed_at TEXT,
    body TEXT NOT NULL);`;

// (owner, id): the owner's devices in id order without a sort (a rowid table's index ends in the rowid).
const RECORD_INDEXES = `
  CREATE INDEX IF NOT EXISTS devices_by_owner ON devices (owner, id) WHERE owner IS NOT NULL;
  CREATE INDEX IF NOT EXISTS devices_pending_owner ON devices (owner_key) WHERE owner IS NULL;`;

const OTHER_TABLES = `
  CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, identity_id TEXT NOT NULL) WITHOUT ROWID;
  -- No index by identity_id: each identity's aliases are known from its record (one less index write).
  DROP INDEX IF EXISTS aliases_by_identity;
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
    kind TEXT NOT NULL, source TEXT NOT NULL, last_updated_at TEXT NOT NULL, PRIMARY KEY (kind, source)) WITHOUT ROWID;`;

/**
 * Creates the state tables if missing (idempotent) and migrates a store of an earlier layout in one
 * transaction; `onMigrate` hears of a migration before it starts and when it is done.
 */
export function applySchema(db: Database.Database, onMigrate: (phase: 'start' | 'done', r: Partial<MigrationReport>) => void = () => undefined): void {
  db.exec('CREATE TABLE IF NOT EXISTS state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
  const stored = db.prepare("SELECT value FROM state_meta WHERE key = 'schema_version'").pluck().get() as string | undefined;
  if (stored !== undefined && Number(stored) > SCHEMA_VERSION)
    throw new Error(`state schema version ${stored} is newer than this build understands (${SCHEMA_VERSION})`);
  db.transaction(() => {
    if (withoutRowid(db, 'identities') || withoutRowid(db, 'devices')) migrateRecordTables(db, Number(stored ?? 1), onMigrate);
    db.exec(RECORD_TABLES + RECORD_INDEXES + OTHER_TABLES);
    db.prepare("INSERT INTO state_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
  })();
}

/** True when `table` exists as a WITHOUT ROWID table (how layout migrations recognise an old layout). */
export function withoutRowid(db: Database.Database, table: string): boolean {
  const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table) as string | undefined;
  return sql !== undefined && /WITHOUT\s+ROWID/i.test(sql);
}

// Layout 1 → 2: identities and devices copied into rowid tables, in id order (so a scan by id reads the
// table in order too); their old indexes go with the old tables.
function migrateRecordTables(db: Database.Database, from: number, onMigrate: (phase: 'start' | 'done', r: Partial<MigrationReport>) => void): void {
  const started = performance.now();
  const count = (t: string) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
  const report = { from, to: SCHEMA_VERSION, identities: count('identities'), devices: count('devices') };
  onMigrate('start', report);
  db.exec(`
    ALTER TABLE identities RENAME TO identities_layout1;
    ALTER TABLE devices RENAME TO devices_layout1;
    DROP INDEX IF EXISTS devices_by_owner;
    DROP INDEX IF EXISTS devices_pending_owner;`);
  db.exec(RECORD_TABLES);
  db.exec(`
    INSERT INTO identities (id, version, observed_at, body) SELECT id, version, observed_at, body FROM identities_layout1 ORDER BY id;
    INSERT INTO devices (id, owner, owner_key, version, observed_at, body)
      SELECT id, owner, owner_key, version, observed_at, body FROM devices_layout1 ORDER BY id;
    DROP TABLE identities_layout1;
    DROP TABLE devices_layout1;`);
  onMigrate('done', { ...report, ms: Math.round(performance.now() - started) });
}
