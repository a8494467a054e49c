// Lifecycle tracking (decision-model §3): the state of each identity as data.tether.lifecycle.report
// derives it (the Rego is the only definition), kept in the store's db with since-when, refreshed
// after every write that touches an identity and when its recheck deadline passes (time alone moves
// states: grace ends, devices go stale; rechecks.ts). Each refresh stores the identity's next
// deadline in the same transaction as its state. Transitions into ready_for_activation or a drift
// state are events, and so are devices found stale at a refresh (revocations, staleness.ts) and the
// enrollment grace ending (active_in_grace → active_unenrolled: an enrollment_grace_ended revocation,
// queued with the stored state change, so the stored state makes it exactly once).
import type Database from 'better-sqlite3';
import { keysetSource, type ResidentReplica } from '../state/resident-replica';
import type { StateStore } from '../state/store';
import type { Identity } from '../state/types';
import { composeLifecycleInput, policyDevice, type PolicyDevice, type PolicyInput } from '../engine/decision-input';
import type { PolicyEngine } from '../engine/types';
import { makeEvent, type Outbox } from './outbox';
import { nextChangeMs, Rechecks, type LifecycleThresholds } from './rechecks';
import { applyLifecycleSchema } from './schema';
import type { DeviceStaleness } from './staleness';

/** The lifecycle entrypoint. */
export const LIFECYCLE_ENTRYPOINT = 'tether/lifecycle/report';

/** What data.tether.lifecycle.report answers for one identity. */
export interface LifecycleReport {
  state: string;
  drift: boolean;
  /** "drift" | "risk" | null */
  kind: string | null;
  reasons: string[];
}

/** The lifecycle of one identity as GET /v1/lifecycle/{identity} answers it. */
export interface LifecycleView extends LifecycleReport {
  identity: string;
  /** When the identity entered this state (RFC 3339). */
  since: string;
  status: string;
  devices: PolicyDevice[];
}

/** One drift-report row. */
export interface DriftEntry {
  identity: string;
  state: string;
  kind: string;
  since: string;
  reasons: string[];
}

/** Options of LifecycleTracker. */
export interface TrackerOptions {
  store: StateStore;
  /** The engine serving now with policy data set (Decider.engine), or undefined. */
  engine: () => PolicyEngine | undefined;
  outbox?: Outbox;
  /** Sets identities-per-state gauges after a sweep. */
  metrics?: { setLifecycleStates(counts: Record<string, number>): void };
  now?: () => number;
  /** Identities read per page during a sweep (default 100); work is time-sliced (~0.5 ms per turn). */
  sweepChunk?: number;
  /** Pause after each ~0.5 ms slice of a sweep, ms (default 4.5: 10% of a core; 0: back to back). */
  sweepRestMs?: number;
  /** The time thresholds of data.config (undefined: no deadlines are kept, only sweeps see time pass). */
  thresholds?: () => LifecycleThresholds | undefined;
  /** Reports devices going stale (device_state_stale revocations) at each refresh, in its transaction. */
  staleness?: DeviceStaleness;
  onError?: (msg: string, fields: Record<string, unknown>) => void;
}

type StateRow = { identity: string; status: string; status_since: string; state: string | null; state_since: string | null; kind: string | null; reasons: string | null };

/** Longest run of background work (a sweep, a recheck drain) per event-loop turn, ms. */
export const BACKGROUND_SLICE_MS = 0.5;

/** Most statusSince answers kept (cleared wholesale when reached; about 100 bytes each). */
const SINCE_CACHE_MAX = 200_000;

/** The reason of the revocation when the enrollment grace of an identity without an enrolled device ends. */
export const GRACE_ENDED_REASON = 'enrollment_grace_ended';

const DRIFT_STATES = new Set(['enrolled_not_active', 'active_unenrolled', 'active_noncompliant']);

/** Tracks lifecycle states and status start times. */
export class LifecycleTracker {
  private readonly store: StateStore;
  private readonly engineOf: () => PolicyEngine | undefined;
  private readonly outbox?: Outbox;
  private readonly metrics?: TrackerOptions['metrics'];
  private readonly now: () => number;
  private readonly chunk: number;
  private readonly restMs: number;
  private readonly onError: (msg: string, fields: Record<string, unknown>) => void;
  private readonly thresholds: () => LifecycleThresholds | undefined;
  private readonly staleness?: DeviceStaleness;
  /** Identities per state, kept in step with transitions (a GROUP BY over 1M rows is too slow per tick). */
  private stateCounts?: Map<string, number>;
  private countsChanged = false;
  /** Next-deadline queue (same db, written in the refresh's transaction). */
  readonly rechecks: Rechecks;
  /** Sweeps run, identities they refreshed, and all refreshes (cost accounting and tests). */
  readonly stats = { sweeps: 0, swept: 0, refreshed: 0 };
  /**
   * statusSince answers per identity (null: no row), read on every decision. Only trackStatus writes
   * status_since; it drops the identity's entry before writing, so a rolled-back write leaves no trace.
   */
  private readonly sinceCache = new Map<string, string | null>();
  /** Every status_since, off the V8 heap, when the store keeps its decision records resident. */
  private readonly sinceReplica?: ResidentReplica;
  private readonly stmts: Record<'since' | 'get' | 'insertStatus' | 'updateStatus' | 'remove' | 'setState' | 'drift' | 'counts', Database.Statement>;
  private sweeping?: Promise<boolean>;

