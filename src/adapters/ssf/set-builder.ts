/**
 * Outgoing SETs: which CAEP event a revocation trigger becomes (session-revoked for identity
 * triggers, device-compliance-change for device triggers), its RFC 9493 subject, and the claims.
 * A device going stale (`device_state_stale`, one revocation per sensitivity level crossed) becomes
 * a device-compliance-change `not-compliant` only once no level is left (`stale_everywhere`): until
 * then the device still serves less sensitive apps, and CAEP has no per-sensitivity compliance.
 */
import { randomUUID } from 'node:crypto';
import type { Identity } from '../../state/types';
import { EVENT_TYPES } from './set-claims';

/** The lifecycle event fields the transmitter reads (src/lifecycle/outbox.ts LifecycleEvent). */
export interface RevocationLike {
  id: string;
  type: string;
  time: string;
  identity: string | null;
  reasons: string[];
  record?: { kind: string; id: string };
  device?: string;
  /** The device's compliance before the change that revoked (device triggers, src/lifecycle/triggers.ts). */
  device_was_compliant?: boolean;
  /** device_state_stale events (src/lifecycle/staleness.ts): the device is stale for every level now. */
  stale_everywhere?: boolean;
  /** device_state_stale events: the device's last check-in and when it passed this level's max age. */
  observed_at?: string;
  stale_at?: string;
  /** enrollment_grace_ended events (src/lifecycle/tracker.ts): when the grace ended. */
  grace_ended_at?: string | null;
  [field: string]: unknown;
}

/** One event to transmit, before it is addressed to a stream. */
export interface OutgoingEvent {
  eventType: string;
  subject: Record<string, unknown>;
  event: Record<string, unknown>;
  txn: string;
  /** Seconds. */
  eventTimestamp: number;
}

/** The RFC 9493 subject for an identity: its email alias when it has one, else its id (opaque). */
export function identitySubject(id: string, identity: Identity | undefined): Record<string, unknown> {
  const email = identity?.aliases.find((a) => /^[^@\s]+@[^@\s]+$/.test(a)) ?? (/^[^@\s]+@[^@\s]+$/.test(id) ? id : undefined);
  return email ? { format: 'email', email } : { format: 'opaque', id };
}

/** A CAEP compliance status. */
export type ComplianceStatus = 'compliant' | 'not-compliant';

/**
 * Turns a revocation lifecycle event into the CAEP event to send, or undefined for events that are
 * not revocations. `lookup` reads the identity (for its email alias).
 */
export function revocationToCaep(e: RevocationLike, lookup: (id: string) => Identity | undefined): OutgoingEvent | undefined {
  if (e.type !== 'revocation') return undefined;
  const stale = e.reasons.length === 1 && e.reasons[0] === 'device_state_stale';
  // A level crossed while another is still fresh: the device is not non-compliant yet (webhook only).
  if (stale && e.stale_everywhere !== true) return undefined;
  // Time-driven revocations are found at the owner's recheck (late after a restart): the change happened at
  // stale_at (a device going stale) or grace_ended_at (the enrollment grace ending).
  const happened = stale ? e.stale_at : e.reasons.includes('enrollment_grace_ended') ? e.grace_ended_at : undefined;
  const at = typeof happened === 'string' && Number.isFinite(Date.parse(happened)) ? happened : e.time;
  const eventTimestamp = Math.floor(Date.parse(at) / 1000);
  const reason = stale
    ? { en: `Tether revocation: device_state_stale (no MDM check-in since ${e.observed_at ?? 'unknown'}: too old for every sensitivity level)` }
    : { en: `Tether revocation: ${e.reasons.join(', ')}` };
  const deviceId = e.device ?? (e.record?.kind === 'device' ? e.record.id : undefined);
  const user = e.identity ? identitySubject(e.identity, lookup(e.identity)) : undefined;
  if (deviceId) {
    const subject: Record<string, unknown> = { format: 'complex', device: { format: 'opaque', id: deviceId } };
    if (user) subject.user = user;
    return {
      eventType: EVENT_TYPES.deviceComplianceChange,
      subject,
      // An event without the before-state (queued before triggers carried it) is sent as compliant → not-compliant.
      event: { previous_status: (e.device_was_compliant === false ? 'not-compliant' : 'compliant') satisfies ComplianceStatus, current_status: 'not-compliant', initiating_entity: 'policy', reason_admin: reason, event_timestamp: eventTimestamp },
      txn: e.id,
      eventTimestamp,
    };
  }
  if (!user) return undefined; // catalog-wide changes (apps) have no subject to revoke
  return {
    eventType: EVENT_TYPES.sessionRevoked,
    subject: user,
    event: { initiating_entity: 'policy', reason_admin: reason, event_timestamp: eventTimestamp },
    txn: e.id,
    eventTimestamp,
  };
}

/** The SET claims for one stream (no `sub`, no `exp`, as SSF requires). */
export function setClaims(iss: string, aud: string | string[], ev: OutgoingEvent, nowSec: number): Record<string, unknown> {
  return { iss, aud, jti: randomUUID().replace(/-/g, ''), iat: nowSec, txn: ev.txn, sub_id: ev.subject, events: { [ev.eventType]: ev.event } };
}
