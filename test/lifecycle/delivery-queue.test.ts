// The sender under both durable outboxes: due rows go to `deliver`, a row is deleted only once
// delivered or given up, failures back off exponentially, deferrals keep their attempt count, and no
// more than `concurrency` deliveries run at once.
import Database from 'better-sqlite3';
import { DeliveryQueue, type DeliveryOutcome, type QueuedRow } from '../../src/lifecycle/delivery-queue';

interface Row extends QueuedRow {
  payload: string;
}

let db: Database.Database;
let queue: DeliveryQueue<Row> | undefined;
let clock = 1_000_000;

beforeEach(() => {
  db = new Database(':memory:');
  db.exec(`CREATE TABLE q (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT)`);
  clock = 1_000_000;
});
afterEach(async () => {
  await queue?.stop();
  queue = undefined;
  db.close();
});

const put = (payload: string, at = clock) => db.prepare('INSERT INTO q (payload, next_attempt_at) VALUES (?, ?)').run(payload, at);
const rows = () => db.prepare('SELECT payload, attempts, next_attempt_at, last_error FROM q ORDER BY seq').all() as Array<{ payload: string; attempts: number; next_attempt_at: number; last_error: string | null }>;

function makeQueue(deliver: (row: Row) => Promise<DeliveryOutcome>, opts: { maxAttempts?: number; concurrency?: number; isOpen?: () => boolean } = {}) {
  const failed: Array<{ payload: string; error: string; attempts: number; dropped: boolean }> = [];
  queue = new DeliveryQueue<Row>({
    db,
    table: 'q',
    columns: 'payload',
    deliver,
    isOpen: opts.isOpen ?? (() => db.open),
    now: () => clock,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    maxAttempts: opts.maxAttempts,
    concurrency: opts.concurrency,
    onFailed: (row, error, attempts, dropped) => failed.push({ payload: row.payload, error, attempts, dropped }),
  });
  return { queue, failed };
}

test('delivers the due rows and deletes them; rows not yet due wait', async () => {
  put('a');
  put('b');
  put('later', clock + 5000);
  const seen: string[] = [];
  const { queue } = makeQueue(async (row) => (seen.push(row.payload), { ok: true }));
  await queue.flush();
  expect(seen).toEqual(['a', 'b']);
  expect(queue.delivered).toBe(2);
  expect(rows().map((r) => r.payload)).toEqual(['later']);
  clock += 5000;
  await queue.flush();
  expect(seen).toEqual(['a', 'b', 'later']);
  expect(queue.depth()).toBe(0);
});

test('a failed attempt stays queued with its error, and retries back off base·2^(n-1) with ±20% jitter', async () => {
  put('a');
  const { queue, failed } = makeQueue(async () => ({ error: 'HTTP 503' }));
  const start = clock;
  for (let n = 1; n <= 4; n++) {
    await queue.flush();
    const [r] = rows();
    expect(r.attempts).toBe(n);
    expect(r.last_error).toBe('HTTP 503');
    const delay = r.next_attempt_at - clock;
    expect(delay).toBeGreaterThanOrEqual(0.8 * 1000 * 2 ** (n - 1));
    expect(delay).toBeLessThanOrEqual(1.2 * 1000 * 2 ** (n - 1));
    clock = r.next_attempt_at;
  }
  expect(queue.failures).toBe(4);
  expect(failed.map((f) => [f.attempts, f.dropped])).toEqual([[1, false], [2, false], [3, false], [4, false]]);
  expect(clock).toBeGreaterThan(start);
});

test('the backoff is capped at maxDelayMs', () => {
  const { queue } = makeQueue(async () => ({ ok: true }));
  for (let i = 0; i < 50; i++) expect(queue.backoff(40)).toBeLessThanOrEqual(1.2 * 60_000);
  expect(queue.backoff(40)).toBeGreaterThanOrEqual(0.8 * 60_000);
});

test('a permanent failure is dropped at once; others after maxAttempts', async () => {
  put('refused');
  put('flaky');
  const { queue, failed } = makeQueue(async (row) => (row.payload === 'refused' ? { error: 'HTTP 400', permanent: true } : { error: 'HTTP 500' }), { maxAttempts: 3 });
  await queue.flush();
  expect(rows().map((r) => r.payload)).toEqual(['flaky']);
  for (let i = 0; i < 2; i++) {
    clock += 10 * 60_000;
    await queue.flush();
  }
  expect(rows()).toEqual([]);
  expect(queue.dropped).toBe(2);
  expect(failed.filter((f) => f.dropped).map((f) => [f.payload, f.attempts])).toEqual([['refused', 1], ['flaky', 3]]);
});

test('a deferred row keeps its attempt count and is due again at the given time', async () => {
  put('paused');
  const { queue } = makeQueue(async () => ({ deferUntil: clock + 700, note: 'stream paused' }));
  await queue.flush();
  expect(rows()).toEqual([{ payload: 'paused', attempts: 0, next_attempt_at: clock + 700, last_error: 'stream paused' }]);
  expect(queue.failures).toBe(0);
});

test('a gone target deletes the row without counting a delivery; a rejected deliver counts as a failure', async () => {
  put('gone');
  put('throws');
  const { queue, failed } = makeQueue(async (row) => {
    if (row.payload === 'gone') return { gone: true };
    throw new TypeError('boom');
  });
  await queue.flush();
  expect(rows().map((r) => [r.payload, r.attempts, r.last_error])).toEqual([['throws', 1, 'TypeError: boom']]);
  expect(queue.delivered).toBe(0);
  expect(failed).toEqual([{ payload: 'throws', error: 'TypeError: boom', attempts: 1, dropped: false }]);
});

test('never runs more than `concurrency` deliveries at once, and sends all of them', async () => {
  for (let i = 0; i < 20; i++) put(`r${i}`);
  let running = 0;
  let most = 0;
  const { queue } = makeQueue(
    async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return { ok: true };
    },
    { concurrency: 3 },
  );
  queue.start();
  const t0 = Date.now();
  while (queue.delivered < 20 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
  expect(queue.delivered).toBe(20);
  expect(most).toBe(3);
});

test('a row whose delivery ends after the store closed is left as it was', async () => {
  put('a');
  let open = true;
  const { queue } = makeQueue(
    async () => {
      open = false;
      return { ok: true };
    },
    { isOpen: () => open },
  );
  await queue.flush();
  expect(rows().map((r) => [r.payload, r.attempts])).toEqual([['a', 0]]);
  expect(queue.delivered).toBe(0);
});

test('start makes every queued row due at once: a backoff begun before a restart does not carry over', async () => {
  put('retrying', clock + 300_000); // five minutes into its backoff when the process stopped
  put('new');
  const seen: string[] = [];
  const { queue } = makeQueue(async (row) => (seen.push(row.payload), { ok: true }));
  queue.start();
  await new Promise((r) => setTimeout(r, 50));
  await queue.flush();
  expect(seen.sort()).toEqual(['new', 'retrying']);
  expect(rows()).toEqual([]);
});
