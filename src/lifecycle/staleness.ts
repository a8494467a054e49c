// Revocation by the passage of time (decision-model §4, policies/README choice 17): an enrolled,
// compliant device of an active identity whose last check-in (observed_at) ages past the maximum age
// of a sensitivity level (data.config.max_age_ns) stops granting that level, and Tether says so with
// a `revocation` event `device_state_stale` per level crossed — among the levels the device could
// grant (its ownership class's limit; high only if encrypted), and not for service or break-glass
// owners, whom no device rule covers. No write announces it: the owner's
// recheck deadline (rechecks.ts nextChangeMs: observed_at + every max age) is what finds it.
//
// Which crossings are reported. The crossing of level L by device d with observed_at o is the first
// whole ms T at which the policy sees d stale for L (`crossingMs(o, max_age[L])`, the instant the
// owner's recheck is due). It is reported, once, when
//   - at T Tether held d with that observed_at, enrolled, compliant and bound to its owner, and the
//     owner was active under the current max ages: T is later than the write that stored the current
//     version of d (its updated_at), than the start of the owner's current status (status_since),
//     and than the moment Tether first saw the current max ages, ownership limits and hard-gated
//     tiers (lifecycle_meta `stale_levels`: neither a change of them nor the first start of this
//     code over an existing store reports crossings from before it). A change of the owner's type
//     or risk tier settles its devices' crossings up to then, a deletion settles them for good. So a bulk import of an already-old device reports nothing
//     for the thresholds it had crossed before it was written; thresholds it crosses later are.
//   - and it still holds when Tether processes it (the owner's recheck at T, or later if Tether was
//     down or busy): the device has the same observed_at and still grants. A device that checked in
//     (newer observed_at) meanwhile resets it; one that was deleted, unenrolled, made non-compliant
//     or given to someone else already had its own revocation event for that write.
// A write that replaces a granting version with one of the same observed_at (a re-sync, an edit
// of another field) would hide a crossing that happened before it but was not processed yet
// (Tether down across T, or its rechecks held back by a bulk import): that crossing is settled
// in the write's transaction, using the replaced version. The gate is arithmetic on the records the
// write already holds (a crossing between the replaced version's updated_at and now), so a bulk
// import does no extra statement for records that did not cross a threshold since their last write.
//
// Exactly once: lifecycle_stale_devices holds, per device, the observed_at (ms) and the instant up to
// which its crossings were settled (through_ms), written in the same transaction as the events (a
// recheck, or the write above). Crossings at or before through_ms are never reported again; a
// different observed_at starts over. A row is written only when a crossing is reported (devices
// that check in regularly never get one); a device's row is dropped when the device is deleted.
import type Database from 'better-sqlite3';
import { toNs, type PolicyInput } from '../engine/decision-input';
import type { StateStore } from '../state/store';
import type { Device, Identity } from '../state/types';
import { makeEvent, type Outbox } from './outbox';
import { applyRecheckSchema, crossingMs, LEVEL_RANK, type LifecycleThresholds } from './rechecks';

/** The reason code of a staleness revocation (the policies' own reason for a stale device). */
export const STALE_REASON = 'device_state_stale';
const EPOCH_KEY = 'stale_levels';

/** Creates the staleness table (idempotent). */
export function applyStalenessSchema(db: Database.Database): void {
  applyRecheckSchema(db); // lifecycle_meta
  db.exec(`
    CREATE TABLE IF NOT EXISTS lifecycle_stale_devices (
      device TEXT PRIMARY KEY,
      observed_ms INTEGER NOT NULL,
      through_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
  `);
}

/** One level's crossing for one observed_at. */
interface Crossing {
  level: string;
  ageNs: number;
  /** First whole ms at which the policy sees the device stale for this level. */
  atMs: number;
}

/** Options of DeviceStaleness. */
export interface DeviceStalenessOptions {
  store: StateStore;
  outbox: Outbox;
  thresholds: () => LifecycleThresholds | undefined;
  /** When an identity's current status began (RFC 3339), as the tracker keeps it. */
  statusSince: (identity: string) => string | undefined;
}

const granting = (d: Device | undefined): d is Device & { observed_at: string } =>
  !!d && d.enrolled === true && d.compliant === true && d.owner_resolved === true && typeof d.observed_at === 'string';

