// The bulk-import fast path (no savepoint per line, checks before writes) and the read-path shortcuts:
// a line rejected by a listener after writing is undone alone, rollbacks never hide tombstones, lines
// of one batch see each other, the alias index keeps exactly the current aliases, and exceptions /
// break-glass windows are found however they were created.
import Database from 'better-sqlite3';
import path from 'node:path';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { StaleUpdateError, StateUnavailableError, ValidationError } from '../../src/state/errors';
import { tempDir } from '../api/helpers';

const line = (n: number, kind: 'identity' | 'device', record: object) => ({ line: n, text: JSON.stringify({ kind, record }) });
const aliasRows = (store: StateStore) => (store.db.prepare('SELECT alias, identity_id FROM aliases ORDER BY alias').all() as Array<{ alias: string; identity_id: string }>);

let store: StateStore;
afterEach(() => store?.close());

test('a line whose onChange listener throws a StateError is rejected alone, with its listener writes undone', () => {
  store = openSqliteStore({ path: ':memory:' });
  store.db.exec('CREATE TABLE side (id TEXT)');
  const side = store.db.prepare('INSERT INTO side (id) VALUES (?)');
  store.onChange((e) => {
    side.run(e.id);
    if (e.kind === 'identity') store.getIdentity(e.id); // a read inside the transaction caches the uncommitted write
    if (e.id === 'bad') throw new ValidationError([{ path: '/status', message: 'refused by a listener' }]);
  });
  const r = store.importBatch([
    line(1, 'identity', { id: 'good1', status: 'active', aliases: ['g1@x.com'] }),
    line(2, 'identity', { id: 'bad', status: 'active', aliases: ['bad@x.com'] }),
    line(3, 'device', { id: 'd1', owner: 'g1@x.com', ownership: 'corporate' }),
    line(4, 'identity', { id: 'good2', status: 'active' }),
  ]);
  expect(r.imported).toBe(3);
  expect(r.rejected).toBe(1);
  expect(r.errors).toEqual([{ line: 2, code: 'invalid_input', message: '/record/status refused by a listener', errors: [{ path: '/record/status', message: 'refused by a listener' }] }]);
  expect(store.db.prepare('SELECT id FROM side ORDER BY id').all()).toEqual([{ id: 'd1' }, { id: 'good1' }, { id: 'good2' }]);
  expect(store.getIdentity('bad')).toBeUndefined();
  expect(store.getIdentity('bad@x.com')).toBeUndefined();
  expect(store.getIdentity('g1@x.com')?.id).toBe('good1');
  expect(store.getDevice('d1')).toMatchObject({ owner: 'good1', owner_resolved: true });
  expect(aliasRows(store)).toEqual([{ alias: 'g1@x.com', identity_id: 'good1' }]);
});

test('onCommit listeners see each committed write exactly once even when the batch was redone', () => {
  store = openSqliteStore({ path: ':memory:' });
  const committed: string[] = [];
  store.onChange((e) => {
    if (e.id === 'bad') throw new ValidationError([{ path: '', message: 'no' }]);
  });
  store.onCommit((e) => committed.push(e.id));
  store.importBatch([line(1, 'identity', { id: 'a', status: 'active' }), line(2, 'identity', { id: 'bad', status: 'active' }), line(3, 'identity', { id: 'b', status: 'active' })]);
  expect(committed).toEqual(['a', 'b']);
});

