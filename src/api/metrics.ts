// Prometheus metrics (prom-client): one registry per service instance, with the helpers the decision
// path, lifecycle, outbox, decision log and policy reload call. Served at GET /metrics by routes/health.ts.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StateStore } from '../state/store';

const DECISION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The service's metrics; create one per AppContext. */
export class Metrics {
  readonly registry = new Registry();
  readonly decisionDuration: Histogram<'action'>;
  readonly decisions: Counter<'action' | 'allow' | 'reason'>;
  readonly lifecycleStates: Gauge<'state'>;
  readonly records: Gauge<'kind'>;
  readonly sourceAge: Gauge<'kind' | 'source'>;
  readonly policyRevision: Gauge<'revision'>;
  readonly policyReloads: Counter<'result'>;
  readonly policyReloadFailures: Counter<string>;
  readonly outboxDepth: Gauge<string>;
  readonly outboxDeliveryFailures: Counter<'subscriber'>;
  readonly outboxDelivered: Counter<'event'>;
  readonly decisionLogDropped: Counter<'allow'>;
  readonly decisionLogBuffered: Gauge<string>;
  readonly httpRequests: Counter<'method' | 'route' | 'code'>;
  readonly importedRecords: Counter<'result'>;
  readonly lifecycleRechecksDue: Gauge<string>;
  readonly resident: Record<'entries' | 'bytes' | 'dirty' | 'complete', Gauge<'replica'>>;
  private store?: StateStore;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.decisionDuration = new Histogram({
      name: 'tether_decision_duration_seconds',
      help: 'Decision latency per action (input composition + policy evaluation)',
      labelNames: ['action'],
      buckets: DECISION_BUCKETS,
      registers,
    });
    this.decisions = new Counter({
      name: 'tether_decisions_total',
      help: 'Decisions by action, allow and reason (reason="none" for a plain allow; a deny counts once per reason)',
      labelNames: ['action', 'allow', 'reason'],
      registers,
    });
    this.lifecycleStates = new Gauge({
      name: 'tether_identities_by_lifecycle_state',
      help: 'Identities per derived lifecycle state',
      labelNames: ['state'],
      registers,
    });
    const self = this;
    this.records = new Gauge({
      name: 'tether_state_records',
      help: 'Stored records per kind',
      labelNames: ['kind'],
      registers,
      collect() {
        if (!self.store?.isOpen || self.store.failed !== undefined) return;
        try {
          for (const [kind, n] of Object.entries(self.store.counts())) this.set({ kind }, n);
        } catch {
          // A failing store is reported by /health/ready; the scrape still answers.
        }
      },
    });
    this.sourceAge = new Gauge({
      name: 'tether_state_newest_update_age_seconds',
      help: 'Seconds since the newest write per record kind and source',
      labelNames: ['kind', 'source'],
      registers,
      collect() {
        if (!self.store?.isOpen || self.store.failed !== undefined) return;
        try {
          const now = Date.now();
          for (const m of self.store.sourceMarks())
            this.set({ kind: m.kind, source: m.source }, Math.max(0, (now - Date.parse(m.last_updated_at)) / 1000));
        } catch {
          // see above
        }
      },
    });
    this.policyRevision = new Gauge({
      name: 'tether_policy_revision_info',
      help: 'The loaded policy revision (value 1 on the current revision label)',
      labelNames: ['revision'],
      registers,
    });
    this.policyReloads = new Counter({
      name: 'tether_policy_reloads_total',
      help: 'Policy (re)loads by result',
      labelNames: ['result'],
      registers,
    });
    this.policyReloadFailures = new Counter({
      name: 'tether_policy_reload_failures_total',
      help: 'Policy reloads that failed to compile or load (the previous policy kept serving)',
      registers,
    });
    this.outboxDepth = new Gauge({ name: 'tether_outbox_depth', help: 'Lifecycle events waiting in the outbox', registers });
    this.outboxDeliveryFailures = new Counter({
      name: 'tether_outbox_delivery_failures_total',
      help: 'Failed webhook/SET delivery attempts per subscriber',
      labelNames: ['subscriber'],
      registers,
    });
    this.outboxDelivered = new Counter({
      name: 'tether_outbox_delivered_total',
      help: 'Events delivered to subscribers by event type',
      labelNames: ['event'],
      registers,
    });
    this.decisionLogDropped = new Counter({
      name: 'tether_decision_log_dropped_total',
      help: 'Decision log entries dropped because the buffer was full (allows only are ever dropped)',
      labelNames: ['allow'],
      registers,
    });
    this.decisionLogBuffered = new Gauge({
      name: 'tether_decision_log_buffered',
      help: 'Decision log entries waiting to be written',
      registers,
    });
    this.httpRequests = new Counter({
      name: 'tether_http_requests_total',
      help: 'HTTP requests by method, route pattern and status code',
      labelNames: ['method', 'route', 'code'],
      registers,
    });
    this.importedRecords = new Counter({
      name: 'tether_import_records_total',
      help: 'Bulk-imported NDJSON lines by result',
      labelNames: ['result'],
      registers,
    });
    this.lifecycleRechecksDue = new Gauge({
      name: 'tether_lifecycle_rechecks_due',
      help: 'Identities whose lifecycle state is due for re-derivation now (0 once a bulk import or policy change is caught up)',
      registers,
      collect() {
        if (!self.store?.isOpen || self.store.failed !== undefined) return;
        try {
          // The lifecycle tracker's queue (src/lifecycle/rechecks.ts), read at scrape time; absent until it starts.
          this.set(self.store.db.prepare('SELECT count(*) FROM lifecycle_rechecks WHERE due_ms <= ?').pluck().get(Date.now()) as number);
        } catch {
          // No lifecycle table yet, or a failing store: leave the gauge as it was.
        }
      },
    });
    const residentGauge = (field: 'entries' | 'bytes' | 'dirty' | 'complete', help: string) =>
      new Gauge({
        name: `tether_state_resident_${field}`,
        help,
        labelNames: ['replica'],
        registers,
        collect() {
          if (!self.store?.isOpen || self.store.failed !== undefined) return;
          for (const r of self.store.residentStats()) this.set({ replica: r.name }, Number(r[field]));
        },
      });
    this.resident = {
      entries: residentGauge('entries', 'Entries held in each resident (off-heap) replica of decision records'),
      bytes: residentGauge('bytes', 'Bytes of memory reserved by each resident replica (TETHER_RESIDENT_MEMORY bounds their sum)'),
      dirty: residentGauge('dirty', 'Keys of each resident replica written and not yet re-read (served from SQLite meanwhile)'),
      complete: residentGauge('complete', '1 once a resident replica holds every record (0 while filling, or when memory ran out)'),
    };
  }

  /** Makes record counts and source freshness come from this store at scrape time. */
  attachStore(store: StateStore): void {
    this.store = store;
  }

  /** Records one decision: latency histogram per action, counter per reason ("none" when plainly allowed). */
  observeDecision(action: string, allow: boolean, reasons: readonly string[], seconds: number): void {
    this.decisionDuration.observe({ action }, seconds);
    const a = allow ? 'true' : 'false';
    if (reasons.length === 0) this.decisions.inc({ action, allow: a, reason: 'none' });
    else for (const reason of reasons) this.decisions.inc({ action, allow: a, reason });
  }

  /** Overrides the records-per-kind gauge (for backends without cheap counts). */
  setRecordsPerKind(counts: Record<string, number>): void {
    for (const [kind, n] of Object.entries(counts)) this.records.set({ kind }, n);
  }

  /** Sets identities per lifecycle state (states absent from `counts` are set to 0 if previously seen). */
  setLifecycleStates(counts: Record<string, number>): void {
    this.lifecycleStates.reset();
    for (const [state, n] of Object.entries(counts)) this.lifecycleStates.set({ state }, n);
  }

  /** Marks `revision` as the loaded policy revision and counts a successful load. */
  setPolicyRevision(revision: string): void {
    this.policyRevision.reset();
    this.policyRevision.set({ revision }, 1);
    this.policyReloads.inc({ result: 'ok' });
  }

  /** Counts a failed policy reload (the old policy keeps serving). */
  policyReloadFailed(): void {
    this.policyReloadFailures.inc();
    this.policyReloads.inc({ result: 'failed' });
  }

  /** Sets the outbox depth gauge. */
  setOutboxDepth(depth: number): void {
    this.outboxDepth.set(depth);
  }

  /** Counts one failed delivery attempt to `subscriber`. */
  outboxDeliveryFailed(subscriber: string): void {
    this.outboxDeliveryFailures.inc({ subscriber });
  }

  /** Counts one delivered event. */
  outboxEventDelivered(event: string): void {
    this.outboxDelivered.inc({ event });
  }

  /** Counts decision-log entries dropped: allows when the buffer is full; denies and break-glass only past its hard cap (a failed sink). */
  decisionLogDrop(count = 1, allow = true): void {
    this.decisionLogDropped.inc({ allow: allow ? 'true' : 'false' }, count);
  }

  /** Sets the decision-log buffer gauge. */
  setDecisionLogBuffered(n: number): void {
    this.decisionLogBuffered.set(n);
  }

  /** Zeroes the per-request series (decisions, their durations, HTTP requests): serve() calls it after its warm-up. */
  resetRequestCounts(): void {
    this.decisions.reset();
    this.decisionDuration.reset();
    this.httpRequests.reset();
  }

  /** Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
