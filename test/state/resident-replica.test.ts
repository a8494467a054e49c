// The resident replica's contract: "unknown" until it can answer, then the committed value or "absent";
// a written key is unknown until re-read outside any transaction; memory running out or a failing read
// costs completeness, never correctness.
import { MemoryBudget } from '../../src/state/memory-budget';
import { type FillSource, ResidentReplica } from '../../src/state/resident-replica';

// A sorted in-memory "table" standing in for SQLite, read a page at a time like the store's sources.
class Table {
  rows = new Map<string, string>();
  reads = 0;
  pages = 0;
  failing = false;
  source(): FillSource {
    return {
      page: (cursor, limit) => {
        this.pages++;
        const keys = [...this.rows.keys()].sort().filter((k) => cursor === undefined || k > cursor).slice(0, limit);
        return { entries: keys.map((k) => [k, this.rows.get(k)!]), next: keys.length < limit ? null : keys[keys.length - 1] };
      },
    };
  }
  load = (key: string): string | undefined => {
    this.reads++;
    if (this.failing) throw new Error('disk I/O error');
    return this.rows.get(key);
  };
}

let table: Table;
let inTransaction: boolean;
const replicas: ResidentReplica[] = [];
beforeEach(() => {
  table = new Table();
  inTransaction = false;
});
afterEach(() => replicas.splice(0).forEach((r) => r.stop()));

function replica(extra: Partial<ConstructorParameters<typeof ResidentReplica>[0]> = {}): ResidentReplica {
  const r = new ResidentReplica({
    budget: new MemoryBudget(64 * 1024 * 1024),
    prefixes: ['i:', 'o:'],
    load: table.load,
    sources: [table.source()],
    busy: () => inTransaction,
    ...extra,
  });
  replicas.push(r);
  return r;
}

// A committed write as the store reports it: the row changes, then the replica hears of the key.
const write = (r: ResidentReplica, key: string, value: string) => {
  table.rows.set(key, value);
  r.invalidate(key);
};

const fill = (r: ResidentReplica) => {
  while (r.step(1_000));
};

test('answers "unknown" until filled, then the value or "absent"', () => {
  table.rows.set('i:alice', '{"id":"alice"}');
  const r = replica();
  expect(r.lookup('i:alice')).toBeUndefined();
  expect(r.lookup('i:bob')).toBeUndefined();
  fill(r);
  expect(r.complete).toBe(true);
  expect(r.lookup('i:alice')).toBe('{"id":"alice"}');
  expect(r.lookup('i:bob')).toBeNull();
});

test('keys outside its prefixes are never answered', () => {
  table.rows.set('d:x', 'y');
  const r = replica();
  fill(r);
  expect(r.lookup('d:x')).toBeUndefined();
  expect(r.lookup('x')).toBeUndefined();
});

test('fills across many pages and reports the fill once done', () => {
  for (let i = 0; i < 2_000; i++) table.rows.set(`i:u${i}`, `v${i}`);
  const onFilled = jest.fn();
  const r = replica({ onFilled });
  fill(r);
  expect(onFilled).toHaveBeenCalledTimes(1);
  expect(onFilled.mock.calls[0][0]).toMatchObject({ entries: 2_000, complete: true });
  expect(r.stats.entries).toBe(2_000);
  for (let i = 0; i < 2_000; i++) expect(r.lookup(`i:u${i}`)).toBe(`v${i}`);
});

test('a written key is unknown until re-read, then has its committed value', () => {
  table.rows.set('i:alice', 'old');
  const r = replica();
  fill(r);
  inTransaction = true;
  write(r, 'i:alice', 'new');
  expect(r.lookup('i:alice')).toBeUndefined();
  expect(r.step(1_000)).toBe(true); // nothing is re-read while the transaction is open
  expect(r.lookup('i:alice')).toBeUndefined();
  inTransaction = false;
  fill(r);
  expect(r.stats.dirty).toBe(0);
  expect(r.lookup('i:alice')).toBe('new');
});

test('a deleted key reads as absent once re-read', () => {
  table.rows.set('o:alice', '[1]');
  const r = replica();
  fill(r);
  table.rows.delete('o:alice');
  r.invalidate('o:alice');
  fill(r);
  expect(r.lookup('o:alice')).toBeNull();
});

test('a write during the fill is not lost, whether its key was already read or not', () => {
  for (let i = 0; i < 1_500; i++) table.rows.set(`i:u${String(i).padStart(4, '0')}`, 'old');
  const r = replica();
  r.step(0); // one page read
  expect(r.complete).toBe(false);
  for (const k of ['i:u0001', 'i:u1400']) {
    write(r, k, 'new');
  }
  fill(r);
  expect(r.lookup('i:u0001')).toBe('new');
  expect(r.lookup('i:u1400')).toBe('new');
  expect(r.lookup('i:u0002')).toBe('old');
});