// Service and break-glass identities pass no device rule (policies/README choice 11): their devices'
// age removes no access.
const deviceBound = (identity: Identity): boolean => identity.type !== 'service' && identity.type !== 'break_glass';

/**
 * Whether the device could ever grant `level` to its owner (device.rego): within its ownership class's
 * limit, and encrypted for high; an owner of a hard-gated risk tier is gated at high for every app, so
 * only high counts for them. A byod device (limit low) crossing the high and moderate max ages loses
 * nothing. Levels or classes outside the policies' known order are kept (a superset is the safe side).
 */
function reachable(device: Device, owner: Identity, level: string, th: LifecycleThresholds): boolean {
  if (level !== 'high' && th.hardGateTiers.includes(owner.risk_tier)) return false;
  const rank = LEVEL_RANK[level];
  const limit = LEVEL_RANK[th.ownershipLimits[device.ownership] ?? ''];
  if (rank !== undefined && limit !== undefined && rank > limit) return false;
  return !(level === 'high' && device.encrypted !== true);
}

/** Finds and reports devices going stale, exactly once per (device, observed_at, level). */
export class DeviceStaleness {
  private readonly store: StateStore;
  private readonly outbox: Outbox;
  private readonly thresholds: () => LifecycleThresholds | undefined;
  private readonly statusSince: (identity: string) => string | undefined;
  private readonly st: Record<'get' | 'set' | 'remove' | 'getMeta' | 'setMeta', Database.Statement>;
  /** The committed epoch of the current max ages. */
  private epoch?: { levels: string; sinceMs: number };
  /** Max ages whose epoch this process wrote in a transaction not known to be committed yet. */
  private uncommitted?: string;
  private lastLevels?: { th: LifecycleThresholds; key: string };
  /**
   * Every crossing at or before this instant was processed (this process saw the recheck queue with
   * nothing due at this time: each crossing's owner is due at its crossing, so it was re-derived by
   * then). Bounds what rechecks and writes look at, so routine work reads no rows for old crossings.
   * In memory: after a start, -Infinity until the overdue rechecks are drained. Ignored while it is
   * ahead of the clock (stepped back: check-ins since may cross again before it).
   */
  private drainedMs = -Infinity;

  private drainedBy(nowMs: number): number {
    return this.drainedMs <= nowMs ? this.drainedMs : -Infinity;
  }

