// The lifecycle service: wires revocation triggers, status tracking and expiry deadlines into the
// store's write path (same transaction as the write), refreshes lifecycle states after commits,
// and runs the timers (deadline sweep, lifecycle sweep) and the outbox sender.
import type { StateStore } from '../state/store';
import type { ChangeEvent } from '../state/types';
import type { PolicyEngine } from '../engine/types';
import { makeEvent, Outbox, type OutboxMetrics } from './outbox';
import { LifecycleTracker } from './tracker';
import { Deadlines, revocationTriggers } from './triggers';

/** Longest run of post-write lifecycle refreshes per event-loop turn, ms. */
const REFRESH_SLICE_MS = 0.5;
const REFRESH_BACKLOG = 5000;

/** Options of LifecycleService. */
export interface LifecycleServiceOptions {
  store: StateStore;
  /** The engine serving now with policy data set (Decider.engine). */
  engine: () => PolicyEngine | undefined;
  metrics?: OutboxMetrics & { setLifecycleStates(counts: Record<string, number>): void };
  now?: () => number;
  /** Deadline (expiry) sweep period, ms (default 1,000). */
  deadlineMs?: number;
  /** Full lifecycle sweep period, ms (default 300,000: time-driven changes such as the end of a grace are seen within it). */
  sweepMs?: number;
  /** Outbox retry tuning (tests). */
  outbox?: { baseDelayMs?: number; maxDelayMs?: number; pollMs?: number; timeoutMs?: number };
  onError?: (msg: string, fields: Record<string, unknown>) => void;
}

/** Lifecycle tracking, revocation events and their delivery. */
export class LifecycleService {
  readonly outbox: Outbox;
  readonly tracker: LifecycleTracker;
  readonly deadlines: Deadlines;
  private readonly store: StateStore;
  private readonly now: () => number;
  private readonly deadlineMs: number;
  private readonly sweepMs: number;
  private readonly onError: (msg: string, fields: Record<string, unknown>) => void;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly pending = new Set<string>();
  private refreshScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private sweepTimer?: NodeJS.Timeout;

  constructor(opts: LifecycleServiceOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.deadlineMs = opts.deadlineMs ?? 1000;
    this.sweepMs = opts.sweepMs ?? 300_000;
    this.onError = opts.onError ?? (() => undefined);
    this.outbox = new Outbox({ store: opts.store, metrics: opts.metrics, now: this.now, onError: this.onError, ...opts.outbox });
    this.tracker = new LifecycleTracker({ store: opts.store, engine: opts.engine, outbox: this.outbox, metrics: opts.metrics, now: this.now, onError: this.onError });
    this.deadlines = new Deadlines(opts.store.db);
    // Inside the write's transaction: the event rows commit with the change or not at all.
    this.unsubscribe.push(this.store.onChange((change) => this.onWrite(change)));
    // After commit: lifecycle states read the committed state.
    this.unsubscribe.push(this.store.onCommit((change) => this.afterCommit(change)));
  }

  /** When an identity's current status began (for the decision input). */
  statusSince(identityId: string): string | undefined {
    return this.tracker.statusSince(identityId);
  }

  /** Starts the sender and the timers, and sweeps once (catching up after a restart). */
  start(): void {
    this.outbox.start();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.deadlineMs, () => this.sweepDeadlines());
    every(this.sweepMs, () => void this.sweep());
    this.sweepDeadlines();
    void this.sweep();
  }

  /** Stops timers and listeners, then flushes the outbox once (due rows get one more attempt). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.store.isOpen) await this.outbox.flush();
    await this.outbox.stop();
  }

  // One sweep shortly after a burst of writes (debounced: the burst is usually still going).
  private sweepSoon(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.sweep();
    }, 2000);
    this.sweepTimer.unref();
  }

  /** Refreshes every identity's lifecycle state (never rejects). */
  async sweep(): Promise<void> {
    try {
      await this.tracker.sweep();
    } catch (err) {
      this.onError('lifecycle sweep failed', { error: String(err) });
    }
  }

  /** Queues revocations for exceptions and break-glass windows that expired (never throws). */
  sweepDeadlines(): number {
    if (!this.store.isOpen) return 0;
    try {
      const now = this.now();
      const due = this.deadlines.dueAt(now);
      if (due.length === 0) return 0;
      this.store.transaction(() => {
        for (const d of due) {
          const reason = d.kind === 'exception' ? 'exception_expired' : 'break_glass_expired';
          this.outbox.enqueue(
            makeEvent('revocation', d.identity, [reason], { record: { kind: d.kind, id: d.id }, expired_at: new Date(d.expires_at).toISOString() }, new Date(now)),
          );
          this.deadlines.done(d);
        }
      });
      return due.length;
    } catch (err) {
      this.onError('deadline sweep failed', { error: String(err) });
      return 0;
    }
  }

  /** Refreshes lifecycle states queued by recent writes now (tests, shutdown). */
  flushRefresh(): void {
    while (this.pending.size > 0) this.refreshSome(Infinity);
  }

  // Refreshes queued identities for at most `budgetMs`; returns how many remain.
  private refreshSome(budgetMs: number): number {
    const t0 = performance.now();
    for (const id of this.pending) {
      this.pending.delete(id);
      try {
        if (this.store.isOpen) this.tracker.refresh(id);
      } catch (err) {
        this.onError('lifecycle refresh failed', { identity: id, error: String(err) });
      }
      if (performance.now() - t0 > budgetMs) break;
    }
    return this.pending.size;
  }

  private scheduleRefresh(): void {
    if (this.refreshScheduled) return;
    this.refreshScheduled = true;
    setImmediate(() => {
      this.refreshScheduled = false;
      // A small chunk per turn keeps decision latency flat while a bulk import streams in.
      if (this.refreshSome(REFRESH_SLICE_MS) > 0) this.scheduleRefresh();
    });
  }

  private onWrite(change: ChangeEvent): void {
    const now = this.now();
    if (change.kind === 'identity') this.tracker.trackStatus(change.before, change.after);
    this.deadlines.track(change, now);
    for (const t of revocationTriggers(change, now)) {
      const { identity, reasons, ...fields } = t;
      this.outbox.enqueue(makeEvent('revocation', identity, reasons, fields, new Date(now)));
    }
  }

  private afterCommit(change: ChangeEvent): void {
    if (change.kind === 'identity') {
      if (change.after) this.pending.add(change.after.id);
    } else if (change.kind === 'device') {
      for (const d of [change.before, change.after]) if (d?.owner_resolved) this.pending.add(d.owner);
    } else return;
    // Coalesced: a bulk import touching one identity many times refreshes it once. A flood larger
    // than the backlog bound is left to one full sweep instead of piling up.
    if (this.pending.size > REFRESH_BACKLOG) {
      this.pending.clear();
      this.sweepSoon();
      return;
    }
    this.scheduleRefresh();
  }
}
