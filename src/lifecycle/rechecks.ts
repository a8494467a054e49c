// Deadline-driven lifecycle rechecks: for each identity, the next instant at which its lifecycle
// state could change by time alone (computed from the same input the Rego evaluated and the
// thresholds in data.config), kept in SQLite (lifecycle_rechecks, indexed on due_ms) so a timer
// re-derives only identities whose deadline passed, instead of sweeping everyone.
import type Database from 'better-sqlite3';
import type { PolicyInput } from '../engine/decision-input';

/** The time thresholds of data.config the lifecycle policies compare against (ns). */
export interface LifecycleThresholds {
  enrollmentGraceNs: number;
  provisionedToleranceNs: number;
  /** Every value of data.config.max_age_ns (all sensitivity levels: a superset is always safe). */
  maxAgesNs: number[];
  /**
   * Every level of data.config.max_age_ns with its max age, most sensitive first (shortest max age;
   * ties: high, moderate, low, then by name). Staleness revocations are reported per level (staleness.ts).
   */
  levels: Array<{ level: string; ageNs: number }>;
  /** data.config.ownership_limits: the most sensitive level each ownership class may reach. */
  ownershipLimits: Record<string, string>;
  /** data.config.hard_gate_tiers: risk tiers whose every decision is gated at high. */
  hardGateTiers: string[];
}

/** The policies' sensitivity order (device.rego `rank`). */
export const LEVEL_RANK: Record<string, number> = { high: 3, moderate: 2, low: 1 };

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The thresholds from a policy data document (data.json: `{config: {...}}`), or undefined when
 * data.config lacks one of them (then no deadline can be computed; only the safety sweep helps).
 */
