/**
 * What a received CAEP event does to Tether state. device-compliance-change flips the device's
 * `compliant` now (a not-compliant verdict always lands, fail closed); session-revoked,
 * credential-change and assurance-level-change are recorded on the identity/device attributes.
 */
import type { StateStore } from '../../state/store';
import type { Device, Identity } from '../../state/types';
import type { DeviceAliases } from '../device-aliases';
import { EVENT_TYPES, type ParsedSet } from './set-claims';
import { resolveSubject, unresolvedSubject } from './subjects';

/** Outcome of one event. */
export interface ApplyResult {
  effect: 'device_compliance' | 'recorded' | 'ignored' | 'stale';
  identity?: string;
  device?: string;
}

/** Writable fields of a stored device (the store assigns version/updated_at). */
export function deviceInput(d: Device): Record<string, unknown> {
  return {
    owner: d.owner_resolved ? d.owner : d.owner_ref,
    enrolled: d.enrolled,
    compliant: d.compliant,
    encrypted: d.encrypted,
    ownership: d.ownership,
    ...(d.platform !== undefined && { platform: d.platform }),
    ...(d.os_version !== undefined && { os_version: d.os_version }),
    ...(d.source !== undefined && { source: d.source }),
    ...(d.observed_at !== undefined && { observed_at: d.observed_at }),
    ...(d.attributes !== undefined && { attributes: d.attributes }),
  };
}

/** True when writing `record` would not change the stored device (pollers skip such no-op writes). */
function deviceUnchanged(stored: Device | undefined, record: Record<string, unknown>): boolean {
  if (!stored) return false;
  const current = deviceInput(stored);
  current.owner = stored.owner_ref;
  const keys = new Set([...Object.keys(current), ...Object.keys(record)]);
  for (const k of keys) {
    const a = k === 'observed_at' && typeof current[k] === 'string' ? Date.parse(current[k] as string) : current[k];
    const b = k === 'observed_at' && typeof record[k] === 'string' ? Date.parse(record[k] as string) : record[k];
    if (JSON.stringify(a) !== JSON.stringify(b)) return false;
  }
  return true;
}

/**
 * True when `stored` carries a CAEP compliance verdict that the MDM record `record` does not
 * supersede: the record's observed_at is not newer than the verdict's. The store accepts an equal
 * observed_at, so this is checked before the write (checkMdmWrite); an MDM observation strictly
 * newer than the verdict replaces it.
 */
function caepVerdictHolds(stored: Device | undefined, record: Record<string, unknown>): boolean {
  if (!stored || stored.source !== 'caep' || !stored.observed_at) return false;
  const incoming = typeof record.observed_at === 'string' ? Date.parse(record.observed_at) : NaN;
  if (!Number.isFinite(incoming)) return true; // an undated MDM record is not newer than the verdict
  return incoming <= Date.parse(stored.observed_at);
}

/** What an MDM record would do to the stored device (checkMdmWrite). */
export type MdmWriteCheck = 'write' | 'unchanged' | 'stale';

/**
 * The check every MDM writer makes before writing `record` (its device fields, with `source` and
 * `observed_at`) over `stored`: the Intune poll, the Jamf pull and webhook re-read, and the generic
 * MDM webhook. 'unchanged': the write would change nothing (pollers skip it). 'stale': a CAEP
 * compliance verdict stands against it, because the record's observed_at is not newer than the
 * verdict's (the store itself refuses only strictly older observations). Otherwise 'write'.
 */
export function checkMdmWrite(stored: Device | undefined, record: Record<string, unknown>): MdmWriteCheck {
  if (deviceUnchanged(stored, record)) return 'unchanged';
  if (caepVerdictHolds(stored, record)) return 'stale';
  return 'write';
}

/** Writable fields of a stored identity. */
export function identityInput(i: Identity): Record<string, unknown> {
  return {
    status: i.status,
    type: i.type,
    risk_tier: i.risk_tier,
    proofed: i.proofed,
    aliases: [...i.aliases],
    ...(i.source !== undefined && { source: i.source }),
    ...(i.observed_at !== undefined && { observed_at: i.observed_at }),
    ...(i.attributes !== undefined && { attributes: i.attributes }),
  };
}

