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
const IDENTITIES_TABLE = `
  CREATE TABLE IF NOT EXISTS identities (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, observed_at TEXT, body TEXT NOT NULL);`;
const DEVICES_TABLE = `
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
    db.exec(IDENTITIES_TABLE + DEVICES_TABLE + RECORD_INDEXES + OTHER_TABLES);
    db.prepare("INSERT INTO state_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(SCHEMA_VERSION));
  })();
}

/** True when `table` exists as a WITHOUT ROWID table (how layout migrations recognise an old layout). */
export function withoutRowid(db: Database.Database, table: string): boolean {
  const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table) as string | undefined;
  return sql !== undefined && /WITHOUT\s+ROWID/i.test(sql);
}

/**
 * Moves `table`'s rows into the layout `createSql` creates (a CREATE TABLE of the same name and columns),
 * in `orderBy` order. The old table's indexes go with it; the caller creates the new ones afterwards
 * (with IF NOT EXISTS, as on every start). Call inside a transaction.
 */
export function rebuildTable(db: Database.Database, table: string, columns: string, orderBy: string, createSql: string): void {
  const old = `${table}_old_layout`;
  db.exec(`ALTER TABLE ${table} RENAME TO ${old}`);
  // Dropped before the new table exists: a new index may reuse an old one's name.
  for (const name of db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").pluck().all(old) as string[])
    db.exec(`DROP INDEX ${name}`);
  db.exec(createSql);
  db.exec(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM ${old} ORDER BY ${orderBy}; DROP TABLE ${old}`);
}

// Layout 1 → 2: identities and devices copied into rowid tables, in id order (so a scan by id reads the
// table in order too).
function migrateRecordTables(db: Database.Database, from: number, onMigrate: (phase: 'start' | 'done', r: Partial<MigrationReport>) => void): void {
  const started = performance.now();
  const count = (t: string) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
  const report = { from, to: SCHEMA_VERSION, identities: count('identities'), devices: count('devices') };
  onMigrate('start', report);
  rebuildTable(db, 'identities', 'id, version, observed_at, body', 'id', IDENTITIES_TABLE);
  rebuildTable(db, 'devices', 'id, owner, owner_key, version, observed_at, body', 'id', DEVICES_TABLE);
  onMigrate('done', { ...report, ms: Math.round(performance.now() - started) });
}
