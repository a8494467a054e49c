// The durable lifecycle-event outbox: one row per (event, subscriber) in the store's SQLite db,
// written in the same transaction as the state change that caused it, delivered as signed webhooks
// (X-Tether-Signature: sha256=<hex HMAC-SHA256 of the raw body>) with exponential backoff. Rows are
// deleted only after a 2xx, so a restart loses nothing; undelivered rows are retried after restart.
// The send loop (wake, poll, concurrency, backoff) is delivery-queue.ts, shared with the SSF transmitter.
import { createHmac, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { StateStore } from '../state/store';
import type { SubscriptionEvent } from '../state/types';
import { DeliveryQueue, type DeliveryOutcome, type QueuedRow } from './delivery-queue';
import { withoutCredentials } from '../api/redact';

/** A lifecycle event as POSTed to subscribers. */
export interface LifecycleEvent {
  id: string;
  type: SubscriptionEvent;
  time: string;
  /** The identity concerned (null for catalog-wide events). */
  identity: string | null;
  /** Stable code of why (e.g. `device_not_compliant`, `identity_not_active`, `ready_for_activation`). */
  reason: string;
  /** Every reason when one write removed access in several ways. */
  reasons: string[];
  [field: string]: unknown;
}

/** Metrics the outbox records (src/api/metrics.ts Metrics satisfies it). */
export interface OutboxMetrics {
  setOutboxDepth(depth: number): void;
  outboxDeliveryFailed(subscriber: string): void;
  outboxEventDelivered(event: string): void;
}

/** Options of Outbox. */
export interface OutboxOptions {
  store: StateStore;
  metrics?: OutboxMetrics;
  /** First retry delay, ms (default 1,000); doubles per attempt. */
  baseDelayMs?: number;
  /** Longest retry delay, ms (default 300,000). */
  maxDelayMs?: number;
  /** How often due rows are polled, ms (default 1,000); enqueues also wake the sender. */
  pollMs?: number;
  /** Per-request timeout, ms (default 5,000). */
  timeoutMs?: number;
  /** Concurrent deliveries (default 8). */
  concurrency?: number;
  /** Clock, ms (tests). */
  now?: () => number;
  /** Logs delivery problems (never secrets). */
  onError?: (msg: string, fields: Record<string, unknown>) => void;
}

interface OutboxRow extends QueuedRow {
  event_id: string;
  event_type: string;
  subscription_id: string;
  body: string;
}

/** Creates the outbox table if needed (idempotent). */
export function applyOutboxSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS lifecycle_outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      event_id TEXT NOT NULL,
      event_type TEXT NOT NULL,
      subscription_id TEXT NOT NULL,
      body TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      last_error TEXT
    );
    CREATE INDEX IF NOT EXISTS lifecycle_outbox_due ON lifecycle_outbox (next_attempt_at);
  `);
}

/** `sha256=<hex>` HMAC-SHA256 of `body` under `secret` (the X-Tether-Signature header). */
export function signBody(secret: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Builds an event with a fresh id. */
export function makeEvent(type: SubscriptionEvent, identity: string | null, reasons: string[], fields: Record<string, unknown> = {}, time = new Date()): LifecycleEvent {
  return { id: randomUUID(), type, time: time.toISOString(), identity, reason: reasons[0] ?? type, reasons, ...fields };
}

/** The durable outbox and its webhook sender. */
export class Outbox {
  private readonly store: StateStore;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly onError: (msg: string, fields: Record<string, unknown>) => void;
  private readonly listeners: Array<(e: LifecycleEvent) => void> = [];
  private readonly queue: DeliveryQueue<OutboxRow>;
  private readonly stmts: { insert: Database.Statement; removeSubscription: Database.Statement };

  constructor(opts: OutboxOptions) {
    this.store = opts.store;
    this.db = opts.store.db;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => undefined);
    applyOutboxSchema(this.db);
    this.stmts = {
      insert: this.db.prepare(
        'INSERT INTO lifecycle_outbox (event_id, event_type, subscription_id, body, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 0, ?, ?)',
      ),
      removeSubscription: this.db.prepare('DELETE FROM lifecycle_outbox WHERE subscription_id = ?'),
    };
    const metrics = opts.metrics;
    this.queue = new DeliveryQueue<OutboxRow>({
      db: this.db,
      table: 'lifecycle_outbox',
      columns: 'event_id, event_type, subscription_id, body',
      deliver: (row) => this.deliver(row),
      isOpen: () => this.store.isOpen,
      now: this.now,
      pollMs: opts.pollMs,
      concurrency: opts.concurrency,
      baseDelayMs: opts.baseDelayMs,
      maxDelayMs: opts.maxDelayMs,
      onPump: metrics && (() => metrics.setOutboxDepth(this.depth())),
      onDelivered: (row) => metrics?.outboxEventDelivered(row.event_type),
      onFailed: (row, error, attempts) => {
        metrics?.outboxDeliveryFailed(row.subscription_id);
        this.onError('webhook delivery failed', { subscription: row.subscription_id, event: row.event_id, attempts, error });
      },
      onError: this.onError,
    });
  }

  /** Events delivered since start. */
  get delivered(): number {
    return this.queue.delivered;
  }

  /** Failed delivery attempts since start. */
  get failures(): number {
    return this.queue.failures;
  }

  /** Registers an in-process listener of every event (e.g. the SSF transmitter); called inside the write's transaction. */
  onEvent(listener: (e: LifecycleEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Stores `event` once per subscriber asking for its type. Call inside the transaction of the write
   * that caused it (a store onChange listener, or store.transaction) so both commit or neither does.
   * Returns the number of rows queued.
   */
  enqueue(event: LifecycleEvent): number {
    const body = JSON.stringify(event);
    const at = this.now();
    let n = 0;
    for (const sub of this.store.listSubscriptions()) {
      if (!sub.events.includes(event.type)) continue;
      this.stmts.insert.run(event.id, event.type, sub.id, body, at, at);
      n++;
    }
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.onError('outbox listener failed', { error: String(err) });
      }
    }
    if (n > 0) this.queue.wake();
    return n;
  }

  /** Events waiting for delivery. */
  depth(): number {
    return this.queue.depth();
  }

  /** Drops the queued rows of a deleted subscription. */
  forgetSubscription(id: string): void {
    this.stmts.removeSubscription.run(id);
  }

  /** Starts delivering (also what is left from before a restart). */
  start(): void {
    this.queue.start();
  }

  /** Stops the sender; waits for in-flight deliveries. Queued rows stay for the next start. */
  stop(): Promise<void> {
    return this.queue.stop();
  }

  /** Attempts every due row now and waits for the attempts (shutdown flush, tests). */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  /** Delay before retry `attempts` (1-based): base·2^(n-1), capped, with ±20% jitter. */
  backoff(attempts: number): number {
    return this.queue.backoff(attempts);
  }

  private async deliver(row: OutboxRow): Promise<DeliveryOutcome> {
    const sub = this.store.getSubscription(row.subscription_id);
    if (!sub) return { gone: true };
    try {
      const res = await fetch(sub.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-tether-signature': signBody(sub.secret, row.body),
          'x-tether-event': row.event_type,
          'x-tether-delivery': row.event_id,
          'user-agent': 'tether-webhooks',
        },
        body: row.body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      });
      // Drain the body so the connection is reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? { ok: true } : { error: `HTTP ${res.status}` };
    } catch (err) {
      // Error texts can quote the URL; a subscription stored before URLs with credentials were refused must
      // not put its password in the log.
      return { error: withoutCredentials(err instanceof Error ? err.name + ': ' + err.message : String(err)) };
    }
  }
}