export function thresholdsFrom(data: unknown): LifecycleThresholds | undefined {
  const config = (data as { config?: Record<string, unknown> } | undefined)?.config;
  if (!config || typeof config !== 'object') return undefined;
  const grace = config.enrollment_grace_ns;
  const tolerance = config.provisioned_tolerance_ns;
  const ages = config.max_age_ns;
  if (!num(grace) || !num(tolerance) || !ages || typeof ages !== 'object') return undefined;
  const maxAgesNs = Object.values(ages as Record<string, unknown>).filter(num);
  const levels = Object.entries(ages as Record<string, unknown>)
    .filter((e): e is [string, number] => num(e[1]))
    .map(([level, ageNs]) => ({ level, ageNs }))
    .sort((a, b) => a.ageNs - b.ageNs || (LEVEL_RANK[b.level] ?? 0) - (LEVEL_RANK[a.level] ?? 0) || (a.level < b.level ? -1 : a.level > b.level ? 1 : 0));
  const limits = config.ownership_limits;
  const ownershipLimits = Object.fromEntries(
    Object.entries(limits && typeof limits === 'object' ? (limits as Record<string, unknown>) : {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  const tiers = config.hard_gate_tiers;
  const hardGateTiers = Array.isArray(tiers) ? tiers.filter((t): t is string => typeof t === 'string') : [];
  return { enrollmentGraceNs: grace, provisionedToleranceNs: tolerance, maxAgesNs: [...new Set(maxAgesNs)].sort((a, b) => a - b), levels, ownershipLimits, hardGateTiers };
}

/**
 * The first whole ms at which `now_ns - base_ns > threshold_ns` holds. The policies compare
 * `<=`/`>` on float nanoseconds; one extra ms keeps us strictly past the boundary despite rounding
 * (a recheck that came too early would see the old state and never be rescheduled for it).
 */
export const crossingMs = (baseNs: number, thresholdNs: number): number => Math.ceil(baseNs / 1e6 + thresholdNs / 1e6) + 1;

/**
 * The earliest instant (ms) after `nowMs` at which a time comparison of data.tether.lifecycle could
 * flip for this input, or null when none can: enrollment grace end (activated_at + grace, while
 * active: lifecycle.rego reads in_grace only for active identities), provisioned tolerance end
 * (status_since + tolerance, while provisioned: past_tolerance is only read then; this keeps a bulk
 * import of active identities from all coming due together 3 days later), and each owned device's
 * observed_at + every max age (all levels: a superset is always safe). A status change is a write,
 * which rechecks at once. Exception and break-glass expiries do not enter the lifecycle input
 * (their revocations are the expiry deadlines of triggers.ts).
 */
export function nextChangeMs(input: PolicyInput, th: LifecycleThresholds, nowMs: number): number | null {
  let next = Infinity;
  const consider = (baseNs: number | null | undefined, thresholdNs: number) => {
    if (!num(baseNs)) return;
    const at = crossingMs(baseNs, thresholdNs);
    if (at > nowMs && at < next) next = at;
  };
  const s = input.subject;
  if (s?.status === 'active') consider(s.activated_at_ns, th.enrollmentGraceNs);
  if (s?.status === 'provisioned') consider(s.status_since_ns, th.provisionedToleranceNs);
  for (const d of input.owned_devices) for (const age of th.maxAgesNs) consider(d.observed_at_ns, age);
  return next === Infinity ? null : next;
}

/** Creates the recheck and meta tables (idempotent). */
export function applyRecheckSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS lifecycle_rechecks (
      identity TEXT PRIMARY KEY,
      due_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS lifecycle_rechecks_due ON lifecycle_rechecks (due_ms);
    CREATE TABLE IF NOT EXISTS lifecycle_meta (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
  `);
}

/** The durable queue of identity rechecks (writes belong inside the caller's transaction). */
export class Rechecks {
  private readonly st: Record<'set' | 'mark' | 'remove' | 'get' | 'due' | 'count' | 'getMeta' | 'setMeta', Database.Statement>;
  // Identities marked in the current transaction, with the due time each row is known to be at or
  // before: a bulk import marks each owner once per device, and all but the first are no-ops that still
  // cost a statement. Valid while the store's writeEpoch stays the same (no rollback, same transaction).
  private readonly marked = new Map<string, number>();
  private markedEpoch = -1;

  /** `epoch`: the store's writeEpoch (without it every mark runs its statement). */
  constructor(db: Database.Database, private readonly epoch?: () => number) {
    applyRecheckSchema(db);
    this.st = {
      set: db.prepare('INSERT INTO lifecycle_rechecks (identity, due_ms) VALUES (?, ?) ON CONFLICT (identity) DO UPDATE SET due_ms = excluded.due_ms'),
      // A write asks for a recheck now; an earlier pending deadline is kept (and then nothing is
      // written: bulk imports mark the same owner once per device).
      mark: db.prepare('INSERT INTO lifecycle_rechecks (identity, due_ms) VALUES (?, ?) ON CONFLICT (identity) DO UPDATE SET due_ms = excluded.due_ms WHERE excluded.due_ms < lifecycle_rechecks.due_ms'),
      remove: db.prepare('DELETE FROM lifecycle_rechecks WHERE identity = ?'),
      get: db.prepare('SELECT due_ms FROM lifecycle_rechecks WHERE identity = ?').pluck(),
      due: db.prepare('SELECT identity FROM lifecycle_rechecks WHERE due_ms <= ? ORDER BY due_ms LIMIT ?').pluck(),
      count: db.prepare('SELECT count(*) FROM lifecycle_rechecks WHERE due_ms <= ?').pluck(),
      getMeta: db.prepare('SELECT value FROM lifecycle_meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO lifecycle_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Sets (or, with null, clears) the identity's next deadline. */
  set(identity: string, dueMs: number | null): void {
    this.marked.delete(identity);
    if (dueMs === null) this.st.remove.run(identity);
    else this.st.set.run(identity, dueMs);
  }

  /** Asks for a recheck of the identity at `dueMs` or earlier (a write touched it). */
  mark(identity: string, dueMs: number): void {
    const epoch = this.epoch?.();
    if (epoch !== undefined) {
      if (epoch !== this.markedEpoch) {
        this.marked.clear();
        this.markedEpoch = epoch;
      }
      const known = this.marked.get(identity);
      if (known !== undefined && known <= dueMs) return;
    }
    this.st.mark.run(identity, dueMs);
    if (epoch !== undefined) this.marked.set(identity, dueMs);
  }

  /** Forgets the identity (deleted). */
  remove(identity: string): void {
    this.marked.delete(identity);
    this.st.remove.run(identity);
  }

  /** The identity's pending deadline (ms), if any. */
  get(identity: string): number | undefined {
    return this.st.get.get(identity) as number | undefined;
  }

  /** Up to `limit` identities due at `nowMs`, earliest first. */
  due(nowMs: number, limit: number): string[] {
    return this.st.due.all(nowMs, limit) as string[];
  }

  /** How many identities are due at `nowMs` (O(due) through the index). */
  dueCount(nowMs: number): number {
    return this.st.count.get(nowMs) as number;
  }

  /** A value of lifecycle_meta. */
  meta(key: string): string | undefined {
    return this.st.getMeta.get(key) as string | undefined;
  }

  /** Sets a value of lifecycle_meta. */
  setMeta(key: string, value: string): void {
    this.st.setMeta.run(key, value);
  }
}
