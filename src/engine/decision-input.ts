// Composes the policy input of data.tether.decision (policies/README.md "Input") from a /v1/decide
// body and the state store, and the policy data document (data.json + apps stored via PUT /v1/apps).
// Timestamps become integer nanoseconds so policies never read the clock and answers are replayable.
import type { StateStore } from '../state/store';
import type { App, BreakGlass, Device, Exception, Identity } from '../state/types';

/** The /v1/decide request body (api.md "Decisions"). */
export interface DecideBody {
  action: string;
  subject: string;
  device?: string | null;
  resource?: { app?: string | null; [k: string]: unknown };
  context?: Record<string, unknown>;
}

/** A device as the policies see it. */
export interface PolicyDevice {
  id: string;
  owner: string;
  enrolled: boolean;
  compliant: boolean;
  encrypted: boolean;
  ownership: string;
  platform?: string;
  os_version?: string;
  source?: string;
  observed_at?: string;
  observed_at_ns: number | null;
}

/** The subject identity as the policies see it. */
export interface PolicySubject {
  id: string;
  status: string;
  type: string;
  risk_tier: string;
  proofed: boolean;
  aliases: string[];
  activated_at: string | null;
  activated_at_ns: number | null;
  /** When the current status began (for the provisioned tolerance of the lifecycle). */
  status_since_ns: number | null;
  source?: string;
  observed_at?: string;
  attributes?: Record<string, unknown>;
}

/** An exception as the policies see it. */
export interface PolicyException {
  id: string;
  identity: string;
  waives: string[];
  scope: { apps: string[]; max_sensitivity: string | null };
  reason: string;
  approved_by: string;
  created_at: string;
  expires_at: string;
  created_at_ns: number;
  expires_at_ns: number;
}

/** A break-glass window as the policies see it. */
export interface PolicyBreakGlass {
  identity: string;
  opened_at: string;
  expires_at: string;
  opened_at_ns: number;
  expires_at_ns: number;
  reason: string;
  approved_by: string;
}

/** The input document of every tether/* policy. */
export interface PolicyInput {
  action: string | null;
  subject: PolicySubject | null;
  /** The device id the request named (null when none). */
  device_id: string | null;
  device: PolicyDevice | null;
  owned_devices: PolicyDevice[];
  exceptions: PolicyException[];
  break_glass: PolicyBreakGlass | null;
  app: string | null;
  now_ns: number;
  now: string;
  context: Record<string, unknown>;
}

/** Options of composeInput. */
export interface ComposeOptions {
  /** Wall clock in ms since the epoch (decisions) — pass it so one batch shares one instant. */
  nowMs: number;
  /** When the identity's current status began (RFC 3339), if tracked (src/lifecycle/tracker.ts). */
  statusSince?: (identityId: string) => string | undefined;
}

