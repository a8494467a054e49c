// The state tables' layout: identities and devices are rowid tables (records appended in write order),
// and a store written by the first layout (WITHOUT ROWID tables placed by id) is migrated in place at
// open, keeping every record, alias and owner link, in one transaction, once.
import Database from 'better-sqlite3';
import path from 'node:path';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { SCHEMA_VERSION } from '../../src/state/sqlite-schema';
import { tempDir } from '../api/helpers';
import { active, device } from './helpers';

// The first layout's record tables, as commit 3413868 created them.
const LAYOUT_1 = `
  CREATE TABLE state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  INSERT INTO state_meta VALUES ('schema_version', '1');
  CREATE TABLE identities (id TEXT PRIMARY KEY, version INTEGER NOT NULL, observed_at TEXT, body TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE aliases (alias TEXT PRIMARY KEY, identity_id TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE devices (id TEXT PRIMARY KEY, owner TEXT, owner_key TEXT NOT NULL, version INTEGER NOT NULL, observed_at TEXT, body TEXT NOT NULL) WITHOUT ROWID;
  CREATE INDEX devices_by_owner ON devices (owner) WHERE owner IS NOT NULL;
  CREATE INDEX devices_pending_owner ON devices (owner_key) WHERE owner IS NULL;`;

const tableSql = (db: Database.Database, name: string) => db.prepare("SELECT sql FROM sqlite_master WHERE name = ?").pluck().get(name) as string | undefined;
const plan = (db: Database.Database, sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as Array<{ detail: string }>).map((r) => r.detail).join('; ');

let store: StateStore | undefined;
afterEach(() => store?.close());

/** A layout-1 file holding what a store of that layout wrote: two identities (one with an alias), three devices (one pending). */
function layout1File(): string {
  const file = path.join(tempDir(), 'tether.db');
  const db = new Database(file);
  db.exec(LAYOUT_1);
  const body = (o: object) => JSON.stringify(o);
  const idn = (id: string, aliases: string[]) => ({ id, status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, aliases, activated_at: null, version: 3, updated_at: '2026-01-01T00:00:00.000Z' });
  const dev = (id: string, owner: string, resolved: boolean) => ({ id, owner, owner_ref: owner, owner_resolved: resolved, enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', version: 1, updated_at: '2026-01-01T00:00:00.000Z' });
  db.prepare('INSERT INTO identities VALUES (?, ?, ?, ?)').run('bob', 3, null, body(idn('bob', [])));
  db.prepare('INSERT INTO identities VALUES (?, ?, ?, ?)').run('alice', 3, null, body(idn('alice', ['alice@example.com'])));
  db.prepare('INSERT INTO aliases VALUES (?, ?)').run('alice@example.com', 'alice');
  const putDev = db.prepare('INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?)');
  putDev.run('mac-2', 'alice', 'alice', 1, null, body(dev('mac-2', 'alice', true)));
  putDev.run('mac-1', 'alice', 'alice', 1, null, body(dev('mac-1', 'alice', true)));
  putDev.run('pc-9', null, 'carol@example.com', 1, null, body(dev('pc-9', 'carol@example.com', false)));
  db.close();
  return file;
}

test('a new store keeps identities and devices in rowid tables, looked up through their id index', () => {
  store = openSqliteStore({ path: ':memory:' });
  expect(tableSql(store.db, 'identities')).not.toMatch(/WITHOUT ROWID/);
  expect(tableSql(store.db, 'devices')).not.toMatch(/WITHOUT ROWID/);
  expect(plan(store.db, 'SELECT body FROM devices WHERE id = ?')).toMatch(/sqlite_autoindex_devices/);
  expect(plan(store.db, 'SELECT body FROM devices WHERE owner = ? ORDER BY id')).toMatch(/devices_by_owner/);
  expect(plan(store.db, 'SELECT body FROM devices WHERE owner = ? ORDER BY id')).not.toMatch(/TEMP B-TREE/);
});

test('a store of the first layout is migrated at open: every record, alias, owner link and pending device kept, reported once', () => {
  const file = layout1File();
  const events: Array<[string, object]> = [];
  store = openSqliteStore({ path: file, onMigrate: (phase, r) => events.push([phase, r]) });
  expect(events).toEqual([
    ['start', { from: 1, to: SCHEMA_VERSION, identities: 2, devices: 3 }],
    ['done', { from: 1, to: SCHEMA_VERSION, identities: 2, devices: 3, ms: expect.any(Number) }],
  ]);
  expect(tableSql(store.db, 'identities')).not.toMatch(/WITHOUT ROWID/);
  expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%old_layout%'").pluck().all()).toEqual([]);
  expect(store.db.prepare("SELECT value FROM state_meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));

  expect(store.getIdentity('ALICE@example.com')).toMatchObject({ id: 'alice', version: 3 });
  expect(store.listIdentities().items.map((i) => i.id)).toEqual(['alice', 'bob']);
  expect(store.listDevicesByOwner('alice').map((d) => d.id)).toEqual(['mac-1', 'mac-2']);
  expect(store.counts()).toMatchObject({ identity: 2, device: 3 });
  // Still ordered by version: an older update of a migrated record is refused.
  expect(() => store!.putIdentity('bob', active({ version: 2 }))).toThrow(/stale|older/i);
  // The pending device is still found by its owner reference when that identity arrives.
  store.putIdentity('carol', active({ aliases: ['carol@example.com'] }));
  expect(store.getDevice('pc-9')).toMatchObject({ owner: 'carol', owner_resolved: true });
  store.putDevice('mac-3', device('alice@example.com'));
  expect(store.listDevicesByOwner('alice').map((d) => d.id)).toEqual(['mac-1', 'mac-2', 'mac-3']);
  store.close();

  events.length = 0;
  store = openSqliteStore({ path: file, onMigrate: (phase, r) => events.push([phase, r]) });
  expect(events).toEqual([]);
  expect(store.counts()).toMatchObject({ identity: 3, device: 4 });
});

test('a store written by a newer layout is refused at open, unchanged', () => {
  const file = path.join(tempDir(), 'tether.db');
  const db = new Database(file);
  db.exec(`CREATE TABLE state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID; INSERT INTO state_meta VALUES ('schema_version', '${SCHEMA_VERSION + 1}')`);
  db.close();
  expect(() => openSqliteStore({ path: file })).toThrow(/newer than this build/);
  const after = new Database(file);
  expect(after.prepare("SELECT value FROM state_meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION + 1));
  expect(tableSql(after, 'identities')).toBeUndefined();
  after.close();
});
