// The heap settle runs one full GC once bulk work is over: only after bulk work (1,000 store writes or a
// resident fill), only when no write came for quietMs and nothing is busy, only when the heap grew by the
// threshold since the last settle, and once per bulk episode. Through serve(), an import triggers it.
import { exposedGc, HeapSettler, type HeapSettlerOptions } from '../../src/api/heap-settle';
import type { Logger } from '../../src/api/context';
import { serveTemp, type TempServer } from '../helpers/serve-temp';

const MB = 2 ** 20;

function rig(over: Partial<HeapSettlerOptions> = {}) {
  const s = { clock: 0, heap: 100 * MB, busy: false, gcs: 0 };
  const settler = new HeapSettler({
    gc: () => {
      s.gcs++;
      s.heap = 110 * MB; // what survived
    },
    busy: () => s.busy,
    minGrowthBytes: 16 * MB,
    now: () => s.clock,
    heapUsed: () => s.heap,
    ...over,
  });
  const writes = (n: number) => {
    for (let i = 0; i < n; i++) settler.noteWrite();
  };
  return { s, settler, writes };
}

test('does nothing without bulk work, however much the heap grew', () => {
  const { s, settler, writes } = rig();
  writes(999);
  s.heap = 500 * MB;
  s.clock = 60_000;
  expect(settler.check()).toBeUndefined();
  expect(s.gcs).toBe(0);
});

test('after 1,000 writes it waits for 2 s without writes and for busy work to end, then settles once', () => {
  const { s, settler, writes } = rig();
  writes(1000);
  s.heap = 150 * MB;
  s.clock = 1999;
  expect(settler.check()).toBeUndefined(); // writes ended 1,999 ms ago
  s.clock = 2000;
  s.busy = true;
  expect(settler.check()).toBeUndefined(); // lifecycle catch-up or resident fill still running
  s.busy = false;
  expect(settler.check()).toEqual({ ms: expect.any(Number), beforeBytes: 150 * MB, afterBytes: 110 * MB });
  expect(s.gcs).toBe(1);
  s.heap = 300 * MB;
  s.clock = 10_000;
  expect(settler.check()).toBeUndefined(); // no new bulk work since
  expect(s.gcs).toBe(1);
});

test('a write during the quiet period postpones it', () => {
  const { s, settler, writes } = rig();
  writes(1000);
  s.heap = 150 * MB;
  s.clock = 1500;
  settler.noteWrite();
  s.clock = 3000;
  expect(settler.check()).toBeUndefined();
  s.clock = 3500;
  expect(settler.check()).toBeDefined();
});

test('skips the GC when the heap grew less than the threshold, and needs new bulk work after', () => {
  const { s, settler, writes } = rig();
  writes(1000);
  s.heap = 115 * MB; // V8 already collected most of it
  s.clock = 5000;
  expect(settler.check()).toBeUndefined();
  s.heap = 200 * MB;
  expect(settler.check()).toBeUndefined();
  expect(s.gcs).toBe(0);
  writes(1000);
  s.clock = 10_000;
  expect(settler.check()).toBeDefined();
  expect(s.gcs).toBe(1);
});

test('growth counts from the heap after the last settle', () => {
  const { s, settler, writes } = rig();
  writes(1000);
  s.heap = 150 * MB;
  s.clock = 5000;
  expect(settler.check()).toBeDefined(); // heap now 110
  writes(1000);
  s.heap = 125 * MB; // 15 MB above 110
  s.clock = 10_000;
  expect(settler.check()).toBeUndefined();
  writes(1000);
  s.heap = 126 * MB;
  s.clock = 20_000;
  expect(settler.check()).toBeDefined();
  expect(s.gcs).toBe(2);
});

test('a finished resident fill counts as bulk work', () => {
  const { s, settler } = rig();
  s.heap = 150 * MB;
  expect(settler.check()).toBeUndefined();
  settler.noteBulk();
  expect(settler.check()).toBeDefined(); // no write ever: quiet already
});