/** RFC 3339 → integer nanoseconds since the epoch (null when absent or unparsable). */
export function toNs(ts: string | null | undefined): number | null {
  if (!ts) return null;
  const ms = Date.parse(ts);
  return Number.isFinite(ms) ? ms * 1e6 : null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A stored device → policy device. */
export function policyDevice(d: Device): PolicyDevice {
  // Plain assignments (same key order as the record) rather than conditional spreads: this runs for
  // every owned device of every decision, and each spread allocated a throwaway object.
  const out = { id: d.id, owner: d.owner, enrolled: d.enrolled, compliant: d.compliant, encrypted: d.encrypted, ownership: d.ownership } as PolicyDevice;
  if (d.platform !== undefined) out.platform = d.platform;
  if (d.os_version !== undefined) out.os_version = d.os_version;
  if (d.source !== undefined) out.source = d.source;
  if (d.observed_at !== undefined) out.observed_at = d.observed_at;
  // A device never synced with an observed_at has unknown freshness: null = stale in policy.
  out.observed_at_ns = toNs(d.observed_at);
  return out;
}

/** A stored identity → policy subject. */
export function policySubject(i: Identity, statusSince?: string): PolicySubject {
  // Status start: tracked transition time, else activated_at for active accounts, else when the
  // source observed the record, else when Tether stored it.
  const since = statusSince ?? (i.status === 'active' ? i.activated_at : null) ?? i.observed_at ?? i.updated_at;
  const out: PolicySubject = {
    id: i.id,
    status: i.status,
    type: i.type,
    risk_tier: i.risk_tier,
    proofed: i.proofed,
    aliases: i.aliases,
    activated_at: i.activated_at,
    activated_at_ns: toNs(i.activated_at),
    status_since_ns: toNs(since),
  };
  if (i.source !== undefined) out.source = i.source;
  if (i.observed_at !== undefined) out.observed_at = i.observed_at;
  if (i.attributes !== undefined) out.attributes = i.attributes;
  return out;
}

/** A stored exception → policy exception (scope normalized to {apps, max_sensitivity}). */
export function policyException(e: Exception): PolicyException {
  return {
    id: e.id,
    identity: e.identity,
    waives: e.waives,
    scope: { apps: e.scope?.apps ?? [], max_sensitivity: e.scope?.max_sensitivity ?? null },
    reason: e.reason,
    approved_by: e.approved_by,
    created_at: e.created_at,
    expires_at: e.expires_at,
    created_at_ns: toNs(e.created_at) ?? 0,
    expires_at_ns: toNs(e.expires_at) ?? 0,
  };
}

/** A stored break-glass window → policy window. */
export function policyBreakGlass(b: BreakGlass): PolicyBreakGlass {
  return {
    identity: b.identity,
    opened_at: b.opened_at,
    expires_at: b.expires_at,
    opened_at_ns: toNs(b.opened_at) ?? 0,
    expires_at_ns: toNs(b.expires_at) ?? 0,
    reason: b.reason,
    approved_by: b.approved_by,
  };
}

/**
 * The policy input for a decide-shaped body. Tolerates any shape (the OPA Data API passes raw
 * client input): a field of the wrong type is treated as absent, which the policies deny.
 * Throws StateUnavailableError when the store cannot be read (the decider fails closed).
 */
export function composeInput(store: StateStore, body: unknown, opts: ComposeOptions): PolicyInput {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const resource = (b.resource && typeof b.resource === 'object' ? b.resource : {}) as Record<string, unknown>;
  const subjectRef = str(b.subject);
  const deviceId = str(b.device);
  const identity = subjectRef ? store.getIdentity(subjectRef) : undefined;
  const subject = identity ? policySubject(identity, opts.statusSince?.(identity.id)) : null;
  const owned = identity ? store.listDevicesByOwner(identity.id) : [];
  // The requested device is usually one the subject owns: already read, no second lookup.
  const device = deviceId ? owned.find((d) => d.id === deviceId) ?? store.getDevice(deviceId) : undefined;
  const exceptions = identity ? store.listExceptions(identity.id) : [];
  const window = identity ? store.getBreakGlass(identity.id) : undefined;
  return {
    action: str(b.action),
    subject,
    device_id: deviceId,
    device: device ? policyDevice(device) : null,
    owned_devices: owned.map(policyDevice),
    exceptions: exceptions.map(policyException),
    break_glass: window ? policyBreakGlass(window) : null,
    app: str(resource.app) ?? str(b.app),
    now_ns: opts.nowMs * 1e6,
    now: new Date(opts.nowMs).toISOString(),
    context: (b.context && typeof b.context === 'object' ? b.context : {}) as Record<string, unknown>,
  };
}

/** The lifecycle input of one identity (no request: no device, no app). */
export function composeLifecycleInput(store: StateStore, identity: Identity, opts: ComposeOptions): PolicyInput {
  return {
    action: null,
    subject: policySubject(identity, opts.statusSince?.(identity.id)),
    device_id: null,
    device: null,
    owned_devices: store.listDevicesByOwner(identity.id).map(policyDevice),
    exceptions: [],
    break_glass: null,
    app: null,
    now_ns: opts.nowMs * 1e6,
    now: new Date(opts.nowMs).toISOString(),
    context: {},
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The policy data document: the policies' data.json with stored apps merged over data.apps
 * (a stored app replaces the shipped entry of the same id).
 */
export function composePolicyData(base: unknown, apps: readonly App[]): Record<string, unknown> {
  const root: Record<string, unknown> = isObject(base) ? { ...base } : {};
  const catalog: Record<string, unknown> = isObject(root.apps) ? { ...root.apps } : {};
  for (const a of apps) {
    catalog[a.id] = {
      sensitivity: a.sensitivity,
      ...(a.admin !== undefined && { admin: a.admin }),
      ...(a.allow_service !== undefined && { allow_service: a.allow_service }),
      ...(a.name !== undefined && { name: a.name }),
    };
  }
  root.apps = catalog;
  return root;
}