  constructor(opts: TrackerOptions) {
    this.store = opts.store;
    this.engineOf = opts.engine;
    this.outbox = opts.outbox;
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.chunk = opts.sweepChunk ?? 100;
    this.restMs = Math.max(0, opts.sweepRestMs ?? 4.5);
    this.onError = opts.onError ?? (() => undefined);
    this.thresholds = opts.thresholds ?? (() => undefined);
    this.staleness = opts.staleness;
    const db = this.store.db;
    applyLifecycleSchema(db);
    this.rechecks = new Rechecks(db, () => this.store.writeEpoch);
    this.stmts = {
      get: db.prepare('SELECT * FROM lifecycle_identities WHERE identity = ?'),
      since: db.prepare('SELECT status_since FROM lifecycle_identities WHERE identity = ?').pluck(),
      insertStatus: db.prepare('INSERT INTO lifecycle_identities (identity, status, status_since) VALUES (?, ?, ?) ON CONFLICT (identity) DO NOTHING'),
      updateStatus: db.prepare('UPDATE lifecycle_identities SET status = ?, status_since = ? WHERE identity = ?'),
      remove: db.prepare('DELETE FROM lifecycle_identities WHERE identity = ?'),
      setState: db.prepare('UPDATE lifecycle_identities SET state = ?, state_since = ?, kind = ?, reasons = ? WHERE identity = ?'),
      drift: db.prepare('SELECT * FROM lifecycle_identities WHERE kind IS NOT NULL ORDER BY identity'),
      counts: db.prepare('SELECT state, count(*) AS n FROM lifecycle_identities WHERE state IS NOT NULL GROUP BY state'),
    };
    // Every decision reads its subject's status start: at a large store spread over, the bounded cache
    // above misses nearly always, so the whole column is kept resident like the store's records.
    const page = db.prepare<[string, number], [string, string]>(
      'SELECT identity, status_since FROM lifecycle_identities WHERE identity > ? ORDER BY identity LIMIT ?',
    );
    this.sinceReplica = this.store.residentReplica({
      name: 'lifecycle',
      prefixes: ['s:'],
      load: (key) => (this.stmts.since.get(key.slice(2)) as string | undefined) ?? undefined,
      sources: [keysetSource('s:', page.raw())],
    });
  }

  /** When the identity's current status began (RFC 3339), if known. */
  statusSince(identityId: string): string | undefined {
    const held = this.sinceReplica?.lookup('s:' + identityId);
    if (held !== undefined) return held ?? undefined;
    const hit = this.sinceCache.get(identityId);
    if (hit !== undefined) return hit ?? undefined;
    const since = (this.stmts.since.get(identityId) as string | undefined) ?? null;
    // Cache committed reads only: a value read inside a write transaction could still roll back.
    if (!this.store.db.inTransaction) {
      if (this.sinceCache.size >= SINCE_CACHE_MAX) this.sinceCache.clear();
      this.sinceCache.set(identityId, since);
    }
    return since ?? undefined;
  }

  /**
   * Records status transitions of an identity write (call inside its transaction). A new record's
   * status starts at its observed_at when given (the source knows best), else now.
   */
  trackStatus(before: Identity | undefined, after: Identity | undefined): void {
    for (const id of [before?.id, after?.id]) {
      if (id === undefined) continue;
      this.sinceCache.delete(id);
      this.sinceReplica?.invalidate('s:' + id);
    }
    if (!after) {
      if (before) {
        const row = this.stmts.get.get(before.id) as StateRow | undefined;
        this.stmts.remove.run(before.id);
        this.rechecks.remove(before.id);
        if (row?.state) this.countTransition(row.state, null);
      }
      return;
    }
    const nowIso = new Date(this.now()).toISOString();
    // A new identity (a bulk import's every line) usually has no row: insert without reading first.
    if (!before && this.stmts.insertStatus.run(after.id, after.status, after.observed_at ?? nowIso).changes === 1) return;
    const row = this.stmts.get.get(after.id) as StateRow | undefined;
    if (!row) this.stmts.insertStatus.run(after.id, after.status, nowIso);
    else if (row.status !== after.status) this.stmts.updateStatus.run(after.status, nowIso, after.id);
  }