test('many writes at once make it read the tables again instead of each key', () => {
  for (let i = 0; i < 100; i++) table.rows.set(`i:u${i}`, 'old');
  const r = replica({ refillAbove: 10 });
  fill(r);
  expect(r.fills).toBe(1);
  for (let i = 0; i < 100; i++) {
    write(r, `i:u${i}`, 'new');
  }
  expect(r.fills).toBeGreaterThan(1);
  expect(r.lookup('i:u5')).toBeUndefined();
  table.reads = 0;
  fill(r);
  expect(table.reads).toBeLessThan(100); // the refill read pages, not 100 single keys
  for (let i = 0; i < 100; i++) expect(r.lookup(`i:u${i}`)).toBe('new');
});

test('a flood of writes during a fill starts the fill over instead of growing the dirty set', () => {
  for (let i = 0; i < 2_000; i++) table.rows.set(`i:u${String(i).padStart(4, '0')}`, 'old');
  const r = replica({ refillAbove: 10 });
  r.step(0); // one page read, the fill is under way
  for (let i = 0; i < 400; i++) {
    write(r, `i:u${String(i).padStart(4, '0')}`, 'new');
    expect(r.stats.dirty).toBeLessThanOrEqual(Math.max(10, r.stats.entries >> 2) + 1);
  }
  expect(r.fills).toBeGreaterThan(1);
  fill(r);
  expect(r.lookup('i:u0000')).toBe('new');
  expect(r.lookup('i:u0399')).toBe('new');
  expect(r.lookup('i:u1999')).toBe('old');
});

test('writes before a fill has read anything cost nothing: the fill reads their committed values', () => {
  for (let i = 0; i < 100; i++) table.rows.set(`i:u${i}`, 'old');
  const r = replica();
  for (let i = 0; i < 100; i++) {
    write(r, `i:u${i}`, 'new');
  }
  expect(r.stats.dirty).toBe(0);
  fill(r);
  for (let i = 0; i < 100; i++) expect(r.lookup(`i:u${i}`)).toBe('new');
});

test('after a flood of writes, the background fill waits for the writes to pause', async () => {
  for (let i = 0; i < 100; i++) table.rows.set(`i:u${i}`, 'old');
  const r = replica({ refillAbove: 10 });
  await r.settled();
  for (let i = 0; i < 60; i++) {
    write(r, `i:u${i}`, 'new'); // past a quarter of the entries: the fill starts over
  }
  expect(r.fills).toBeGreaterThan(1);
  const pagesAtFlood = table.pages;
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(table.pages).toBe(pagesAtFlood); // a bulk import would only restart it again
  await r.settled(); // about half a second later
  expect(r.complete).toBe(true);
  expect(r.lookup('i:u55')).toBe('new');
});

test('when memory runs out it reports it once, keeps what it holds, and stops claiming absence', () => {
  table.rows.set('i:small', 'x');
  const onFull = jest.fn();
  const r = replica({ budget: new MemoryBudget(1024), onFull });
  fill(r);
  expect(onFull).toHaveBeenCalledTimes(1);
  expect(r.complete).toBe(false);
  expect(r.lookup('i:small')).toBeUndefined(); // not held: unknown, so the caller reads SQLite
  expect(r.lookup('i:nobody')).toBeUndefined();
});

test('a failing re-read keeps the key unknown, reports the error, and is retried', async () => {
  table.rows.set('i:alice', 'old');
  const onError = jest.fn();
  const r = replica({ onError });
  fill(r);
  table.failing = true;
  write(r, 'i:alice', 'new');
  expect(() => r.step(1_000)).toThrow('disk I/O error');
  expect(r.lookup('i:alice')).toBeUndefined();
  // The background loop catches it and tries again a second later.
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(onError).toHaveBeenCalled();
  table.failing = false;
  fill(r);
  expect(r.lookup('i:alice')).toBe('new');
});

test('runs by itself in the background and settles', async () => {
  for (let i = 0; i < 3_000; i++) table.rows.set(`i:u${i}`, `v${i}`);
  const r = replica();
  await r.settled();
  expect(r.complete).toBe(true);
  write(r, 'i:u1', 'changed');
  await r.settled();
  expect(r.lookup('i:u1')).toBe('changed');
});

test('stop frees its memory and answers nothing more', () => {
  const budget = new MemoryBudget(64 * 1024 * 1024);
  table.rows.set('i:alice', 'x');
  const r = replica({ budget });
  fill(r);
  expect(budget.usedBytes).toBeGreaterThan(0);
  r.stop();
  expect(budget.usedBytes).toBe(0);
  expect(r.lookup('i:alice')).toBeUndefined();
});
