/**
 * SCIM User resources: input validation and normalisation (Entra's string booleans, attribute-name
 * case), and the mapping of a User onto a Tether identity (status, aliases, type, risk tier).
 */
import { badRequest } from './errors';
import { canonicalName, ENTERPRISE_SCHEMA, USER_SCHEMA } from './schema-names';

/** A SCIM resource as stored: plain JSON, server attributes (id, meta) added on output. */
export type ScimResourceBody = Record<string, unknown>;

/** Tether identity status values SCIM can produce. */
export type ScimIdentityStatus = 'provisioned' | 'active' | 'suspended' | 'deprovisioned';

/** What a SCIM User contributes to its Tether identity. */
export interface ScimIdentityFields {
  status: ScimIdentityStatus;
  aliases: string[];
  type?: 'employee' | 'contractor' | 'service' | 'break_glass';
  risk_tier?: 'standard' | 'high' | 'privileged';
}

/** Which SCIM attributes carry the identity type and risk tier (attribute paths, e.g. `userType`). */
export interface ScimMappingConfig {
  typeAttribute?: string;
  riskTierAttribute?: string;
}

const IDENTITY_TYPES = ['employee', 'contractor', 'service', 'break_glass'] as const;
const RISK_TIERS = ['standard', 'high', 'privileged'] as const;

/** Coerces a SCIM boolean: true/false, or the strings Entra sends ("True"/"False", any case). */
export function coerceBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rewrites top-level and known sub-attribute names into canonical case, recursively for objects. */
function canonicalise(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = canonicalName(k);
    if (depth < 3 && isPlainObject(v)) out[key] = canonicalise(v, depth + 1);
    else if (depth < 3 && Array.isArray(v)) out[key] = v.map((e) => (isPlainObject(e) ? canonicalise(e, depth + 1) : e));
    else out[key] = v;
  }
  return out;
}

/**
 * Validates and normalises a User body from POST/PUT (or a patched resource): requires userName,
 * coerces `active` and `emails[].primary`, drops `password`, `id` and `meta` (server-owned).
 * Throws ScimError 400 invalidSyntax/invalidValue naming the attribute.
 */
export function normaliseUser(body: unknown): ScimResourceBody {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'request body must be a JSON object');
  const user = canonicalise(body);
  const schemas = user.schemas;
  if (schemas !== undefined) {
    if (!Array.isArray(schemas) || !schemas.every((s) => typeof s === 'string')) {
      throw badRequest('invalidSyntax', 'schemas must be an array of strings');
    }
    if (!schemas.some((s) => s.toLowerCase() === USER_SCHEMA.toLowerCase())) {
      throw badRequest('invalidSyntax', `schemas must include ${USER_SCHEMA}`);
    }
  }
  if (typeof user.userName !== 'string' || user.userName.trim() === '') {
    throw badRequest('invalidValue', 'userName is required and must be a non-empty string');
  }
  if (user.active !== undefined && user.active !== null) {
    const active = coerceBoolean(user.active);
    if (active === undefined) throw badRequest('invalidValue', 'active must be a boolean');
    user.active = active;
  } else {
    delete user.active;
  }
  for (const attr of ['externalId', 'displayName', 'userType', 'title'] as const) {
    const v = user[attr];
    if (v !== undefined && v !== null && typeof v !== 'string') throw badRequest('invalidValue', `${attr} must be a string`);
  }
  if (user.name !== undefined && user.name !== null && !isPlainObject(user.name)) {
    throw badRequest('invalidValue', 'name must be an object');
  }
  for (const multi of ['emails', 'phoneNumbers', 'addresses', 'roles', 'entitlements', 'groups'] as const) {
    const v = user[multi];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || !v.every(isPlainObject)) throw badRequest('invalidValue', `${multi} must be an array of objects`);
    for (const [i, e] of (v as Record<string, unknown>[]).entries()) {
      if (e.primary !== undefined) {
        const p = coerceBoolean(e.primary);
        if (p === undefined) throw badRequest('invalidValue', `${multi}[${i}].primary must be a boolean`);
        e.primary = p;
      }
    }
  }
  const emails = user.emails as Record<string, unknown>[] | undefined;
  emails?.forEach((e, i) => {
    if (typeof e.value !== 'string' || e.value === '') throw badRequest('invalidValue', `emails[${i}].value must be a non-empty string`);
  });
  const ext = user[ENTERPRISE_SCHEMA];
  if (ext !== undefined && ext !== null && !isPlainObject(ext)) {
    throw badRequest('invalidValue', `${ENTERPRISE_SCHEMA} must be an object`);
  }
  delete user.password; // returned: never; we have no use for it
  delete user.id;
  delete user.meta;
  const declared = new Set<string>([USER_SCHEMA]);
  if (isPlainObject(ext)) declared.add(ENTERPRISE_SCHEMA);
  user.schemas = [...declared];
  for (const [k, v] of Object.entries(user)) if (v === null) delete user[k];
  return user;
}

/** Reads a SCIM attribute path (`userType`, `name.givenName`, `urn:…:User:department`) from a resource. */
export function readAttribute(resource: ScimResourceBody, path: string): unknown {
  let parts: string[];
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    const urn = path.slice(0, colon);
    parts = [urn, ...path.slice(colon + 1).split('.')];
    if (urn.toLowerCase() === USER_SCHEMA.toLowerCase()) parts = parts.slice(1);
  } else {
    parts = path.split('.');
  }
  let cur: unknown = resource;
  for (const p of parts) {
    if (!isPlainObject(cur)) return undefined;
    const key = Object.keys(cur).find((k) => k.toLowerCase() === p.toLowerCase());
    if (key === undefined) return undefined;
    cur = cur[key];
  }
  return cur;
}

function pickEnum<T extends string>(raw: unknown, allowed: readonly T[]): T | undefined {
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim().toLowerCase().replace(/[\s-]+/g, '_');
  return (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

/** Every alias a User is known by: userName, email values, externalId (lower-cased where case-insensitive). */
export function userAliases(user: ScimResourceBody): string[] {
  const out = new Set<string>();
  if (typeof user.userName === 'string') out.add(user.userName.toLowerCase());
  if (Array.isArray(user.emails)) {
    for (const e of user.emails as Record<string, unknown>[]) if (typeof e.value === 'string') out.add(e.value.toLowerCase());
  }
  if (typeof user.externalId === 'string' && user.externalId !== '') out.add(user.externalId);
  return [...out];
}

/**
 * Maps a User to Tether identity fields: active true → active, false → suspended, absent → provisioned;
 * aliases from userName/emails/externalId; type and risk tier from the configured attributes when
 * their value names a known enum member (otherwise left to whatever is stored).
 */
export function userToIdentityFields(user: ScimResourceBody, cfg: ScimMappingConfig = {}): ScimIdentityFields {
  const active = user.active;
  const status: ScimIdentityStatus = active === true ? 'active' : active === false ? 'suspended' : 'provisioned';
  const fields: ScimIdentityFields = { status, aliases: userAliases(user) };
  const typeAttr = cfg.typeAttribute ?? 'userType';
  const type = pickEnum(readAttribute(user, typeAttr), IDENTITY_TYPES);
  if (type) fields.type = type;
  if (cfg.riskTierAttribute) {
    const tier = pickEnum(readAttribute(user, cfg.riskTierAttribute), RISK_TIERS);
    if (tier) fields.risk_tier = tier;
  }
  return fields;
}
