/**
 * Resolves RFC 9493 / SSF subjects to Tether identities and devices through the alias tables:
 * email and iss_sub (IdP user id, SCIM externalId) name identities; a complex subject's `device`
 * member names a device by id or MDM alias (Entra deviceId = Intune azureADDeviceId, serial...).
 */
import type { StateStore } from '../../state/store';
import type { DeviceAliases } from '../device-aliases';
import type { SubjectId } from './set-claims';

/** What a subject names in Tether; empty when nothing matched. */
export interface ResolvedSubject {
  identityId?: string;
  deviceId?: string;
}

/** Candidate lookup keys of a simple subject identifier, most specific first. */
export function subjectKeys(s: Record<string, unknown>): string[] {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? [v] : []);
  switch (s.format) {
    case 'email':
      return str(s.email);
    case 'iss_sub':
      // IdP-scoped first (an alias written as "<iss>|<sub>"), then the bare sub (Okta's user id = SCIM externalId).
      return typeof s.iss === 'string' && typeof s.sub === 'string' ? [`${s.iss}|${s.sub}`, s.sub] : [];
    case 'opaque':
      return str(s.id);
    case 'phone_number':
      return str(s.phone_number);
    case 'account':
      return typeof s.uri === 'string' ? [s.uri, s.uri.replace(/^acct:/i, '')] : [];
    case 'uri':
      return str(s.uri);
    case 'did':
      return str(s.url);
    case 'aliases':
      return Array.isArray(s.identifiers) ? s.identifiers.flatMap((i) => (typeof i === 'object' && i ? subjectKeys(i as Record<string, unknown>) : [])) : [];
    default:
      return [];
  }
}

function resolveIdentity(store: StateStore, s: Record<string, unknown>): string | undefined {
  for (const key of subjectKeys(s)) {
    const id = store.resolveIdentityId(key);
    if (id) return id;
  }
  return undefined;
}

function resolveDevice(store: StateStore, aliases: DeviceAliases, s: Record<string, unknown>): string | undefined {
  for (const key of subjectKeys(s)) {
    const id = aliases.resolveDevice(store, key);
    if (id) return id;
  }
  return undefined;
}

/**
 * Resolves a subject. Simple subjects are tried as an identity and, for device-scoped events, as a
 * device; complex subjects resolve their `user` and `device` members (other members act as wildcards).
 */
export function resolveSubject(store: StateStore, aliases: DeviceAliases, subject: SubjectId, preferDevice = false): ResolvedSubject {
  if (subject.format === 'complex') {
    const out: ResolvedSubject = {};
    if (subject.user && typeof subject.user === 'object') out.identityId = resolveIdentity(store, subject.user as Record<string, unknown>);
    if (subject.device && typeof subject.device === 'object') out.deviceId = resolveDevice(store, aliases, subject.device as Record<string, unknown>);
    return out;
  }
  if (preferDevice) {
    const deviceId = resolveDevice(store, aliases, subject);
    if (deviceId) return { deviceId };
  }
  const identityId = resolveIdentity(store, subject);
  if (identityId) return { identityId };
  return {};
}
