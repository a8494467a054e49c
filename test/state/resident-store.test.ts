// The store with resident replicas on: decisions' reads (identity by id or alias, devices by owner,
// lifecycle status start) come from memory once filled, and always agree with what was committed.
import fc from 'fast-check';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { LifecycleTracker } from '../../src/lifecycle/tracker';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { active, cachedBytes, device, editBehindTheStore, linuxTest, risk } from './helpers';

const MB = 1024 * 1024;

let store: StateStore;
beforeEach(() => {
  store = openSqliteStore({ path: ':memory:', residentBytes: 256 * MB });
});
afterEach(() => store.close());

const stats = (s: StateStore) => s.residentStats().find((r) => r.name === 'state')!;

test('once filled, identities, aliases and owners are read from memory, and unknown names are known absent', async () => {
  store.putIdentity('u1', active({ aliases: ['Alice@Example.com'] }));
  store.putDevice('d1', device('u1'));
  await store.residentSettled();
  expect(stats(store)).toMatchObject({ complete: true, dirty: 0, entries: 3 });
  editBehindTheStore(store, 'u1');
  store.db.prepare(`INSERT INTO identities (id, version, body) VALUES ('ghost', 1, '{"id":"ghost","status":"active"}')`).run();
  store.db.prepare(`DELETE FROM devices`).run();
  expect(risk(store, 'u1')).toBe('standard');
  expect(risk(store, 'ALICE@example.com')).toBe('standard');
  expect(store.getIdentity('ghost')).toBeUndefined();
  expect(store.listDevicesByOwner('u1').map((d) => d.id)).toEqual(['d1']);
  expect(store.listDevicesByOwner('nobody')).toEqual([]);
});

test('a write is read back at once, before and after the replica re-reads it', async () => {
  store.putIdentity('u1', active());
  await store.residentSettled();
  store.putIdentity('u1', active({ risk_tier: 'high', aliases: ['bob'] }));
  expect(stats(store).dirty).toBeGreaterThan(0);
  expect(risk(store, 'u1')).toBe('high');
  expect(risk(store, 'bob')).toBe('high');
  await store.residentSettled();
  expect(stats(store).dirty).toBe(0);
  expect(risk(store, 'bob')).toBe('high');
  editBehindTheStore(store, 'u1');
  expect(risk(store, 'u1')).toBe('high'); // held again
});

test('a rolled-back write never shows, while its transaction runs its own reads see it', async () => {
  store.putIdentity('u1', active());
  await store.residentSettled();
  expect(() =>
    store.transaction(() => {
      store.putIdentity('u1', active({ risk_tier: 'high' }));
      expect(risk(store, 'u1')).toBe('high');
      throw new Error('abort');
    }),
  ).toThrow('abort');
  expect(risk(store, 'u1')).toBe('standard');
  await store.residentSettled();
  expect(risk(store, 'u1')).toBe('standard');
});

test('moving a device updates both owners, deleting an identity frees its aliases', async () => {
  store.putIdentity('u1', active({ aliases: ['a1'] }));
  store.putIdentity('u2', active());
  store.putDevice('d1', device('u1'));
  await store.residentSettled();
  store.putDevice('d1', device('a1', { version: 1 }));
  store.putDevice('d1', device('u2', { version: 2 }));
  await store.residentSettled();
  expect(store.listDevicesByOwner('u1')).toEqual([]);
  expect(store.listDevicesByOwner('u2').map((d) => d.id)).toEqual(['d1']);
  store.deleteIdentity('u1');
  await store.residentSettled();
  expect(store.getIdentity('a1')).toBeUndefined();
  expect(store.resolveIdentityId('u1')).toBeUndefined();
});

test('an owner with more devices than a fill page, between owners split across pages, is filled whole', async () => {
  const owners = ['a', 'b', 'c', 'd'];
  for (const o of owners) store.putIdentity(o, active());
  const counts: Record<string, number> = { a: 300, b: 700, c: 3, d: 520 };
  store.transaction(() => {
    for (const o of owners) for (let i = 0; i < counts[o]; i++) store.putDevice(`${o}-${String(i).padStart(4, '0')}`, device(o));
  });
  await store.residentSettled();
  store.db.prepare(`DELETE FROM devices`).run(); // from here on, only memory can answer
  for (const o of owners) expect(store.listDevicesByOwner(o)).toHaveLength(counts[o]);
  expect(store.listDevicesByOwner('b')[699].id).toBe('b-0699');
  expect(store.listDevicesByOwner('d')[0].id).toBe('d-0000');
});

test('with too little memory, reads are still right (from SQLite)', async () => {
  const tiny = openSqliteStore({ path: ':memory:', residentBytes: 4096 });
  try {
    tiny.putIdentity('u1', active());
    await tiny.residentSettled();
    expect(tiny.residentStats()[0].complete).toBe(false);
    expect(risk(tiny, 'u1')).toBe('standard');
    expect(tiny.getIdentity('nobody')).toBeUndefined();
    tiny.putIdentity('u1', active({ risk_tier: 'high' }));
    await tiny.residentSettled();
    expect(risk(tiny, 'u1')).toBe('high');
  } finally {
    tiny.close();
  }
});