  /** Evaluates the lifecycle report of a stored identity (undefined when no policy is loaded). Throws on policy errors. */
  evaluate(identity: Identity, nowMs = this.now()): LifecycleReport | undefined {
    return this.evaluateInput(this.inputOf(identity, nowMs));
  }

  private inputOf(identity: Identity, nowMs: number): PolicyInput {
    return composeLifecycleInput(this.store, identity, { nowMs, statusSince: (id) => this.statusSince(id) });
  }

  private evaluateInput(input: PolicyInput): LifecycleReport | undefined {
    const engine = this.engineOf();
    if (!engine) return undefined;
    const rs = engine.evaluate(LIFECYCLE_ENTRYPOINT, input);
    const r = rs[0]?.result as Partial<LifecycleReport> | undefined;
    if (!r || typeof r.state !== 'string') throw new Error(`${LIFECYCLE_ENTRYPOINT} returned no report`);
    return { state: r.state, drift: r.drift === true, kind: typeof r.kind === 'string' ? r.kind : null, reasons: Array.isArray(r.reasons) ? r.reasons.map(String) : [] };
  }

  /**
   * Re-derives one identity's state and stores it; a transition into ready_for_activation or a drift
   * state is queued as an event in the same transaction, and so are the identity's next recheck
   * deadline and the revocations of its devices that went stale since (staleness.ts). Returns the
   * view, or undefined when the identity does not exist or no policy is loaded.
   */
  refresh(idOrAlias: string): LifecycleView | undefined {
    const identity = this.store.getIdentity(idOrAlias);
    if (!identity) return undefined;
    const nowMs = this.now();
    const input = this.inputOf(identity, nowMs);
    const report = this.evaluateInput(input);
    if (!report) return undefined;
    const th = this.thresholds();
    const due = th ? nextChangeMs(input, th, nowMs) : null;
    this.stats.refreshed++;
    let from: string | null | undefined;
    const since = this.store.transaction(() => {
      if ((this.rechecks.get(identity.id) ?? null) !== due) this.rechecks.set(identity.id, due);
      this.staleness?.onRefresh(identity, input, nowMs);
      let row = this.stmts.get.get(identity.id) as StateRow | undefined;
      if (!row) {
        this.trackStatus(undefined, identity);
        row = this.stmts.get.get(identity.id) as StateRow;
      }
      if (row.state === report.state) return row.state_since ?? new Date(nowMs).toISOString();
      const at = new Date(nowMs).toISOString();
      const kind = report.drift ? (report.kind ?? 'drift') : null;
      this.stmts.setState.run(report.state, at, kind, JSON.stringify(report.reasons), identity.id);
      this.emitTransition(identity, row.state, report, at, input);
      from = row.state;
      return at;
    });
    // After commit: a rolled-back transition must not move the counts.
    if (from !== undefined) this.countTransition(from, report.state);
    return {
      identity: identity.id,
      status: identity.status,
      ...report,
      since,
      devices: this.store.listDevicesByOwner(identity.id).map(policyDevice),
    };
  }

  /** Identities in drift states (as of the last refresh or sweep). */
  drift(): DriftEntry[] {
    return (this.stmts.drift.all() as StateRow[]).map((r) => ({
      identity: r.identity,
      state: r.state ?? 'unknown',
      kind: r.kind ?? 'drift',
      since: r.state_since ?? r.status_since,
      reasons: r.reasons ? (JSON.parse(r.reasons) as string[]) : [],
    }));
  }

  /** Identities per state as tracked in memory (loaded from the table once; sweeps reload it). */
  stateCountsNow(): Record<string, number> {
    this.stateCounts ??= new Map(Object.entries(this.counts()));
    const out: Record<string, number> = {};
    for (const [k, n] of this.stateCounts) out[k] = n;
    return out;
  }

  /** Publishes the identities-per-state gauges if a transition happened since the last call. */
  publishCounts(): void {
    if (!this.countsChanged || !this.metrics) return;
    this.countsChanged = false;
    this.metrics.setLifecycleStates(this.stateCountsNow());
  }