  constructor(opts: DeviceStalenessOptions) {
    this.store = opts.store;
    this.outbox = opts.outbox;
    this.thresholds = opts.thresholds;
    this.statusSince = opts.statusSince;
    const db = opts.store.db;
    applyStalenessSchema(db);
    this.st = {
      get: db.prepare('SELECT observed_ms, through_ms FROM lifecycle_stale_devices WHERE device = ?'),
      set: db.prepare('INSERT INTO lifecycle_stale_devices (device, observed_ms, through_ms) VALUES (?, ?, ?) ON CONFLICT (device) DO UPDATE SET observed_ms = excluded.observed_ms, through_ms = excluded.through_ms'),
      remove: db.prepare('DELETE FROM lifecycle_stale_devices WHERE device = ?'),
      getMeta: db.prepare('SELECT value FROM lifecycle_meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO lifecycle_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /**
   * Since when the current max ages are in force (ms): stored the first time they are seen, so a
   * change of data.config.max_age_ns (or the first start over an existing store) reports no crossing
   * from before it. Undefined without thresholds.
   */
  epochMs(nowMs: number, th = this.thresholds()): number | undefined {
    if (!th || th.levels.length === 0) return undefined;
    const levels = this.levelsKey(th);
    if (this.epoch?.levels === levels) return this.epoch.sinceMs;
    const raw = this.st.getMeta.get(EPOCH_KEY) as string | undefined;
    let sinceMs: number | undefined;
    try {
      const stored = raw ? (JSON.parse(raw) as { levels?: unknown; since_ms?: unknown }) : undefined;
      if (stored && JSON.stringify(stored.levels) === levels && typeof stored.since_ms === 'number') sinceMs = stored.since_ms;
    } catch {
      /* unreadable: start over */
    }
    if (sinceMs === undefined) {
      sinceMs = nowMs;
      this.st.setMeta.run(EPOCH_KEY, JSON.stringify({ levels: JSON.parse(levels), since_ms: sinceMs }));
      // Written inside a transaction, it may still roll back: remember it only once read back committed.
      if (this.store.db.inTransaction) {
        this.uncommitted = levels;
        return sinceMs;
      }
    } else if (this.store.db.inTransaction && this.uncommitted === levels) return sinceMs;
    this.uncommitted = undefined;
    this.epoch = { levels, sinceMs };
    return sinceMs;
  }

  // Everything that decides which crossings count: max ages, ownership limits, hard-gated tiers. A
  // change of any starts a new epoch, so crossings judged under the old values are never reported.
  private levelsKey(th: LifecycleThresholds): string {
    if (this.lastLevels?.th !== th) {
      const limits = Object.entries(th.ownershipLimits).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.lastLevels = { th, key: JSON.stringify([th.levels.map((l) => [l.level, l.ageNs]), limits, [...th.hardGateTiers].sort()]) };
    }
    return this.lastLevels.key;
  }

  /**
   * Reports the crossings of an identity's devices that are due (call inside the recheck's
   * transaction, with the lifecycle input the recheck evaluated). Returns the number of events.
   */
  /** The recheck queue had nothing due at `ms` (LifecycleService.recheckDue). */
  drainedThrough(ms: number): void {
    this.drainedMs = ms;
  }

  onRefresh(identity: Identity, input: PolicyInput, nowMs: number): number {
    const th = this.thresholds();
    const epoch = this.epochMs(nowMs, th);
    if (!th || epoch === undefined || identity.status !== 'active' || !deviceBound(identity)) return 0;
    const sinceNs = input.subject?.status_since_ns;
    const lower = Math.max(epoch, this.drainedBy(nowMs), typeof sinceNs === 'number' ? sinceNs / 1e6 : -Infinity);
    // The input already holds every owned device: read the records (for updated_at) only when one of
    // them crossed a threshold since the lower bound.
    let candidates: Set<string> | undefined;
    for (const d of input.owned_devices) {
      if (d.enrolled !== true || d.compliant !== true || typeof d.observed_at_ns !== 'number') continue;
      if (crossings(d.observed_at_ns, th).some((c) => c.atMs > lower && c.atMs <= nowMs)) (candidates ??= new Set()).add(d.id);
    }
    if (!candidates) return 0;
    let n = 0;
    for (const d of this.store.listDevicesByOwner(identity.id)) {
      if (!candidates.has(d.id) || !granting(d) || d.owner !== identity.id) continue;
      n += this.settle(identity, d, Math.max(lower, Date.parse(d.updated_at)), nowMs);
    }
    return n;
  }

  /**
   * A device write (call inside its transaction): a deleted device's row goes; a granting version
   * replaced by one with the same observed_at and owner settles the crossings it had passed but
   * that were not processed yet (they would be hidden behind the new version's updated_at).
   */
  onDeviceWrite(before: Device | undefined, after: Device | undefined, nowMs: number): void {
    if (!before) return;
    if (!after) {
      this.st.remove.run(before.id);
      return;
    }
    // Cheapest tests first: this runs for every update of a bulk import.
    if (!granting(before) || !granting(after) || before.owner !== after.owner) return;
    if (before.observed_at !== after.observed_at && toNs(before.observed_at) !== toNs(after.observed_at)) return; // a check-in
    const th = this.thresholds();
    const oNs = toNs(before.observed_at);
    if (!th || th.levels.length === 0 || oNs === null) return;
    // Arithmetic gate: a crossing of the replaced version after it was written and not after now.
    if (crossingMs(oNs, th.levels[0].ageNs) > nowMs) return; // not even the shortest max age is reached
    const writtenMs = Date.parse(before.updated_at);
    const from = Math.max(writtenMs, this.drainedBy(nowMs));
    const passed = crossings(oNs, th).filter((c) => c.atMs > from && c.atMs <= nowMs);
    if (passed.length === 0) return;
    // Usually the recheck at the crossing reported it already: one point read says so.
    const row = this.row(before.id, oNs / 1e6);
    if (row !== undefined && passed.every((c) => c.atMs <= row)) return;
    const owner = this.store.getIdentity(before.owner);
    if (!owner || owner.id !== before.owner || owner.status !== 'active' || !deviceBound(owner)) return;
    const epoch = this.epochMs(nowMs, th);
    if (epoch === undefined) return;
    const since = Date.parse(this.statusSince(owner.id) ?? '');
    this.settle(owner, before, Math.max(epoch, from, Number.isFinite(since) ? since : -Infinity), nowMs, row ?? null);
  }

  /**
   * An identity write (call inside its transaction). When the identity is deleted, or its type or risk
   * tier changes, what its devices grant changes without their records changing: the crossings of
   * their current check-ins up to now (for a deletion: for good, as a re-created identity would
   * otherwise be judged from an old status start) are marked settled, so none judged under the
   * identity's old form is reported later. Rare writes; creations and re-syncs return at once.
   */
  onIdentityWrite(before: Identity | undefined, after: Identity | undefined, nowMs: number): void {
    if (!before || (after && after.type === before.type && after.risk_tier === before.risk_tier)) return;
    const through = after ? nowMs : Number.MAX_SAFE_INTEGER;
    for (const d of this.store.listDevicesByOwner(before.id)) {
      const oNs = granting(d) ? toNs(d.observed_at) : null;
      if (oNs === null) continue;
      const settled = this.row(d.id, oNs / 1e6);
      if (settled === undefined || settled < through) this.st.set.run(d.id, oNs / 1e6, through);
    }
  }

  /** Up to when the crossings of (device, observed_at) were settled, if any were. */
  private row(device: string, observedMs: number): number | undefined {
    const r = this.st.get.get(device) as { observed_ms: number; through_ms: number } | undefined;
    return r && r.observed_ms === observedMs ? r.through_ms : undefined;
  }

  /**
   * Reports the crossings of `device` in (lowerMs, nowMs] not settled yet; records them settled.
   * `settled`: its row's through_ms as the caller already read it (null: none; undefined: read it).
   */
  private settle(owner: Identity, device: Device & { observed_at: string }, lowerMs: number, nowMs: number, settled?: number | null): number {
    const th = this.thresholds();
    const oNs = toNs(device.observed_at);
    if (!th || oNs === null) return 0;
    const all = crossings(oNs, th).filter((c) => reachable(device, owner, c.level, th));
    let due = all.filter((c) => c.atMs > lowerMs && c.atMs <= nowMs);
    if (due.length === 0) return 0;
    const oMs = oNs / 1e6;
    const through = settled === undefined ? this.row(device.id, oMs) : settled;
    if (through !== undefined && through !== null) due = due.filter((c) => c.atMs > through);
    if (due.length === 0) return 0;
    this.st.set.run(device.id, oMs, nowMs);
    const time = new Date(nowMs);
    due.forEach((c, i) => {
      // What the device still satisfies right after this crossing (levels whose own crossing is later).
      // Most sensitive first (max ages need not follow the sensitivity order).
      const fresh = all.filter((x) => x.atMs > c.atMs).map((x) => x.level).sort((a, b) => (LEVEL_RANK[b] ?? 0) - (LEVEL_RANK[a] ?? 0));
      this.outbox.enqueue(
        makeEvent('revocation', owner.id, [STALE_REASON], {
          record: { kind: 'device', id: device.id },
          device: device.id,
          device_was_compliant: true,
          sensitivity: c.level,
          max_age_seconds: c.ageNs / 1e9,
          observed_at: device.observed_at,
          stale_at: new Date(oMs + c.ageNs / 1e6).toISOString(),
          fresh_for: fresh,
          max_sensitivity: fresh[0] ?? null,
          // Exactly one event per (device, observed_at) says no level is left (the CAEP trigger).
          stale_everywhere: fresh.length === 0 && i === due.length - 1,
        }, time),
      );
    });
    return due.length;
  }
}

/** Every level's crossing for an observed_at (ns), most sensitive (shortest max age) first. */
function crossings(observedNs: number, th: LifecycleThresholds): Crossing[] {
  return th.levels.map((l) => ({ level: l.level, ageNs: l.ageNs, atMs: crossingMs(observedNs, l.ageNs) }));
}
