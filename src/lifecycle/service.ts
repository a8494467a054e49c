// The lifecycle service: wires revocation triggers, status tracking, expiry deadlines and recheck
// marks into the store's write path (same transaction as the write), re-derives lifecycle states of
// identities whose recheck is due (right after writes, and when time alone may move them: see
// rechecks.ts; a recheck also reports the owner's devices that went stale, staleness.ts), and runs
// the timers (deadlines, safety-net sweep) and the outbox sender.
import type { StateStore } from '../state/store';
import type { ChangeEvent } from '../state/types';
import type { PolicyEngine } from '../engine/types';
import { makeEvent, Outbox, type OutboxMetrics } from './outbox';
import { thresholdsFrom, type LifecycleThresholds } from './rechecks';
import { DeviceStaleness } from './staleness';
import { BACKGROUND_SLICE_MS as SLICE_MS, LifecycleTracker } from './tracker';
import { Deadlines, revocationTriggers } from './triggers';

/** Slices run back to back (setImmediate) before a backlog is paced at `catchupPercent` of a core. */
const EAGER_SLICES = 20;
/** A bulk import counts as running while its batches commit less than this apart (ms). */
const IMPORT_QUIET_MS = 250;
/** The longest a running bulk import holds the recheck drain back (ms). */
const MAX_IMPORT_HOLD_MS = 30_000;
/** Due rows read per query. */
const DUE_BATCH = 64;
/** A recheck whose evaluation failed is retried after this long (no hot loop on a policy error). */
const RETRY_MS = 60_000;
const FINGERPRINT = 'fingerprint';

/** Options of LifecycleService. */
export interface LifecycleServiceOptions {
  store: StateStore;
  /** The engine serving now with policy data set (Decider.engine). */
  engine: () => PolicyEngine | undefined;
  metrics?: OutboxMetrics & { setLifecycleStates(counts: Record<string, number>): void };
  now?: () => number;
  /**
   * The policies' base data document (data.json); its `config` holds the thresholds the recheck
   * deadlines are computed from. Without it no deadlines are kept and only sweeps see time pass.
   */
  policyData?: () => unknown;
  /** Period of the timer that handles due expiries and due rechecks, ms (default 1,000). */
  deadlineMs?: number;
  /** Safety-net full sweep period, ms; 0 = never (default 86,400,000). */
  sweepMs?: number;
  /** Share of one core (1–100) a long recheck backlog or a sweep may use (default 10; 100 = back to back). */
  catchupPercent?: number;
  /** Bulk-import hold tuning (tests): quiet gap that ends an import, longest hold (ms). */
  importHold?: { quietMs?: number; maxMs?: number };
  /** Outbox retry tuning (tests). */
  outbox?: { baseDelayMs?: number; maxDelayMs?: number; pollMs?: number; timeoutMs?: number };
  onError?: (msg: string, fields: Record<string, unknown>) => void;
}

/** Lifecycle tracking, revocation events and their delivery. */
export class LifecycleService {
  readonly outbox: Outbox;
  readonly tracker: LifecycleTracker;
  readonly deadlines: Deadlines;
  /** device_state_stale revocations (reported by the rechecks and by same-observed_at rewrites). */
  readonly staleness: DeviceStaleness;
  private readonly store: StateStore;
  private readonly now: () => number;
  private readonly deadlineMs: number;
  private readonly sweepMs: number;
  private readonly onError: (msg: string, fields: Record<string, unknown>) => void;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly policyData: () => unknown;
  private readonly engineOf: () => PolicyEngine | undefined;
  private timers: NodeJS.Timeout[] = [];
  private drainTimer?: { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout };
  private eagerSlices = 0;
  /** Pause between slices of a long backlog, ms (0 = back to back). */
  private readonly restMs: number;
  private readonly importQuietMs: number;
  private readonly maxImportHoldMs: number;
  /** performance.now() when the drain was first held back by the bulk import running now. */
  private heldSince?: number;
  private sweeping?: Promise<void>;
  private stopped = false;
  // Thresholds cached per data document (the reloader swaps the object on reload).
  private lastData: unknown = Symbol('none');
  private lastThresholds?: LifecycleThresholds;
  private lastConfigJson = '';
  /** Rechecks done by the due-deadline drain (cost accounting and tests). */
  readonly stats = { rechecked: 0 };