test('background work seen running (a sweep after a policy change) counts as bulk work', () => {
  const { s, settler } = rig();
  s.heap = 150 * MB;
  s.busy = true;
  expect(settler.check()).toBeUndefined();
  s.busy = false;
  expect(settler.check()).toBeDefined();
  expect(s.gcs).toBe(1);
  expect(settler.check()).toBeUndefined(); // once
});

test('start() settles at once and measures growth from what that GC left', () => {
  const { s, settler, writes } = rig();
  s.heap = 180 * MB; // start-up garbage
  try {
    expect(settler.start(60_000)).toEqual({ ms: expect.any(Number), beforeBytes: 180 * MB, afterBytes: 110 * MB });
    expect(s.gcs).toBe(1);
    writes(1000);
    s.heap = 125 * MB;
    s.clock = 5000;
    expect(settler.check()).toBeUndefined(); // 15 MB above 110
    expect(s.gcs).toBe(1);
  } finally {
    settler.stop();
  }
});

test('exposedGc is the global gc when node exposes it, else undefined', () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  try {
    delete g.gc;
    expect(exposedGc()).toBeUndefined();
    let calls = 0;
    g.gc = () => calls++;
    exposedGc()!();
    expect(calls).toBe(1);
  } finally {
    g.gc = saved;
    if (saved === undefined) delete g.gc;
  }
});

describe('through serve()', () => {
  function capture(): { logger: Logger; lines: Array<{ msg: string; fields?: Record<string, unknown> }> } {
    const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    const at = (msg: string, fields?: Record<string, unknown>) => void lines.push({ msg, fields });
    return { logger: { debug: at, info: at, warn: at, error: at }, lines };
  }

  /** Imports n active identities through POST /v1/state/import and returns how many it acknowledged. */
  async function importIdentities(t: TempServer, n: number): Promise<number> {
    const body = Array.from({ length: n }, (_, i) => JSON.stringify({ kind: 'identity', record: { id: `u${i}`, status: 'active' } })).join('\n') + '\n';
    const res = await fetch(`${t.url}/v1/state/import`, { method: 'POST', headers: { authorization: `Bearer ${t.apiToken}`, 'content-type': 'application/x-ndjson' }, body });
    expect(res.status).toBe(200);
    return ((await res.json()) as { imported: number }).imported;
  }

  test('an import of 1,500 identities is followed by one full GC once the lifecycle caught up', async () => {
    let calls = 0;
    let heap = 100 * MB;
    const { logger, lines } = capture();
    const t = await serveTemp({
      prefix: 'tether-settle-',
      env: { TETHER_LIFECYCLE_CATCHUP_PERCENT: '100', TETHER_RESIDENT_MEMORY: '0' }, // no resident fill: the writes alone count
      logger,
      // 20 MB more at each reading; a GC takes it back to 100 MB.
      heapSettle: { gc: () => void ((heap = 100 * MB), calls++), heapUsed: () => (heap += 20 * MB) },
    });
    try {
      expect(calls).toBe(1); // before listening
      expect(lines.find((l) => l.msg === 'heap settled before listening')?.fields).toEqual({ ms: expect.any(Number), heap_before_mb: 140, heap_after_mb: 120 });
      expect(await importIdentities(t, 1500)).toBe(1500);
      const deadline = Date.now() + 15_000;
      while (calls === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(calls).toBe(2);
      expect(lines.find((l) => l.msg === 'heap settled after bulk work')?.fields).toEqual({ ms: expect.any(Number), heap_before_mb: 160, heap_after_mb: 120 });
      await new Promise((r) => setTimeout(r, 2500));
      expect(calls).toBe(2); // once per bulk episode
    } finally {
      await t.stop();
    }
  }, 30_000);

  test('TETHER_HEAP_SETTLE=0 turns it off', async () => {
    let calls = 0;
    const t = await serveTemp({ prefix: 'tether-settle-', env: { TETHER_HEAP_SETTLE: '0' }, heapSettle: { gc: () => void calls++ } });
    try {
      expect(await importIdentities(t, 1500)).toBe(1500);
      await new Promise((r) => setTimeout(r, 4000));
      expect(calls).toBe(0);
    } finally {
      await t.stop();
    }
  }, 30_000);
});
