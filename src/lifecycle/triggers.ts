// Revocation triggers of decision-model §4: which state changes remove access. Pure functions over
// the store's ChangeEvent (an app write also over the shipped data.apps entry it overrides or reverts
// to), plus the deadline table that turns exception / break-glass expiry (which no write announces)
// into triggers when a timer sweep finds them due. The enrollment grace ending is found by the
// lifecycle recheck at the grace deadline (tracker.ts), device staleness by staleness.ts.
import type Database from 'better-sqlite3';
import type { ChangeEvent, Ownership, RiskTier, Sensitivity } from '../state/types';

/** One access-removing change, before it becomes an event. */
export interface Trigger {
  identity: string | null;
  reasons: string[];
  /** The record that changed: {kind, id}. */
  record: { kind: string; id: string };
  [field: string]: unknown;
}

const OWNERSHIP_RANK: Record<Ownership, number> = { corporate: 3, contractor: 2, byod: 1 };
const TIER_RANK: Record<RiskTier, number> = { standard: 1, high: 2, privileged: 3 };
const SENSITIVITY_RANK: Record<Sensitivity, number> = { low: 1, moderate: 2, high: 3 };

/** What of a catalog entry decides access (a stored App or a shipped data.apps entry). */
interface AppTerms {
  sensitivity?: unknown;
  admin?: unknown;
  allow_service?: unknown;
}

/**
 * How strict an app is, as device.rego reads it: admin counts as high, a missing sensitivity as high
 * (fail closed), a sensitivity outside the known order above high (it grants no device access).
 */
function appRank(a: AppTerms): number {
  if (a.admin === true || a.sensitivity === undefined) return SENSITIVITY_RANK.high;
  const s = a.sensitivity;
  return typeof s === 'string' && Object.hasOwn(SENSITIVITY_RANK, s) ? SENSITIVITY_RANK[s as Sensitivity] : SENSITIVITY_RANK.high + 1;
}

/** The shipped entry of app `id` in the policies' base data (data.json `apps`, without stored apps), if any. */
export function shippedApp(policyData: unknown, id: string): AppTerms | undefined {
  const apps = (policyData as { apps?: unknown } | null | undefined)?.apps;
  if (!apps || typeof apps !== 'object' || Array.isArray(apps) || !Object.hasOwn(apps, id)) return undefined;
  const entry = (apps as Record<string, unknown>)[id];
  return entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? (entry as AppTerms) : undefined;
}

/**
 * The revocation triggers of one write (empty when it removes no access). `nowMs` judges "still
 * open"; `policyData` is the policies' base data document (data.json, without stored apps), whose
 * `apps` a stored app overrides: without it, only stored apps are compared.
 */