  constructor(opts: LifecycleServiceOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.deadlineMs = opts.deadlineMs ?? 1000;
    this.sweepMs = opts.sweepMs ?? 86_400_000;
    const percent = Math.min(100, Math.max(1, opts.catchupPercent ?? 10));
    this.restMs = (SLICE_MS * (100 - percent)) / percent;
    this.importQuietMs = opts.importHold?.quietMs ?? IMPORT_QUIET_MS;
    this.maxImportHoldMs = opts.importHold?.maxMs ?? MAX_IMPORT_HOLD_MS;
    this.onError = opts.onError ?? (() => undefined);
    this.policyData = opts.policyData ?? (() => undefined);
    this.engineOf = opts.engine;
    this.outbox = new Outbox({ store: opts.store, metrics: opts.metrics, now: this.now, onError: this.onError, ...opts.outbox });
    this.staleness = new DeviceStaleness({
      store: opts.store,
      outbox: this.outbox,
      thresholds: () => this.thresholds(),
      statusSince: (id) => this.tracker.statusSince(id),
    });
    this.tracker = new LifecycleTracker({
      store: opts.store,
      engine: opts.engine,
      outbox: this.outbox,
      metrics: opts.metrics,
      now: this.now,
      onError: this.onError,
      thresholds: () => this.thresholds(),
      sweepRestMs: this.restMs,
      staleness: this.staleness,
    });
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

  /**
   * Starts the sender and the timers, and handles what is already due (rechecks left by writes
   * before a restart, deadlines that passed while down). A full sweep runs at start only when the
   * stored deadlines were computed under other policies or thresholds (or never: first start).
   */
  start(): void {
    this.stopped = false;
    this.outbox.start();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.deadlineMs, () => this.tick());
    if (this.sweepMs > 0) every(this.sweepMs, () => void this.sweep());
    this.tick();
  }

  /** Stops timers and listeners, then flushes the outbox once (due rows get one more attempt). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.cancelDrain();
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.store.isOpen) await this.outbox.flush();
    await this.outbox.stop();
  }

  /** The thresholds of the current data.config (undefined when absent or incomplete). */
  thresholds(): LifecycleThresholds | undefined {
    const data = this.policyData();
    if (data !== this.lastData) {
      this.lastData = data;
      this.lastThresholds = thresholdsFrom(data);
      this.lastConfigJson = JSON.stringify((data as { config?: unknown } | undefined)?.config ?? null);
    }
    return this.lastThresholds;
  }

  /** Identifies what the stored deadlines were computed under: policy revision + data.config. */
  private fingerprint(): string | undefined {
    const engine = this.engineOf();
    if (!engine || !this.thresholds()) return undefined;
    return `${engine.revision}\n${this.lastConfigJson}`;
  }

  // One timer tick: expiries, a rebuild if the policies changed, and the due rechecks.
  private tick(): void {
    if (!this.store.isOpen) return;
    this.sweepDeadlines();
    try {
      // Records (outside any transaction, so it is remembered) since when the current max ages apply.
      this.staleness.epochMs(this.now());
      const fp = this.fingerprint();
      if (fp !== undefined && !this.sweeping && this.tracker.rechecks.meta(FINGERPRINT) !== fp) void this.sweep();
    } catch (err) {
      this.onError('lifecycle fingerprint check failed', { error: String(err) });
    }
    this.scheduleDrain();
  }

  /**
   * Refreshes every identity's lifecycle state, re-deriving every deadline (never rejects). Once it
   * went through everyone, the deadlines are recorded as computed under the policies of its start.
   */
  sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    const run = async () => {
      try {
        const fp = this.fingerprint();
        const complete = await this.tracker.sweep();
        if (complete && fp !== undefined && this.store.isOpen) this.tracker.rechecks.setMeta(FINGERPRINT, fp);
      } catch (err) {
        this.onError('lifecycle sweep failed', { error: String(err) });
      }
    };
    const p = run().finally(() => {
      if (this.sweeping === p) this.sweeping = undefined;
    });
    this.sweeping = p;
    return p;
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

  /** True while a backlog of due rechecks is being drained or a sweep runs (bulk work in progress). */
  get catchingUp(): boolean {
    return this.drainTimer !== undefined || this.sweeping !== undefined;
  }

  /** Re-derives every identity whose recheck is due now, synchronously (tests, shutdown). */
  flushRefresh(): void {
    while (this.recheckDue(Infinity)) {
      /* until nothing is due */
    }
    this.tracker.publishCounts();
  }

