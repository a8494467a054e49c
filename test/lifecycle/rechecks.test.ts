// The recheck queue skips a mark the current transaction already made (bulk imports mark each owner
// once per device), and never skips one whose earlier mark was rolled back or overwritten.
import { Rechecks } from '../../src/lifecycle/rechecks';
import { openSqliteStore, type StateStore } from '../../src/state/store';

let store: StateStore;
let rechecks: Rechecks;
beforeEach(() => {
  store = openSqliteStore({ path: ':memory:' });
  rechecks = new Rechecks(store.db, () => store.writeEpoch);
});
afterEach(() => store.close());

test('a mark undone by a savepoint rollback is written again by the next mark in the same transaction', () => {
  store.transaction(() => {
    expect(() =>
      store.transaction(() => {
        rechecks.mark('alice', 100);
        throw new Error('this line is rejected');
      }),
    ).toThrow('rejected');
    rechecks.mark('alice', 100);
  });
  expect(rechecks.get('alice')).toBe(100);
});

test('a mark of a rolled-back transaction is written again by the next transaction', () => {
  expect(() =>
    store.transaction(() => {
      rechecks.mark('alice', 100);
      throw new Error('batch failed');
    }),
  ).toThrow('batch failed');
  store.transaction(() => rechecks.mark('alice', 100));
  expect(rechecks.get('alice')).toBe(100);
});

test('a mark inside an outer transaction that is not the store\'s, rolled back, is written again later', () => {
  store.db.exec('BEGIN');
  store.transaction(() => rechecks.mark('alice', 100));
  store.db.exec('ROLLBACK');
  store.transaction(() => rechecks.mark('alice', 100));
  expect(rechecks.get('alice')).toBe(100);
});

test('a deadline set or removed after a mark is marked again within the same transaction', () => {
  store.transaction(() => {
    rechecks.mark('alice', 100);
    rechecks.set('alice', 500);
    rechecks.mark('alice', 100);
    rechecks.mark('bob', 100);
    rechecks.remove('bob');
    rechecks.mark('bob', 100);
  });
  expect(rechecks.get('alice')).toBe(100);
  expect(rechecks.get('bob')).toBe(100);
});

test('repeated marks keep the earliest due time', () => {
  store.transaction(() => {
    rechecks.mark('alice', 300);
    rechecks.mark('alice', 200);
    rechecks.mark('alice', 400);
  });
  expect(rechecks.get('alice')).toBe(200);
  store.transaction(() => rechecks.mark('alice', 250));
  expect(rechecks.get('alice')).toBe(200);
});
