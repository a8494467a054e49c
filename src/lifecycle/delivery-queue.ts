// The sender both durable outboxes share (lifecycle webhooks in outbox.ts, SSF SETs in
// adapters/ssf/transmitter.ts). Their rows live in a SQLite table of the store's db with at least
// `seq`, `attempts`, `next_attempt_at` and `last_error`, inserted in the transaction of the state
// change that caused them. This loop hands due rows to `deliver`, at most `concurrency` at once, and
// deletes a row only once its delivery succeeded or was given up: a restart or a kill loses nothing.
import type Database from 'better-sqlite3';

/** A queued row: the shared columns; each queue selects its own besides. */
export interface QueuedRow {
  seq: number;
  attempts: number;
}

/** What one delivery attempt came to. */
export type DeliveryOutcome =
  /** Delivered: the row is deleted. */
  | { ok: true }
  /** Nobody to deliver to any more (subscription or stream deleted): the row is deleted. */
  | { gone: true }
  /** Failed: counts as an attempt; retried with backoff unless `permanent` or out of attempts. */
  | { error: string; permanent?: boolean }
  /** Not attempted now (e.g. a paused stream): due again at `until`, attempts unchanged. */
  | { deferUntil: number; note: string };

/** Options of DeliveryQueue. */
export interface DeliveryQueueOptions<R extends QueuedRow> {
  db: Database.Database;
  /** The queue's table (a trusted identifier, never input). */
  table: string;
  /** Columns selected besides `seq, attempts`, comma-separated. */
  columns: string;
  /** Attempts one row. Must not throw; a rejection counts as a failed attempt. */
  deliver: (row: R) => Promise<DeliveryOutcome>;
  /** False once the store is closed: nothing is read or written then. */
  isOpen: () => boolean;
  now?: () => number;
  /** How often due rows are polled, ms (default 1,000); `wake()` sends at once. */
  pollMs?: number;
  /** Concurrent deliveries (default 8). */
  concurrency?: number;
  /** First retry delay, ms (default 1,000); doubles per attempt. */
  baseDelayMs?: number;
  /** Longest retry delay, ms (default 300,000). */
  maxDelayMs?: number;
  /** Attempts before a row is dropped (default: never dropped). */
  maxAttempts?: number;
  onDelivered?: (row: R) => void;
  /** After a failed attempt; `dropped` when the row was given up. */
  onFailed?: (row: R, error: string, attempts: number, dropped: boolean) => void;
  /** Before each pass over the due rows (e.g. a depth gauge). */
  onPump?: () => void;
  /** Reports a failed read of the table (never secrets). */
  onError?: (msg: string, fields: Record<string, unknown>) => void;
}

/** A durable queue's sender: wake/poll, bounded concurrency, backoff with jitter. */
export class DeliveryQueue<R extends QueuedRow> {
  /** Rows delivered, failed attempts, and rows given up, since start. */
  delivered = 0;
  failures = 0;
  dropped = 0;
  private readonly o: DeliveryQueueOptions<R>;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly st: { due: Database.Statement; remove: Database.Statement; retry: Database.Statement; depth: Database.Statement; dueNow: Database.Statement };
  private timer?: NodeJS.Timeout;
  private wakeScheduled = false;
  private running = false;

  constructor(opts: DeliveryQueueOptions<R>) {
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.concurrency = opts.concurrency ?? 8;
    const t = opts.table;
    this.st = {
      due: opts.db.prepare(`SELECT seq, attempts, ${opts.columns} FROM ${t} WHERE next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?`),
      remove: opts.db.prepare(`DELETE FROM ${t} WHERE seq = ?`),
      retry: opts.db.prepare(`UPDATE ${t} SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?`),
      dueNow: opts.db.prepare(`UPDATE ${t} SET next_attempt_at = ? WHERE next_attempt_at > ?`),
      depth: opts.db.prepare(`SELECT count(*) AS n FROM ${t}`),
    };
  }

  /** Rows waiting for delivery. */
  depth(): number {
    return (this.st.depth.get() as { n: number }).n;
  }

  /** Starts sending (also what is left from before a restart: every queued row is due at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    // Receivers were likely waiting on us while we were down: a backoff begun before does not carry over.
    if (this.o.isOpen()) {
      const now = this.now();
      this.st.dueNow.run(now, now);
    }
    this.timer = setInterval(() => this.pump(), this.o.pollMs ?? 1000);
    this.timer.unref();
    this.wake();
  }

  /** Stops sending; waits for in-flight deliveries. Queued rows stay for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Attempts every due row now and waits for the attempts (shutdown flush, tests). */
  async flush(): Promise<void> {
    const wasRunning = this.running;
    this.running = true;
    try {
      for (let round = 0; round < 100; round++) {
        this.pump();
        if (this.inFlight.size === 0) break;
        await Promise.allSettled([...this.inFlight.values()]);
      }
    } finally {
      this.running = wasRunning;
    }
  }

  /** Sends soon: after the current synchronous work, so after the enqueuing transaction committed. */
  wake(): void {
    if (this.wakeScheduled || !this.running) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.pump();
    });
  }

  /** Delay before retry `attempts` (1-based): base·2^(n-1), capped, with ±20% jitter. */
  backoff(attempts: number): number {
    const raw = Math.min(this.o.maxDelayMs ?? 300_000, (this.o.baseDelayMs ?? 1000) * 2 ** Math.min(30, attempts - 1));
    return Math.round(raw * (0.8 + Math.random() * 0.4));
  }

  // Starts deliveries of due rows, up to the concurrency limit (rows in flight are still due, so the
  // limit of the read covers them).
  private pump(): void {
    if (!this.running || !this.o.isOpen()) return;
    if (this.inFlight.size >= this.concurrency) return;
    let rows: R[];
    try {
      this.o.onPump?.();
      rows = this.st.due.all(this.now(), this.concurrency + this.inFlight.size) as R[];
    } catch (err) {
      this.o.onError?.(`${this.o.table} read failed`, { error: String(err) });
      return;
    }
    for (const row of rows) {
      if (this.inFlight.size >= this.concurrency) break;
      if (this.inFlight.has(row.seq)) continue;
      const p = this.attempt(row).finally(() => {
        this.inFlight.delete(row.seq);
        if (this.running) this.wake();
      });
      this.inFlight.set(row.seq, p);
    }
  }

  private async attempt(row: R): Promise<void> {
    let out: DeliveryOutcome;
    try {
      out = await this.o.deliver(row);
    } catch (err) {
      out = { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
    if (!this.o.isOpen()) return; // closed meanwhile: the row stays for the next start
    if ('ok' in out || 'gone' in out) {
      this.st.remove.run(row.seq);
      if ('ok' in out) {
        this.delivered++;
        this.o.onDelivered?.(row);
      }
      return;
    }
    if ('deferUntil' in out) {
      this.st.retry.run(row.attempts, out.deferUntil, out.note, row.seq);
      return;
    }
    const attempts = row.attempts + 1;
    this.failures++;
    const drop = out.permanent === true || attempts >= (this.o.maxAttempts ?? Infinity);
    if (drop) {
      this.st.remove.run(row.seq);
      this.dropped++;
    } else {
      this.st.retry.run(attempts, this.now() + this.backoff(attempts), out.error.slice(0, 500), row.seq);
    }
    this.o.onFailed?.(row, out.error, attempts, drop);
  }
}