test('residency off by default: no replicas', () => {
  const plain = openSqliteStore({ path: ':memory:' });
  try {
    expect(plain.residentStats()).toEqual([]);
  } finally {
    plain.close();
  }
});

linuxTest("once complete, the store file's pages are dropped from the OS page cache (only when asked)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-release-'));
  const path = join(dir, 'tether.db');
  try {
    const seed = openSqliteStore({ path });
    for (let i = 0; i < 3000; i++) seed.putIdentity(`u${i}`, active({ aliases: [`u${i}@example.com`] }));
    seed.close(); // checkpoints the WAL into the file and syncs it: its pages are clean, so droppable
    const size = statSync(path).size;
    for (const release of [false, true]) {
      readFileSync(path);
      const events: string[] = [];
      const s = openSqliteStore({ path, residentBytes: 64 * MB, releaseFileCache: release, onResidentEvent: (e) => events.push(e) });
      try {
        await s.residentSettled();
        for (let i = 0; i < 100 && release && !events.includes('released'); i++) await new Promise((r) => setTimeout(r, 20));
        expect(events.includes('released')).toBe(release);
        if (release) expect(cachedBytes(path)).toBeLessThan(size / 10);
        else expect(cachedBytes(path)).toBeGreaterThan(size / 2);
        expect(s.getIdentity('u2999@example.com')?.id).toBe('u2999');
      } finally {
        s.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the lifecycle status start is held too, and follows status changes', async () => {
  let nowMs = Date.parse('2026-01-01T00:00:00Z');
  const tracker = new LifecycleTracker({ store, engine: () => undefined, now: () => nowMs });
  store.onChange((ev) => {
    if (ev.kind === 'identity') tracker.trackStatus(ev.before as never, ev.after as never);
  });
  store.putIdentity('u1', active({ observed_at: '2025-12-01T00:00:00Z' }));
  await store.residentSettled();
  expect(store.residentStats().find((r) => r.name === 'lifecycle')).toMatchObject({ complete: true, entries: 1 });
  expect(tracker.statusSince('u1')).toBe('2025-12-01T00:00:00Z');
  store.db.prepare(`UPDATE lifecycle_identities SET status_since = 'edited'`).run();
  expect(tracker.statusSince('u1')).toBe('2025-12-01T00:00:00Z'); // from memory
  nowMs = Date.parse('2026-01-02T00:00:00Z');
  store.putIdentity('u1', { status: 'suspended' });
  expect(tracker.statusSince('u1')).toBe('2026-01-02T00:00:00.000Z');
  await store.residentSettled();
  expect(tracker.statusSince('u1')).toBe('2026-01-02T00:00:00.000Z');
  expect(tracker.statusSince('nobody')).toBeUndefined();
});

test('any sequence of writes, with the replica settled at any point, reads like a store without one', async () => {
  const ids = ['u1', 'u2', 'u3'];
  const op = fc.oneof(
    fc.record({ t: fc.constant('identity' as const), id: fc.constantFrom(...ids), alias: fc.constantFrom('x', 'y', 'z', undefined), risk: fc.constantFrom('standard', 'high') }),
    fc.record({ t: fc.constant('device' as const), id: fc.constantFrom('d1', 'd2', 'd3'), owner: fc.constantFrom(...ids, 'x', 'y') }),
    fc.record({ t: fc.constant('deleteIdentity' as const), id: fc.constantFrom(...ids) }),
    fc.record({ t: fc.constant('deleteDevice' as const), id: fc.constantFrom('d1', 'd2', 'd3') }),
    fc.record({ t: fc.constant('settle' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
      const now = () => new Date('2026-01-01T00:00:00Z');
      const resident = openSqliteStore({ path: ':memory:', residentBytes: 64 * MB, now });
      const plain = openSqliteStore({ path: ':memory:', now });
      try {
        for (const o of ops) {
          if (o.t === 'settle') {
            await resident.residentSettled();
            continue;
          }
          for (const s of [resident, plain]) {
            try {
              if (o.t === 'identity') s.putIdentity(o.id, active({ risk_tier: o.risk, aliases: o.alias ? [o.alias] : [] }));
              else if (o.t === 'device') s.putDevice(o.id, device(o.owner));
              else if (o.t === 'deleteIdentity') s.deleteIdentity(o.id);
              else s.deleteDevice(o.id);
            } catch (err) {
              if (!(err as { code?: string }).code) throw err; // alias conflicts: both stores reject alike
            }
          }
          for (const ref of [...ids, 'x', 'y', 'z']) {
            expect(resident.getIdentity(ref)).toEqual(plain.getIdentity(ref));
            expect(resident.listDevicesByOwner(ref)).toEqual(plain.listDevicesByOwner(ref));
          }
        }
      } finally {
        resident.close();
        plain.close();
      }
    }),
    { numRuns: 60 },
  );
});