  private countTransition(from: string | null, to: string | null): void {
    if (!this.stateCounts) {
      this.countsChanged = true;
      return; // loaded from the table (which already has this transition) on first use
    }
    if (from) this.stateCounts.set(from, Math.max(0, (this.stateCounts.get(from) ?? 0) - 1));
    if (to) this.stateCounts.set(to, (this.stateCounts.get(to) ?? 0) + 1);
    this.countsChanged = true;
  }

  /** Identities per stored state (one GROUP BY over the table). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.stmts.counts.all() as Array<{ state: string; n: number }>) out[r.state] = r.n;
    return out;
  }

  /**
   * Refreshes every identity, a chunk per event-loop turn so decisions keep flowing. Concurrent
   * calls share one sweep. Resolves true once it went through every identity, false when it stopped
   * early (no policy loaded, store closed).
   */
  sweep(): Promise<boolean> {
    this.sweeping ??= this.runSweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async runSweep(): Promise<boolean> {
    if (!this.engineOf()) return false;
    let after: string | undefined;
    let sliceStart = performance.now();
    this.stats.sweeps++;
    for (;;) {
      if (!this.store.isOpen) return false;
      const page = this.store.listIdentities({ after, limit: this.chunk });
      for (const identity of page.items) {
        try {
          this.stats.swept++;
          this.store.withoutCaching(() => this.refresh(identity.id));
        } catch (err) {
          this.onError('lifecycle refresh failed', { identity: identity.id, error: String(err) });
        }
        // Time-sliced and paced: ~0.5 ms of work, then a rest (the service's catch-up share of a core),
        // so a background sweep never holds a decision up for more than a slice (p99 stays flat).
        if (performance.now() - sliceStart > BACKGROUND_SLICE_MS) {
          await new Promise<void>((r) => (this.restMs > 0 ? setTimeout(r, this.restMs) : setImmediate(r)));
          sliceStart = performance.now();
          if (!this.store.isOpen) return false;
        }
      }
      if (!page.next_cursor) break;
      after = page.next_cursor;
    }
    // Re-anchor the in-memory counts on the table (heals any drift of the incremental counts).
    this.stateCounts = new Map(Object.entries(this.counts()));
    this.countsChanged = false;
    this.metrics?.setLifecycleStates(this.stateCountsNow());
    return true;
  }

  private emitTransition(identity: Identity, from: string | null, report: LifecycleReport, at: string, input: PolicyInput): void {
    if (!this.outbox) return;
    const fields = { state: report.state, previous_state: from, status: identity.status };
    const grace = from === 'active_in_grace' && report.state === 'active_unenrolled' ? this.graceEnded(identity, input, Date.parse(at)) : undefined;
    // Written with the state change (same transaction): the stored state is what makes it exactly once.
    if (grace)
      this.outbox.enqueue(makeEvent('revocation', identity.id, [GRACE_ENDED_REASON], { record: { kind: 'identity', id: identity.id }, ...fields, ...grace }, new Date(at)));
    if (report.state === 'ready_for_activation')
      this.outbox.enqueue(makeEvent('ready_for_activation', identity.id, ['ready_for_activation'], fields, new Date(at)));
    else if (DRIFT_STATES.has(report.state))
      this.outbox.enqueue(makeEvent('drift', identity.id, report.reasons.length ? report.reasons : [report.state], { ...fields, kind: report.kind }, new Date(at)));
  }

  /**
   * The fields of an enrollment_grace_ended revocation for a transition active_in_grace →
   * active_unenrolled, or undefined when the grace's end removed nothing: the limited access of
   * enrollment_pending (low apps only, choice 6) was never granted to an owner of a hard-gated tier,
   * and an identity whose current status began after the grace ended lost that access to the status
   * change (identity_not_active) rather than to time. Leaving the grace by enrolling a device, by a
   * status change or as a service / break-glass identity never reaches active_unenrolled from it.
   */
  private graceEnded(identity: Identity, input: PolicyInput, nowMs: number): Record<string, unknown> | undefined {
    const s = input.subject;
    if (!s || s.status !== 'active') return undefined;
    const th = this.thresholds();
    if (th?.hardGateTiers.includes(identity.risk_tier)) return undefined;
    const activatedNs = s.activated_at_ns;
    const endMs = th && typeof activatedNs === 'number' ? activatedNs / 1e6 + th.enrollmentGraceNs / 1e6 : undefined;
    if (endMs !== undefined && endMs <= nowMs && typeof s.status_since_ns === 'number' && s.status_since_ns / 1e6 > endMs) return undefined;
    return {
      activated_at: identity.activated_at ?? null,
      grace_ended_at: endMs !== undefined && Number.isFinite(endMs) ? new Date(endMs).toISOString() : null,
      enrollment_grace_seconds: th ? th.enrollmentGraceNs / 1e9 : null,
    };
  }
}
