// While a bulk import is committing batches, the lifecycle rechecks it leaves wait until it ends (so
// they do not take its CPU), for a bounded time; other writes' rechecks drain as soon as they commit.
import type { ImportLine } from '../../src/state/store';
import { shippedEngine, TestEngines } from '../policies/shipped-policies';
import { openLifecycle } from './harness';

jest.setTimeout(60_000);

let engines: TestEngines;
beforeAll(async () => {
  engines = new TestEngines(await shippedEngine());
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const open = (importHold: { quietMs: number; maxMs: number }) => openLifecycle(engines, { importHold });

let line = 0;
/** One import batch: an active identity with a compliant device. */
function batch(id: string): ImportLine[] {
  const identity = { kind: 'identity', record: { id, status: 'active', proofed: true, activated_at: new Date().toISOString() } };
  const device = { kind: 'device', record: { id: `${id}-mac`, owner: id, ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: new Date().toISOString() } };
  return [identity, device].map((d) => ({ line: ++line, text: JSON.stringify(d) }));
}

/** Imports one batch every `everyMs` for `forMs`; returns the ids imported. */
async function importFor(store: ReturnType<typeof open>['store'], everyMs: number, forMs: number, onBatch: () => void = () => undefined): Promise<string[]> {
  const ids: string[] = [];
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    const id = `user-${ids.length}`;
    const r = store.importBatch(batch(id));
    expect(r).toMatchObject({ imported: 2, rejected: 0 });
    ids.push(id);
    onBatch();
    await sleep(everyMs);
  }
  return ids;
}

const state = (store: ReturnType<typeof open>['store'], id: string) =>
  (store.db.prepare('SELECT state FROM lifecycle_identities WHERE identity = ?').pluck().get(id) as string | null | undefined) ?? null;

test('rechecks left by a running bulk import wait until its batches stop, then every imported identity is derived', async () => {
  const { store, lifecycle, close } = open({ quietMs: 150, maxMs: 60_000 });
  try {
    // Batches 20 ms apart for 600 ms: four times the quiet gap, so only the hold keeps the drain back.
    const ids = await importFor(store, 20, 600, () => expect(lifecycle.stats.rechecked).toBe(0));
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.map((id) => state(store, id))).toEqual(ids.map(() => null));
    await sleep(400);
    expect(lifecycle.stats.rechecked).toBe(ids.length);
    expect(ids.map((id) => state(store, id))).toEqual(ids.map(() => 'healthy'));
  } finally {
    await close();
  }
});

test('a bulk import holds the drain for the longest hold at most; then its rechecks drain while it goes on', async () => {
  const { store, lifecycle, close } = open({ quietMs: 150, maxMs: 200 });
  try {
    let derivedDuringImport = 0;
    await importFor(store, 20, 800, () => (derivedDuringImport = lifecycle.stats.rechecked));
    expect(derivedDuringImport).toBeGreaterThan(0);
    expect(state(store, 'user-0')).toBe('healthy');
  } finally {
    await close();
  }
});

test('a single write outside an import is derived right after it commits', async () => {
  const { store, lifecycle, close } = open({ quietMs: 150, maxMs: 60_000 });
  try {
    store.putIdentity('solo', { status: 'active', proofed: true, activated_at: new Date().toISOString() });
    await sleep(20);
    expect(lifecycle.stats.rechecked).toBe(1);
    expect(state(store, 'solo')).not.toBeNull();
  } finally {
    await close();
  }
});
