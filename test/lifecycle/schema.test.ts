// lifecycle_identities: the current layout (WITHOUT ROWID, partial indexes) and the migration from the
// first one (a rowid table with full indexes on kind and state), which keeps every row.
import Database from 'better-sqlite3';
import { applyLifecycleSchema } from '../../src/lifecycle/schema';

const FIRST_LAYOUT = `
  CREATE TABLE lifecycle_identities (
    identity TEXT PRIMARY KEY, status TEXT NOT NULL, status_since TEXT NOT NULL,
    state TEXT, state_since TEXT, kind TEXT, reasons TEXT);
  CREATE INDEX lifecycle_identities_kind ON lifecycle_identities (kind);
  CREATE INDEX lifecycle_identities_state ON lifecycle_identities (state);`;

const tableSql = (db: Database.Database) => db.prepare("SELECT sql FROM sqlite_master WHERE name = 'lifecycle_identities'").pluck().get() as string;
const indexes = (db: Database.Database) =>
  db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'lifecycle_identities' AND sql IS NOT NULL ORDER BY name").pluck().all();
const rows = (db: Database.Database) => db.prepare('SELECT * FROM lifecycle_identities ORDER BY identity').all();
const plan = (db: Database.Database, sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ');

test('a new store gets lifecycle_identities WITHOUT ROWID with partial indexes that the drift and count queries use', () => {
  const db = new Database(':memory:');
  applyLifecycleSchema(db);
  applyLifecycleSchema(db); // idempotent
  expect(tableSql(db)).toMatch(/WITHOUT ROWID/);
  expect(indexes(db)).toEqual(['lifecycle_identities_by_state', 'lifecycle_identities_drifting']);
  expect(plan(db, 'SELECT state, count(*) AS n FROM lifecycle_identities WHERE state IS NOT NULL GROUP BY state')).toMatch(/lifecycle_identities_by_state/);
  expect(plan(db, 'SELECT * FROM lifecycle_identities WHERE kind IS NOT NULL ORDER BY identity')).toMatch(/lifecycle_identities_drifting/);
  db.close();
});

test('a store of the first layout is migrated in place: same rows, new layout, old indexes gone', () => {
  const db = new Database(':memory:');
  db.exec(FIRST_LAYOUT);
  const insert = db.prepare('INSERT INTO lifecycle_identities VALUES (?, ?, ?, ?, ?, ?, ?)');
  insert.run('alice', 'active', '2026-01-01T00:00:00.000Z', 'healthy', '2026-01-02T00:00:00.000Z', null, '[]');
  insert.run('bob', 'active', '2026-01-01T00:00:00.000Z', 'active_unenrolled', '2026-01-03T00:00:00.000Z', 'risk', '["no_enrolled_device"]');
  insert.run('carol', 'provisioned', '2026-01-04T00:00:00.000Z', null, null, null, null);
  const before = rows(db);

  applyLifecycleSchema(db);
  expect(tableSql(db)).toMatch(/WITHOUT ROWID/);
  expect(rows(db)).toEqual(before);
  expect(indexes(db)).toEqual(['lifecycle_identities_by_state', 'lifecycle_identities_drifting']);
  expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%old_layout%'").pluck().all()).toEqual([]);
  expect(db.prepare('SELECT identity FROM lifecycle_identities WHERE kind IS NOT NULL ORDER BY identity').pluck().all()).toEqual(['bob']);

  applyLifecycleSchema(db); // a second start finds the new layout and changes nothing
  expect(rows(db)).toEqual(before);
  db.close();
});