test('a batch that fails as a whole leaves tombstones in force (a stale update after it is still 409)', () => {
  store = openSqliteStore({ path: ':memory:' });
  store.putIdentity('x', { status: 'active', version: 5 });
  store.deleteIdentity('x');
  store.onChange((e) => {
    if (e.id === 'boom') throw new TypeError('listener bug');
  });
  // Line 1 replaces the tombstone, line 2 then finds the tombstone table empty, line 3 fails the batch.
  expect(() =>
    store.importBatch([line(1, 'identity', { id: 'x', status: 'active', version: 6 }), line(2, 'identity', { id: 'w', status: 'active' }), line(3, 'identity', { id: 'boom', status: 'active' })]),
  ).toThrow('listener bug');
  expect(store.getIdentity('x')).toBeUndefined();
  expect(store.getIdentity('w')).toBeUndefined();
  expect(() => store.putIdentity('x', { status: 'active', version: 3 })).toThrow(StaleUpdateError);
  expect(store.putIdentity('x', { status: 'active', version: 6 }).record.version).toBe(6);
});

test('lines of one batch see the lines before them: repeats, stale repeats, owners arriving after devices', () => {
  store = openSqliteStore({ path: ':memory:' });
  const r = store.importBatch([
    line(1, 'device', { id: 'mac', owner: 'carol@x.com', ownership: 'corporate', version: 1 }),
    line(2, 'identity', { id: 'u1', status: 'provisioned', version: 2 }),
    line(3, 'identity', { id: 'u1', status: 'active', version: 1 }),
    line(4, 'identity', { id: 'u1', status: 'active', version: 3, aliases: ['Carol@x.com'] }),
    line(5, 'identity', { id: 'u2', status: 'active', aliases: ['CAROL@X.COM'] }),
  ]);
  expect(r.imported).toBe(3);
  expect(r.errors.map((e) => [e.line, e.code])).toEqual([
    [3, 'stale_update'],
    [5, 'alias_conflict'],
  ]);
  expect(store.getIdentity('u1')).toMatchObject({ version: 3, status: 'active' });
  expect(store.getDevice('mac')).toMatchObject({ owner: 'u1', owner_resolved: true });
  expect(store.listDevicesByOwner('u1').map((d) => d.id)).toEqual(['mac']);
  expect(store.getIdentity('u2')).toBeUndefined();
});

test('the alias index holds exactly the current aliases through case changes, replacement and delete', () => {
  store = openSqliteStore({ path: ':memory:' });
  store.putIdentity('u1', { status: 'active', aliases: ['A@x.com', 'keep@x.com'] });
  store.putIdentity('u1', { status: 'active', aliases: ['a@X.com', 'new@x.com', 'Keep@x.com'] });
  expect(store.getIdentity('A@X.COM')?.id).toBe('u1');
  expect(store.getIdentity('new@x.com')?.id).toBe('u1');
  expect(store.getIdentity('u1')?.aliases).toEqual(['a@X.com', 'new@x.com', 'Keep@x.com']);
  expect(aliasRows(store).map((r) => r.alias)).toEqual(['a@x.com', 'keep@x.com', 'new@x.com']);
  store.putIdentity('u1', { status: 'active', aliases: ['new@x.com'] });
  expect(store.getIdentity('a@x.com')).toBeUndefined();
  expect(aliasRows(store).map((r) => r.alias)).toEqual(['new@x.com']);
  // A freed alias can be taken by another identity.
  store.putIdentity('u2', { status: 'active', aliases: ['a@x.com'] });
  expect(store.getIdentity('a@x.com')?.id).toBe('u2');
  store.deleteIdentity('u1');
  expect(aliasRows(store)).toEqual([{ alias: 'a@x.com', identity_id: 'u2' }]);
});

test('a store created with the old alias-by-identity index opens without it and keeps working', () => {
  const file = path.join(tempDir(), 'tether.db');
  store = openSqliteStore({ path: file });
  store.putIdentity('u1', { status: 'active', aliases: ['old@x.com'] });
  store.close();
  const raw = new Database(file);
  raw.exec('CREATE INDEX aliases_by_identity ON aliases (identity_id)');
  raw.close();
  store = openSqliteStore({ path: file });
  expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'aliases_by_identity'").get()).toBeUndefined();
  expect(store.getIdentity('old@x.com')?.id).toBe('u1');
  store.putIdentity('u1', { status: 'active', aliases: ['new@x.com'] });
  expect(store.getIdentity('old@x.com')).toBeUndefined();
  store.deleteIdentity('u1');
  expect(aliasRows(store)).toEqual([]);
});