export function revocationTriggers(change: ChangeEvent, nowMs: number, policyData?: unknown): Trigger[] {
  switch (change.kind) {
    case 'identity': {
      const { before, after } = change;
      if (!before) return [];
      const id = before.id;
      if (!after) return [{ identity: id, reasons: ['identity_deleted'], record: { kind: 'identity', id }, status: null }];
      const reasons: string[] = [];
      if (before.status === 'active' && after.status !== 'active') reasons.push('identity_not_active');
      if (TIER_RANK[after.risk_tier] > TIER_RANK[before.risk_tier]) reasons.push('identity_risk_raised');
      if (before.type !== after.type) reasons.push('identity_type_changed');
      return reasons.length ? [{ identity: id, reasons, record: { kind: 'identity', id }, status: after.status }] : [];
    }
    case 'device': {
      const { before, after } = change;
      if (!before) return [];
      const owner = before.owner_resolved ? before.owner : null;
      const record = { kind: 'device', id: before.id };
      // device_was_compliant: what the device's revocation took away (CAEP's previous_status, set-builder.ts).
      const was = { device: before.id, device_was_compliant: before.compliant };
      if (!after) return [{ identity: owner, reasons: ['device_deleted'], record, ...was }];
      const reasons: string[] = [];
      // A device bound to its owner only now (it named an identity that did not exist yet) gave no one access.
      if (before.owner_resolved && before.owner !== after.owner) reasons.push('device_owner_changed');
      if (before.enrolled && !after.enrolled) reasons.push('device_not_enrolled');
      if (before.compliant && !after.compliant) reasons.push('device_not_compliant');
      if (before.encrypted && !after.encrypted) reasons.push('device_not_encrypted');
      if ((OWNERSHIP_RANK[after.ownership] ?? 0) < (OWNERSHIP_RANK[before.ownership] ?? 0)) reasons.push('device_ownership_changed');
      return reasons.length ? [{ identity: owner, reasons, record, ...was }] : [];
    }
    case 'exception': {
      const { before, after } = change;
      // Deleting a still-valid exception ends it; expiry is found by the deadline sweep.
      if (before && !after && Date.parse(before.expires_at) > nowMs)
        return [{ identity: before.identity, reasons: ['exception_ended'], record: { kind: 'exception', id: before.id }, exception: before.id }];
      return [];
    }
    case 'break_glass': {
      const { before, after } = change;
      const wasOpen = before && Date.parse(before.expires_at) > nowMs;
      const isOpen = after && Date.parse(after.expires_at) > nowMs;
      if (wasOpen && !isOpen)
        return [{ identity: before.identity, reasons: ['break_glass_ended'], record: { kind: 'break_glass', id: before.identity } }];
      return [];
    }
    case 'app': {
      // The effective app on each side: the stored record, else the policies' shipped entry of the
      // same id (a stored app replaces it, choice 15). Storing over a shipped entry, or deleting a
      // stored app that overrode one (the shipped entry applies again), is judged against it.
      const shipped = shippedApp(policyData, change.id);
      const before = change.before ?? shipped;
      const after = change.after ?? shipped;
      if (!before) return [];
      const reasons: string[] = [];
      if (!after) reasons.push('app_deleted');
      else {
        if (appRank(after) > appRank(before)) reasons.push('app_sensitivity_raised');
        if (before.allow_service === true && after.allow_service !== true) reasons.push('app_service_disallowed');
      }
      return reasons.length ? [{ identity: null, reasons, record: { kind: 'app', id: change.id }, app: change.id }] : [];
    }
    default:
      return [];
  }
}

/** A stored expiry that will become a trigger when due. */
export interface Deadline {
  kind: 'exception' | 'break_glass';
  id: string;
  identity: string;
  expires_at: number;
}

/** Creates the deadline table (idempotent). */
export function applyDeadlineSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS lifecycle_deadlines (
      kind TEXT NOT NULL,
      id TEXT NOT NULL,
      identity TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (kind, id)
    );
    CREATE INDEX IF NOT EXISTS lifecycle_deadlines_due ON lifecycle_deadlines (expires_at);
  `);
}

/** Keeps lifecycle_deadlines in step with exceptions and break-glass windows (call inside the write's transaction). */
export class Deadlines {
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly due: Database.Statement;

  constructor(db: Database.Database) {
    applyDeadlineSchema(db);
    this.upsert = db.prepare('INSERT INTO lifecycle_deadlines (kind, id, identity, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET identity = excluded.identity, expires_at = excluded.expires_at');
    this.remove = db.prepare('DELETE FROM lifecycle_deadlines WHERE kind = ? AND id = ?');
    this.due = db.prepare('SELECT kind, id, identity, expires_at FROM lifecycle_deadlines WHERE expires_at <= ? ORDER BY expires_at LIMIT 1000');
  }

  /** Records or clears the deadline a change implies. */
  track(change: ChangeEvent, nowMs: number): void {
    if (change.kind === 'exception') {
      const e = change.after;
      if (e && Date.parse(e.expires_at) > nowMs) this.upsert.run('exception', e.id, e.identity, Date.parse(e.expires_at));
      else this.remove.run('exception', change.id);
    } else if (change.kind === 'break_glass') {
      const b = change.after;
      const id = b?.identity ?? change.before?.identity ?? change.id;
      if (b && Date.parse(b.expires_at) > nowMs) this.upsert.run('break_glass', id, b.identity, Date.parse(b.expires_at));
      else this.remove.run('break_glass', id);
    }
  }

  /** Deadlines due at `nowMs`. */
  dueAt(nowMs: number): Deadline[] {
    return this.due.all(nowMs) as Deadline[];
  }

  /** Forgets one deadline (after its trigger was queued). */
  done(d: Deadline): void {
    this.remove.run(d.kind, d.id);
  }
}
