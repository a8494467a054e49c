/**
 * Resolves RFC 9493 / SSF subjects to Tether identities and devices through the alias tables:
 * email and iss_sub (IdP user id, SCIM externalId) name identities; a complex subject's `device`
 * member names a device by id or MDM alias (Entra deviceId = Intune azureADDeviceId, serial...).
 * Draft-era subjects (`subject_type`) arrive here already in their final form (set-claims.ts).
 */
import type { StateStore } from '../../state/store';
import type { DeviceAliases } from '../device-aliases';
import { SetError, type ParsedSet, type SubjectId } from './set-claims';

/** What a subject names in Tether; empty when nothing matched. */
export interface ResolvedSubject {
  identityId?: string;
  deviceId?: string;
}

/** Formats subjectKeys can look up (identifiers of any other format never match). */
export const RESOLVABLE_FORMATS = ['email', 'iss_sub', 'opaque', 'phone_number', 'account', 'uri', 'did', 'aliases'];

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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An identifier as the transmitter sent it, for a description (JSON, bounded). */
function quote(v: unknown): string {
  const json = JSON.stringify(v) ?? String(v);
  return json.length > 200 ? json.slice(0, 199) + '…' : json;
}

/**
 * The 400 for an event whose subject names nothing Tether holds (RFC 8935 §2.4 `invalid_request`;
 * the caller's transaction is rolled back, so the SET's jti is not remembered and a redelivery after
 * the record exists is accepted). The description names the subject field and quotes the identifier
 * as sent, or, when its format is one Tether cannot look up at all, names that format member.
 * `want` is what the event acts on: a device (device-compliance-change) or an identity or device.
 */
export function unresolvedSubject(set: Pick<ParsedSet, 'subject' | 'subjectField' | 'rawSubject'>, want: 'device' | 'identity or device'): SetError {
  const { subject, subjectField: field, rawSubject: raw } = set;
  let parts: Array<{ path: string; id: Record<string, unknown>; sent: unknown }>;
  if (subject.format === 'complex') {
    const names = want === 'device' ? ['device'] : ['user', 'device'];
    parts = names.filter((n) => isObject(subject[n])).map((n) => ({ path: `${field}.${n}`, id: subject[n] as Record<string, unknown>, sent: raw[n] }));
    if (parts.length === 0) {
      return new SetError('invalid_request', `unknown subject: ${field} has no ${want === 'device' ? 'device' : 'user or device'} member, so it names no ${want} Tether holds`);
    }
  } else {
    parts = [{ path: field, id: subject, sent: raw }];
  }
  const lookedUp = parts.filter((p) => RESOLVABLE_FORMATS.includes(p.id.format as string));
  if (lookedUp.length === 0) {
    const { path, sent } = parts[0];
    const key = isObject(sent) && sent.format === undefined && sent.subject_type !== undefined ? 'subject_type' : 'format';
    const name = isObject(sent) && sent[key] !== undefined ? sent[key] : parts[0].id.format;
    return new SetError(
      'invalid_request',
      `unsupported subject: ${path}.${key} ${quote(name)} is not a subject format Tether can resolve (${RESOLVABLE_FORMATS.join(', ')}, or complex with user/device)`,
    );
  }
  return new SetError('invalid_request', `unknown subject: no ${want} matches ${lookedUp.map((p) => `${p.path} ${quote(p.sent)}`).join(' or ')}`);
}
