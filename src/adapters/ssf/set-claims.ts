/**
 * Security Event Token claims as SSF 1.0 profiles them (RFC 8417, RFC 9493 subjects, CAEP 1.0
 * events): pure validation of a verified payload into one event with its subject.
 */

/** CAEP event type URI base. */
export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
/** SSF control event type URI base. */
export const SSF_EVENT = 'https://schemas.openid.net/secevent/ssf/event-type/';

/** Event types the receiver acts on. */
export const EVENT_TYPES = {
  sessionRevoked: `${CAEP}session-revoked`,
  credentialChange: `${CAEP}credential-change`,
  deviceComplianceChange: `${CAEP}device-compliance-change`,
  assuranceLevelChange: `${CAEP}assurance-level-change`,
  verification: `${SSF_EVENT}verification`,
  streamUpdated: `${SSF_EVENT}stream-updated`,
} as const;

/** RFC 8935 §2.4 / SSF error codes. */
export type SetErrorCode =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'access_denied'
  | 'invalid_state';

/** A SET delivery failure, answered as 400 {"err", "description"}. */
export class SetError extends Error {
  constructor(
    readonly err: SetErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = 'SetError';
  }
}

/** An RFC 9493 subject identifier or an SSF complex subject. */
export type SubjectId = Record<string, unknown> & { format: string };

/** A validated SET with its single event. */
export interface ParsedSet {
  iss: string;
  jti: string;
  iat: number;
  txn?: string;
  eventType: string;
  event: Record<string, unknown>;
  subject: SubjectId;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const SIMPLE_FORMATS: Record<string, string[]> = {
  email: ['email'],
  iss_sub: ['iss', 'sub'],
  opaque: ['id'],
  phone_number: ['phone_number'],
  account: ['uri'],
  did: ['url'],
  uri: ['uri'],
  aliases: ['identifiers'],
  jwt_id: ['iss', 'jti'],
  saml_assertion_id: ['issuer', 'assertion_id'],
  'ip-addresses': ['ip-addresses'],
};

/** Checks a subject identifier's shape (RFC 9493 §3 and SSF's complex subject); throws invalid_request. */
export function validateSubject(s: unknown, where = 'sub_id', depth = 0): SubjectId {
  if (!isPlainObject(s) || typeof s.format !== 'string') throw new SetError('invalid_request', `${where} must be an object with a string format`);
  if (s.format === 'complex') {
    if (depth > 0) throw new SetError('invalid_request', `${where}: complex subjects cannot nest`);
    const members = Object.entries(s).filter(([k]) => k !== 'format');
    if (members.length === 0) throw new SetError('invalid_request', `${where}: complex subject has no members`);
    for (const [k, v] of members) validateSubject(v, `${where}.${k}`, depth + 1);
    return s as SubjectId;
  }
  const required = SIMPLE_FORMATS[s.format];
  if (!required) return s as SubjectId; // unknown formats are left to resolution (which will not match)
  for (const field of required) {
    const v = s[field];
    const ok = field === 'identifiers' || field === 'ip-addresses' ? Array.isArray(v) && v.length > 0 : typeof v === 'string' && v !== '';
    if (!ok) throw new SetError('invalid_request', `${where}.${field} is required for format ${s.format}`);
  }
  if (s.format === 'aliases') (s.identifiers as unknown[]).forEach((i, n) => validateSubject(i, `${where}.identifiers[${n}]`, depth + 1));
  return s as SubjectId;
}

const ALLOWED_STATUS = ['compliant', 'not-compliant'];
const CHANGE_TYPES = ['create', 'revoke', 'update', 'delete'];

/** Checks the required claims of the CAEP events we act on; unknown event types pass unchecked. */
export function validateEvent(type: string, e: Record<string, unknown>): void {
  const need = (cond: boolean, msg: string) => {
    if (!cond) throw new SetError('invalid_request', msg);
  };
  if (e.event_timestamp !== undefined) need(typeof e.event_timestamp === 'number', 'event_timestamp must be a number of seconds');
  switch (type) {
    case EVENT_TYPES.deviceComplianceChange:
      need(ALLOWED_STATUS.includes(e.current_status as string), 'device-compliance-change: current_status must be compliant or not-compliant');
      need(ALLOWED_STATUS.includes(e.previous_status as string), 'device-compliance-change: previous_status must be compliant or not-compliant');
      break;
    case EVENT_TYPES.credentialChange:
      // Custom credential types exist in the wild; only the presence is mandatory.
      need(typeof e.credential_type === 'string' && e.credential_type !== '', 'credential-change: credential_type is required');
      need(CHANGE_TYPES.includes(e.change_type as string), `credential-change: change_type must be one of ${CHANGE_TYPES.join(', ')}`);
      break;
    case EVENT_TYPES.assuranceLevelChange:
      need(typeof e.namespace === 'string' && e.namespace !== '', 'assurance-level-change: namespace is required');
      need(typeof e.current_level === 'string' && e.current_level !== '', 'assurance-level-change: current_level is required');
      if (e.change_direction !== undefined) need(e.change_direction === 'increase' || e.change_direction === 'decrease', 'assurance-level-change: change_direction must be increase or decrease');
      break;
  }
}

/**
 * Validates a verified payload against the SSF SET profile: iss/jti/iat required, no `sub`/`exp`,
 * exactly one event, a subject in `sub_id` (or, from draft-era transmitters, inside the event).
 */
export function parseSetClaims(payload: Record<string, unknown>): ParsedSet {
  const need = (cond: boolean, msg: string) => {
    if (!cond) throw new SetError('invalid_request', msg);
  };
  need(typeof payload.iss === 'string' && payload.iss !== '', 'iss is required');
  need(typeof payload.jti === 'string' && payload.jti !== '', 'jti is required');
  need(typeof payload.iat === 'number', 'iat is required (seconds)');
  need(payload.sub === undefined, 'sub must not appear in a SET (use sub_id)');
  need(payload.exp === undefined, 'exp must not appear in a SET');
  need(isPlainObject(payload.events), 'events is required');
  const entries = Object.entries(payload.events as Record<string, unknown>);
  need(entries.length === 1, 'events must hold exactly one event');
  const [eventType, event] = entries[0];
  need(isPlainObject(event), 'the event must be an object');
  const ev = event as Record<string, unknown>;
  const rawSubject = payload.sub_id ?? ev.subject;
  need(rawSubject !== undefined, 'sub_id is required');
  const subject = validateSubject(rawSubject, payload.sub_id !== undefined ? 'sub_id' : 'subject');
  validateEvent(eventType, ev);
  return {
    iss: payload.iss as string,
    jti: payload.jti as string,
    iat: payload.iat as number,
    txn: typeof payload.txn === 'string' ? payload.txn : undefined,
    eventType,
    event: ev,
    subject,
  };
}
