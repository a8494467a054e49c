/**
 * SCIM PATCH (RFC 7644 §3.5.2) as IdPs really send it: case-insensitive ops (Entra's "Replace"),
 * string booleans ("False"), Okta's path-less replace with a value object, URN-prefixed extension
 * paths. Operations are normalised here and applied by `scim-patch`, all or nothing.
 */
import {
  NoTarget,
  scimPatch,
  ScimError as LibScimError,
  type ScimPatchOperation,
  type ScimResource,
} from 'scim-patch';
import { badRequest, ScimError } from './errors';
import { canonicalName, ENTERPRISE_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from './schema-names';
import { coerceBoolean, type ScimResourceBody } from './user';

type Op = 'add' | 'remove' | 'replace';

/** One normalised operation. */
export interface NormalisedOp {
  op: Op;
  path?: string;
  value?: unknown;
}

const IMMUTABLE_ROOTS = new Set(['id', 'meta', 'schemas']);
const BOOLEAN_LEAVES = new Set(['active', 'primary']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Canonicalises the attribute names of a path, keeping filters and URN prefixes intact. */
export function canonicalPath(path: string): string {
  const trimmed = path.trim();
  // URN-prefixed: "urn:…:User:department" — split at the last colon outside a filter.
  const bracket = trimmed.indexOf('[');
  const head = bracket >= 0 ? trimmed.slice(0, bracket) : trimmed;
  const colon = head.lastIndexOf(':');
  let urn = '';
  let rest = trimmed;
  if (colon >= 0) {
    urn = canonicalName(trimmed.slice(0, colon));
    rest = trimmed.slice(colon + 1);
    if (urn === USER_SCHEMA) urn = ''; // core attributes may carry the core URN; drop it
  }
  // Only text outside [...] is attribute names; filter values inside brackets stay untouched.
  const canon = rest
    .split(/(\[[^\]]*\])/)
    .map((part) => (part.startsWith('[') ? part : part.replace(/(^|\.)([A-Za-z$][\w$-]*)/g, (_m, sep: string, name: string) => sep + canonicalName(name))))
    .join('');
  return urn ? `${urn}:${canon}` : canon;
}

function rootOf(path: string): string {
  return path.split(/[.[]/)[0];
}

function leafOf(path: string): string {
  const noFilter = path.replace(/\[[^\]]*\]/g, '');
  const afterUrn = noFilter.slice(noFilter.lastIndexOf(':') + 1);
  return afterUrn.split('.').pop() ?? '';
}

function coerceLeaf(path: string, value: unknown): unknown {
  if (BOOLEAN_LEAVES.has(leafOf(path))) {
    const b = coerceBoolean(value);
    return b === undefined ? value : b;
  }
  return value;
}

/**
 * Expands a path-less add/replace value object into one op per attribute (sub-attributes of complex
 * values become their own paths, which is RFC 7644 §3.5.2.3's "unspecified sub-attributes unchanged").
 */
function expandValueObject(op: Op, value: Record<string, unknown>): NormalisedOp[] {
  const out: NormalisedOp[] = [];
  for (const [rawKey, v] of Object.entries(value)) {
    const schema = schemaUrn(rawKey);
    if (schema && isPlainObject(v)) {
      // Extension object: {"urn:…:enterprise:2.0:User": {"department": "x"}}
      for (const [sub, sv] of Object.entries(v)) out.push(...expandComplex(op, `${schema}:${canonicalName(sub)}`, sv));
    } else {
      out.push(...expandComplex(op, canonicalPath(rawKey), v));
    }
  }
  return out;
}

/** The canonical schema URN if `key` names a whole schema (not an attribute inside one). */
function schemaUrn(key: string): string | undefined {
  if (!key.toLowerCase().startsWith('urn:')) return undefined;
  const canon = canonicalName(key);
  if (canon === ENTERPRISE_SCHEMA || canon === USER_SCHEMA) return canon;
  const last = key.slice(key.lastIndexOf(':') + 1);
  return last === 'User' || last === 'Group' ? key : undefined; // other extensions name their resource type last
}

function expandComplex(op: Op, path: string, v: unknown): NormalisedOp[] {
  if (isPlainObject(v) && !path.includes('[')) {
    return Object.entries(v).map(([sub, sv]) => ({ op, path: `${path}.${canonicalName(sub)}`, value: coerceLeaf(sub, sv) }));
  }
  return [{ op, path, value: coerceLeaf(path, v) }];
}

/**
 * Validates a PatchOp body and normalises its operations. Throws ScimError 400 invalidSyntax for a
 * malformed body, invalidPath for a missing/bad path, mutability for id/meta/schemas.
 */
export function normalisePatch(body: unknown): NormalisedOp[] {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'PATCH body must be a JSON object');
  const schemas = body.schemas;
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
    throw badRequest('invalidSyntax', `schemas must include ${PATCH_OP_SCHEMA}`);
  }
  const opsKey = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const ops = opsKey ? body[opsKey] : undefined;
  if (!Array.isArray(ops) || ops.length === 0) throw badRequest('invalidSyntax', 'Operations must be a non-empty array');
  const out: NormalisedOp[] = [];
  ops.forEach((raw, i) => {
    if (!isPlainObject(raw)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object`);
    const opName = typeof raw.op === 'string' ? raw.op.toLowerCase() : '';
    if (opName !== 'add' && opName !== 'remove' && opName !== 'replace') {
      throw badRequest('invalidSyntax', `Operations[${i}].op must be add, remove or replace`);
    }
    const op = opName as Op;
    if (raw.path !== undefined && (typeof raw.path !== 'string' || raw.path.trim() === '')) {
      throw badRequest('invalidPath', `Operations[${i}].path must be a non-empty string`);
    }
    const path = typeof raw.path === 'string' ? canonicalPath(raw.path) : undefined;
    if (op === 'remove') {
      if (!path) throw badRequest('noTarget', `Operations[${i}]: remove requires a path`);
      out.push({ op, path });
      return;
    }
    if (!('value' in raw)) throw badRequest('invalidValue', `Operations[${i}].value is required for ${op}`);
    if (path === undefined || (schemaUrn(path) && isPlainObject(raw.value))) {
      if (!isPlainObject(raw.value)) throw badRequest('invalidValue', `Operations[${i}].value must be an object when path is absent`);
      out.push(...expandValueObject(op, path === undefined ? raw.value : { [path]: raw.value }));
    } else {
      out.push({ op, path, value: coerceLeaf(path, raw.value) });
    }
  });
  for (const o of out) {
    if (o.path && IMMUTABLE_ROOTS.has(rootOf(o.path))) throw badRequest('mutability', `${o.path} is read-only`);
  }
  return out;
}

/**
 * Applies a PatchOp body to a resource and returns the new resource (the input is not modified).
 * Any failing operation fails the whole request (atomic), as RFC 7644 requires.
 */
export function applyPatch(resource: ScimResourceBody, body: unknown): ScimResourceBody {
  const ops = normalisePatch(body);
  // scim-patch wants meta/schemas on the resource; we strip meta again afterwards.
  const working = { ...JSON.parse(JSON.stringify(resource)), meta: { created: new Date(0), lastModified: new Date(0) } } as ScimResource;
  if (!Array.isArray((working as unknown as ScimResourceBody).schemas)) (working as { schemas: string[] }).schemas = [USER_SCHEMA];
  let patched: ScimResource;
  try {
    patched = scimPatch(working, ops as ScimPatchOperation[], { mutateDocument: true, treatMissingAsAdd: true });
  } catch (err) {
    if (err instanceof ScimError) throw err;
    if (err instanceof NoTarget) throw badRequest('noTarget', err.message);
    if (err instanceof LibScimError) throw badRequest('invalidPath', err.message || 'invalid patch operation');
    throw badRequest('invalidValue', (err as Error).message || 'invalid patch operation');
  }
  const out = patched as unknown as ScimResourceBody;
  delete out.meta;
  // Adding an extension attribute must declare the extension schema.
  if (isPlainObject(out[ENTERPRISE_SCHEMA]) && Array.isArray(out.schemas) && !(out.schemas as string[]).includes(ENTERPRISE_SCHEMA)) {
    out.schemas = [...(out.schemas as string[]), ENTERPRISE_SCHEMA];
  }
  return out;
}