  /**
   * Re-derives identities whose recheck is due, earliest first, for at most `budgetMs`. Returns
   * true when more are due (the budget ran out), false when none are (or no policy is loaded).
   */
  recheckDue(budgetMs: number): boolean {
    if (!this.store.isOpen || !this.engineOf()) return false;
    const t0 = performance.now();
    const rechecks = this.tracker.rechecks;
    const seen = new Set<string>();
    for (;;) {
      const now = this.now();
      const ids = rechecks.due(now, DUE_BATCH);
      if (ids.length === 0) {
        this.staleness.drainedThrough(now);
        return false;
      }
      // One transaction (one fsync) per group of due identities; each refresh() is a savepoint in it.
      // Reads skip the decision cache: a backlog would otherwise flush the decisions' working set.
      const outcome = this.store.withoutCaching(() => this.store.transaction((): 'idle' | 'more' | 'next' => {
        for (const id of ids) {
          this.stats.rechecked++;
          try {
            if (seen.has(id)) {
              // Never spin on a row that did not move (a bug, not a state): retry it later.
              this.onError('lifecycle recheck did not advance', { identity: id });
              rechecks.set(id, now + RETRY_MS);
              continue;
            }
            seen.add(id);
            // refresh() moves the deadline forward (or clears it) in its transaction.
            const view = this.tracker.refresh(id);
            if (!view) {
              if (!this.store.getIdentity(id)) rechecks.remove(id);
              else return 'idle'; // no policy loaded: keep the row for later
            } else if (view.identity !== id) rechecks.remove(id); // the id is now another identity's alias
          } catch (err) {
            this.onError('lifecycle refresh failed', { identity: id, error: String(err) });
            rechecks.set(id, now + RETRY_MS);
          }
          if (performance.now() - t0 > budgetMs) return 'more';
        }
        return 'next';
      }));
      if (outcome !== 'next') return outcome === 'more';
    }
  }

  // Drains due rechecks in slices: back to back for a short burst (writes), then paced at
  // catchupPercent of a core for a long backlog (bulk import, policy change) so decisions keep their latency.
  private scheduleDrain(): void {
    if (this.drainTimer || this.stopped) return;
    const runAfter = (ms: number) => {
      const t = setTimeout(run, ms);
      t.unref();
      this.drainTimer = { timeout: t };
    };
    const run = () => {
      this.drainTimer = undefined;
      const hold = this.importHoldMs();
      if (hold > 0 && !this.stopped) return runAfter(hold);
      let more = false;
      try {
        more = this.recheckDue(SLICE_MS);
      } catch (err) {
        this.onError('lifecycle recheck failed', { error: String(err) });
      }
      if (!more) {
        this.eagerSlices = 0;
        this.tracker.publishCounts();
        return;
      }
      if (this.stopped) return;
      if (++this.eagerSlices < EAGER_SLICES || this.restMs === 0) this.drainTimer = { immediate: setImmediate(run) };
      else runAfter(this.restMs);
    };
    this.drainTimer = { immediate: setImmediate(run) };
  }

  // While a bulk import is committing batches, the rechecks it leaves wait until it ends: deriving
  // between its batches takes the import's CPU for work its next batches mark again (an owner's
  // devices follow it). Revocation events do not wait (they are written with the change), nor do
  // decisions (they read the state). A long import holds the drain for MAX_IMPORT_HOLD_MS at most;
  // after that the backlog drains at its paced share while the import goes on.
  private importHoldMs(): number {
    const now = performance.now();
    const sinceImport = now - this.store.lastImportAt;
    if (sinceImport >= this.importQuietMs) {
      this.heldSince = undefined;
      return 0;
    }
    this.heldSince ??= now;
    if (now - this.heldSince >= this.maxImportHoldMs) return 0;
    return Math.max(1, this.importQuietMs - sinceImport);
  }

  private cancelDrain(): void {
    const t = this.drainTimer;
    this.drainTimer = undefined;
    if (t && 'timeout' in t) clearTimeout(t.timeout);
    else if (t) clearImmediate(t.immediate);
  }

  private onWrite(change: ChangeEvent): void {
    const now = this.now();
    if (change.kind === 'identity') this.tracker.trackStatus(change.before, change.after);
    this.deadlines.track(change, now);
    // A durable "recheck now" in the write's transaction: if the process dies before the refresh
    // below runs, the next start still re-derives these identities.
    if (change.kind === 'identity') {
      if (change.after) this.tracker.rechecks.mark(change.after.id, now);
      this.staleness.onIdentityWrite(change.before, change.after, now);
    } else if (change.kind === 'device') {
      for (const d of [change.before, change.after]) if (d?.owner_resolved) this.tracker.rechecks.mark(d.owner, now);
      // A crossing the replaced version passed but no recheck processed yet must not hide behind this write.
      this.staleness.onDeviceWrite(change.before, change.after, now);
    }
    // App writes are judged against the shipped catalog entry they override (or fall back to).
    for (const t of revocationTriggers(change, now, change.kind === 'app' ? this.policyData() : undefined)) {
      const { identity, reasons, ...fields } = t;
      this.outbox.enqueue(makeEvent('revocation', identity, reasons, fields, new Date(now)));
    }
  }

  private afterCommit(change: ChangeEvent): void {
    // Coalesced: the marks are rows, so an identity written many times is re-derived once.
    if (change.kind === 'identity' || change.kind === 'device') this.scheduleDrain();
  }
}
