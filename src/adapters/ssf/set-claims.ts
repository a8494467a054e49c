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

/**
 * An RFC 9493 subject identifier or an SSF complex subject, in its final form: a draft-era
 * `subject_type` is read into `format` (see validateSubject).
 */
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
  /** Where the subject was read: `sub_id`, or `events["<event type>"].subject` (draft-era layout). */
  subjectField: string;
  /** The subject as the transmitter sent it (error descriptions quote it). */
  rawSubject: Record<string, unknown>;
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

/**
 * Draft-era subject identifier type names (draft-ietf-secevent-subject-identifiers before RFC 9493
 * renamed the `subject_type` member to `format`; RISC and early CAEP/SSE transmitters still send
 * them) that differ from the final format name, with the members they name differently. Any other
 * `subject_type` value is read as the format of the same name (`email`, `iss_sub`, `opaque`...).
 */
const DRAFT_SUBJECT_TYPES: Record<string, { format: string; members?: Record<string, string> }> = {
  'iss-sub': { format: 'iss_sub' }, // drafts -01 to -05, RISC (e.g. Google Cross-Account Protection)
  phone: { format: 'phone_number', members: { phone: 'phone_number' } }, // drafts -00 to -04
  'phone-number': { format: 'phone_number' }, // draft -05
};

/** Member names of an SSF complex subject (SSF 1.0 §3.2); draft-era complex subjects carry no format. */
const COMPLEX_MEMBERS = ['user', 'device', 'session', 'application', 'tenant', 'org_unit', 'group'];

/** A subject identifier read into its final form, with the member that named its type as sent. */
interface Normalized {
  id: SubjectId;
  /** `format`, or `subject_type` for a draft-era identifier. */
  typeKey: 'format' | 'subject_type';
  /** The type name as sent. */
  typeName: string;
  /** Final member name → the name the transmitter used (draft renames only). */
  sentAs: Record<string, string>;
}

function normalizeSubject(s: Record<string, unknown>, where: string, depth: number): Normalized {
  if (s.format !== undefined) {
    if (typeof s.format !== 'string' || s.format === '') throw new SetError('invalid_request', `${where}.format must be a non-empty string`);
    return { id: s as SubjectId, typeKey: 'format', typeName: s.format, sentAs: {} };
  }
  if (s.subject_type !== undefined) {
    if (typeof s.subject_type !== 'string' || s.subject_type === '') throw new SetError('invalid_request', `${where}.subject_type must be a non-empty string`);
    const draft = DRAFT_SUBJECT_TYPES[s.subject_type];
    const renames = draft?.members ?? {};
    const members: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) {
      if (k === 'subject_type') continue;
      const name = renames[k] ?? k;
      if (name === k || members[name] === undefined) members[name] = v; // the final name wins when both are sent
    }
    const sentAs = Object.fromEntries(Object.entries(renames).map(([old, name]) => [name, old]));
    return { id: { ...members, format: draft?.format ?? s.subject_type }, typeKey: 'subject_type', typeName: s.subject_type, sentAs };
  }
  // Draft-era complex subject (SSE framework / CAEP drafts): {"user": {...}, "device": {...}} without a format.
  const entries = Object.entries(s);
  if (depth === 0 && entries.length > 0 && entries.some(([k]) => COMPLEX_MEMBERS.includes(k)) && entries.every(([, v]) => isPlainObject(v))) {
    return { id: { ...s, format: 'complex' }, typeKey: 'format', typeName: 'complex', sentAs: {} };
  }
  throw new SetError(
    'invalid_request',
    `${where} must be a subject identifier: an object with a format member (RFC 9493), a subject_type member (draft-era), or complex subject members (${COMPLEX_MEMBERS.join(', ')})`,
  );
}

/**
 * Checks a subject identifier's shape (RFC 9493 §3 and SSF's complex subject) and returns it in its
 * final form: a draft-era `subject_type` (with its old type and member names) becomes `format`, and a
 * draft-era complex subject without a format becomes `format: "complex"`. Throws invalid_request
 * naming the field. Formats Tether cannot resolve pass here (unknown event types ignore the subject);
 * applying an event names them (subjects.ts).
 */
export function validateSubject(s: unknown, where = 'sub_id', depth = 0): SubjectId {
  if (!isPlainObject(s)) throw new SetError('invalid_request', `${where} must be a subject identifier object`);
  const { id, typeKey, typeName, sentAs } = normalizeSubject(s, where, depth);
  if (id.format === 'complex') {
    if (depth > 0) throw new SetError('invalid_request', `${where}: complex subjects cannot nest`);
    const members = Object.entries(id).filter(([k]) => k !== 'format');
    if (members.length === 0) throw new SetError('invalid_request', `${where}: complex subject has no members`);
    const out: SubjectId = { format: 'complex' };
    for (const [k, v] of members) out[k] = validateSubject(v, `${where}.${k}`, depth + 1);
    return out;
  }
  const required = SIMPLE_FORMATS[id.format];
  if (!required) return id; // formats without known members are left to resolution (subjects.ts)
  for (const field of required) {
    const v = id[field];
    const ok = field === 'identifiers' || field === 'ip-addresses' ? Array.isArray(v) && v.length > 0 : typeof v === 'string' && v !== '';
    if (!ok) throw new SetError('invalid_request', `${where}.${sentAs[field] ?? field} is required for ${typeKey} ${typeName}`);
  }
  if (id.format === 'aliases') return { ...id, identifiers: (id.identifiers as unknown[]).map((i, n) => validateSubject(i, `${where}.identifiers[${n}]`, depth + 1)) };
  return id;
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
  const subjectField = payload.sub_id !== undefined ? 'sub_id' : `events[${JSON.stringify(eventType)}].subject`;
  const rawSubject = payload.sub_id ?? ev.subject;
  need(rawSubject !== undefined, 'sub_id is required (or, from a draft-era transmitter, a subject inside the event)');
  const subject = validateSubject(rawSubject, subjectField);
  validateEvent(eventType, ev);
  return {
    iss: payload.iss as string,
    jti: payload.jti as string,
    iat: payload.iat as number,
    txn: typeof payload.txn === 'string' ? payload.txn : undefined,
    eventType,
    event: ev,
    subject,
    subjectField,
    rawSubject: rawSubject as Record<string, unknown>,
  };
}