function caepAttrs(attributes: Record<string, unknown> | undefined, key: string, value: unknown): Record<string, unknown> {
  const caep = { ...((attributes?.caep as Record<string, unknown> | undefined) ?? {}), [key]: value };
  return { ...(attributes ?? {}), caep };
}

/**
 * Applies one parsed SET (call inside the transaction that also records its jti). Throws SetError
 * invalid_request naming the subject field and identifier when the subject names nothing Tether
 * holds (subjects.ts unresolvedSubject), so the transaction, and the jti with it, is rolled back.
 */
export function applyCaepEvent(store: StateStore, aliases: DeviceAliases, set: ParsedSet, nowMs: number): ApplyResult {
  const { eventType, event } = set;
  const when = typeof event.event_timestamp === 'number' ? event.event_timestamp * 1000 : set.iat * 1000;
  const whenIso = new Date(Math.min(when, nowMs)).toISOString(); // a future timestamp never buys freshness
  if (eventType === EVENT_TYPES.verification || eventType === EVENT_TYPES.streamUpdated) return { effect: 'ignored' };
  const known = [EVENT_TYPES.sessionRevoked, EVENT_TYPES.credentialChange, EVENT_TYPES.deviceComplianceChange, EVENT_TYPES.assuranceLevelChange] as string[];
  if (!known.includes(eventType)) return { effect: 'ignored' }; // SSF: ignore event types we do not act on

  const isDevice = eventType === EVENT_TYPES.deviceComplianceChange;
  const target = resolveSubject(store, aliases, set.subject, isDevice);
  if (isDevice) {
    if (!target.deviceId) throw unresolvedSubject(set, 'device');
    const d = store.getDevice(target.deviceId)!;
    const compliant = event.current_status === 'compliant';
    const storedAt = d.observed_at ? Date.parse(d.observed_at) : 0;
    if (compliant && Date.parse(whenIso) < storedAt) return { effect: 'stale', device: d.id }; // older good news never overrides
    const input = deviceInput(d);
    input.compliant = compliant;
    input.source = 'caep';
    // The verdict is dated at the event (never earlier than what is stored: a not-compliant verdict
    // older than the last check-in still lands, fail closed). That date is what an MDM observation
    // must beat to replace the verdict (the store 409s older ones; MDM writers also refuse equal ones,
    // see checkMdmWrite), so the next poll carrying the same lastSync cannot undo it. Dating a
    // not-compliant device at the event cannot help it get access: not-compliant is denied whatever
    // its age, and only a newer MDM record or a newer compliant SET can make it compliant again.
    input.observed_at = new Date(Math.max(storedAt, Date.parse(whenIso))).toISOString();
    input.attributes = caepAttrs(d.attributes, 'compliance', { status: event.current_status, iss: set.iss, at: whenIso });
    store.putDevice(d.id, input);
    return { effect: 'device_compliance', device: d.id, identity: target.identityId };
  }

  if (!target.identityId && !target.deviceId) throw unresolvedSubject(set, 'identity or device');
  const key = eventType === EVENT_TYPES.sessionRevoked ? 'session_revoked' : eventType === EVENT_TYPES.credentialChange ? 'credential_change' : 'assurance_level';
  const record: Record<string, unknown> = { iss: set.iss, at: whenIso };
  if (eventType === EVENT_TYPES.credentialChange) Object.assign(record, { credential_type: event.credential_type, change_type: event.change_type });
  if (eventType === EVENT_TYPES.assuranceLevelChange) {
    Object.assign(record, { namespace: event.namespace, current_level: event.current_level, previous_level: event.previous_level ?? null, change_direction: event.change_direction ?? null });
  }
  if (target.identityId) {
    const i = store.getIdentity(target.identityId)!;
    const input = identityInput(i);
    delete input.observed_at; // attribute note, not a newer lifecycle observation
    input.attributes = caepAttrs(i.attributes, key, record);
    store.putIdentity(i.id, input);
  }
  if (target.deviceId) {
    const d = store.getDevice(target.deviceId)!;
    const input = deviceInput(d);
    input.attributes = caepAttrs(d.attributes, key, record);
    store.putDevice(d.id, input);
  }
  return { effect: 'recorded', identity: target.identityId, device: target.deviceId };
}