test('exceptions and break-glass windows are found after creation and after reopening; a closed store fails closed', () => {
  const file = path.join(tempDir(), 'tether.db');
  const now = new Date('2026-01-01T00:00:00Z');
  const open = () => openSqliteStore({ path: file, now: () => now });
  store = open();
  store.putIdentity('u1', { status: 'active' });
  store.putIdentity('bg', { status: 'active', type: 'break_glass' });
  expect(store.listExceptions('u1')).toEqual([]);
  expect(store.getBreakGlass('bg')).toBeUndefined();
  const exc = store.createException({ identity: 'u1', waives: ['device_not_compliant'], scope: { max_sensitivity: 'low' }, reason: 'r', approved_by: 'a', expires_at: '2026-01-02T00:00:00Z' });
  store.openBreakGlass('bg', { minutes: 30, reason: 'r', approved_by: 'a' });
  expect(store.listExceptions('u1').map((e) => e.id)).toEqual([exc.id]);
  expect(store.getBreakGlass('bg')?.identity).toBe('bg');
  store.close();
  expect(() => store.listExceptions('u1')).toThrow(StateUnavailableError);
  expect(() => store.getBreakGlass('u1')).toThrow(StateUnavailableError);
  store = open();
  expect(store.listExceptions('u1').map((e) => e.id)).toEqual([exc.id]);
  expect(store.getBreakGlass('bg')?.minutes).toBe(30);
  expect(store.listExceptions('bg')).toEqual([]);
});

// Counts runs of the store's statement that asks whether an identity id exists (owner lookups).
function countOwnerLookups(s: StateStore): () => number {
  const st = (s as unknown as { st: { identityExists: { get: (...a: unknown[]) => unknown } } }).st.identityExists;
  const get = st.get.bind(st);
  let n = 0;
  st.get = (...a) => (n++, get(...a));
  return () => n;
}

test('a device naming an owner written earlier in the same batch binds to it without looking the owner up again', () => {
  store = openSqliteStore({ path: ':memory:' });
  store.putIdentity('old', { status: 'active' }); // committed in an earlier transaction
  const lookups = countOwnerLookups(store);
  const r = store.importBatch([
    line(1, 'identity', { id: 'u1', status: 'active' }),
    line(2, 'device', { id: 'a', owner: 'u1', ownership: 'corporate' }),
    line(3, 'device', { id: 'b', owner: 'u1', ownership: 'corporate' }),
    line(4, 'device', { id: 'c', owner: 'old', ownership: 'corporate' }),
  ]);
  expect(r.imported).toBe(4);
  expect(lookups()).toBe(1); // only 'old', which this batch did not write
  for (const [id, owner] of [['a', 'u1'], ['b', 'u1'], ['c', 'old']]) expect(store.getDevice(id)).toMatchObject({ owner, owner_resolved: true });
});

test('an owner written and then rolled back or deleted in the same transaction does not bind a later device', () => {
  store = openSqliteStore({ path: ':memory:' });
  const s = store;
  s.transaction(() => {
    try {
      s.transaction(() => {
        s.putIdentity('gone', { status: 'active' });
        throw new Error('undo this savepoint');
      });
    } catch {
      /* rolled back to the savepoint */
    }
    s.putDevice('d1', { owner: 'gone', ownership: 'corporate' });
    s.putIdentity('deleted', { status: 'active' });
    s.deleteIdentity('deleted');
    s.putDevice('d2', { owner: 'deleted', ownership: 'corporate' });
  });
  expect(s.getIdentity('gone')).toBeUndefined();
  expect(s.getDevice('d1')).toMatchObject({ owner: 'gone', owner_resolved: false });
  expect(s.getDevice('d2')).toMatchObject({ owner: 'deleted', owner_resolved: false });
});
