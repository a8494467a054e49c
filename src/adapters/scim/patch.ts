/**
 * SCIM PATCH (RFC 7644 §3.5.2) as IdPs really send it: case-insensitive ops (Entra's "Replace"),
 * string booleans ("False"), Okta's path-less replace with a value object, URN-prefixed extension
 * paths. Operations are normalised here and applied by `scim-patch`, all or nothing; value filters
 * in paths select entries with SCIM's case rules here, not scim-patch's exact comparison.
 */
import {
  InvalidScimPatchOp,
  NoTarget,
  scimPatch,
  ScimError as LibScimError,
  type ScimPatchOperation,
  type ScimResource,
} from 'scim-patch';
import { badRequest, ScimError } from './errors';
import { isCaseExact } from './discovery';
import { compileValueFilter, type ValueFilter } from './filter';
import { canonicalName, ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from './schema-names';
import { coerceBoolean, type ScimResourceBody } from './user';

type Op = 'add' | 'remove' | 'replace';

/** One normalised operation. */
export interface NormalisedOp {
  op: Op;
  path?: string;
  /** For `remove`: the entries to remove from a multi-valued attribute (Entra's `value: [{value}]`). */
  value?: unknown;
}

/** What the patch is applied to, beyond its body. */
export interface PatchContext {
  /** The resource's own id: an add/replace of `id` with exactly this value is a no-op (Okta sends it). */
  id?: string;
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
export function normalisePatch(body: unknown, ctx: PatchContext = {}): NormalisedOp[] {
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
      if (raw.value === undefined || raw.value === null || path.includes('[')) {
        out.push({ op, path });
      } else {
        // Entra: {"op":"Remove","path":"members","value":[{"value":"<id>"}]} removes only those entries.
        const items = Array.isArray(raw.value) ? raw.value : [raw.value];
        const values = items.map((item, j) => {
          const key = isPlainObject(item) ? Object.keys(item).find((k) => k.toLowerCase() === 'value') : undefined;
          if (!isPlainObject(item) || key === undefined) {
            throw badRequest('invalidValue', `Operations[${i}].value[${j}] must be an object with a value`);
          }
          return item[key];
        });
        out.push({ op, path, value: values });
      }
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
  const kept: NormalisedOp[] = [];
  for (const o of out) {
    // Okta's group rename repeats the resource's own id in the value object: nothing to change.
    if (o.op !== 'remove' && o.path === 'id' && ctx.id !== undefined && o.value === ctx.id) continue;
    if (o.path && IMMUTABLE_ROOTS.has(rootOf(o.path))) throw badRequest('mutability', `${o.path} is read-only`);
    kept.push(o);
  }
  return kept;
}

function keyOf(obj: Record<string, unknown>, name: string): string | undefined {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
}

/** Entries of a multi-valued attribute compare by `value`, case-sensitively only where it is caseExact (member ids). */
function sameValue(attr: string, a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    return isCaseExact(`${attr}.value`) ? a === b : a.toLowerCase() === b.toLowerCase();
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The object holding the attribute at `path` (no filter; dotted names and a schema URN prefix allowed)
 * and the attribute's key in it (its existing spelling, else the last name); no parent when absent.
 */
function locate(resource: Record<string, unknown>, path: string): { parent?: Record<string, unknown>; key: string } {
  const colon = path.lastIndexOf(':');
  let parent: unknown = resource;
  const urn = colon >= 0 ? canonicalName(path.slice(0, colon)) : '';
  if (urn && urn !== USER_SCHEMA && urn !== GROUP_SCHEMA) {
    // Core schema URNs are only a prefix; any other URN names an extension object.
    const urnKey = keyOf(resource, urn);
    parent = urnKey === undefined ? undefined : resource[urnKey];
  }
  const names = path.slice(colon + 1).split('.');
  const last = names.pop()!;
  for (const n of names) {
    const k = isPlainObject(parent) ? keyOf(parent, n) : undefined;
    parent = k === undefined ? undefined : (parent as Record<string, unknown>)[k];
  }
  if (!isPlainObject(parent)) return { key: last };
  return { parent, key: keyOf(parent, last) ?? last };
}

/**
 * `remove` with an unfiltered path and a value list: removes the entries of the multi-valued attribute
 * whose `value` is listed (none listed present: nothing changes, like removing an absent attribute).
 * Returns false when the target is not multi-valued, for the caller to remove it as before.
 */
function removeListedValues(resource: Record<string, unknown>, path: string, values: unknown[]): boolean {
  const { parent, key } = locate(resource, path);
  if (!parent || !Object.hasOwn(parent, key)) return true; // absent: nothing to remove
  const list = parent[key];
  if (!Array.isArray(list)) return false;
  const remaining = list.filter((entry) => {
    const vk = isPlainObject(entry) ? keyOf(entry, 'value') : undefined;
    return vk === undefined || !values.some((v) => sameValue(key, (entry as Record<string, unknown>)[vk], v));
  });
  if (remaining.length === 0) delete parent[key];
  else parent[key] = remaining;
  return true;
}

/** `attr[filter]` or `attr[filter].sub`, split; undefined for any other path. */
function splitValuePath(path: string): { attr: string; filter: string; sub?: string } | undefined {
  const open = path.indexOf('[');
  if (open <= 0) return undefined;
  let close = open + 1;
  for (let quoted = false; close < path.length; close++) {
    const ch = path[close];
    if (quoted && ch === '\\') close++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === ']' && !quoted) break;
  }
  const sub = /^(?:\.([A-Za-z$][\w$-]*))?$/.exec(path.slice(close + 1));
  if (close >= path.length || !sub) return undefined;
  return { attr: path.slice(0, open), filter: path.slice(open + 1, close), sub: sub[1] };
}

/**
 * Applies an operation whose path has a value filter (`emails[type eq "Work"].value`) to the entries
 * the filter selects with SCIM's case rules (RFC 7644 §3.4.2.2: `type` is not caseExact, so "Work"
 * selects "work"); scim-patch would compare exactly and, finding no entry, append a duplicate one.
 * Each selected entry is still patched by scim-patch. Returns false, leaving the operation to
 * scim-patch as before, when the path has no value filter or the attribute has no list of entries.
 */
function applyValuePath(resource: Record<string, unknown>, o: NormalisedOp): boolean {
  const vp = o.path === undefined ? undefined : splitValuePath(o.path);
  if (!vp) return false;
  // Compiled before looking at the resource: a malformed filter is invalidPath whether or not the
  // attribute has values (scim-patch would call it an invalidValue on an absent attribute).
  let filter: ValueFilter;
  try {
    filter = compileValueFilter(vp.attr, vp.filter);
  } catch (err) {
    throw badRequest('invalidPath', `invalid filter in path ${o.path}: ${(err as Error).message}`);
  }
  const { parent, key } = locate(resource, vp.attr);
  const list = parent?.[key];
  if (!parent || !Array.isArray(list)) return false;
  const selected = list.filter((e) => isPlainObject(e) && filter.test(e)) as Record<string, unknown>[];
  if (selected.length === 0) {
    const { ast } = filter;
    // As scim-patch: an add/replace of a sub-attribute through `attr eq "x"` creates that entry.
    if (o.op !== 'remove' && vp.sub && ast.op === 'eq') {
      list.push({ [canonicalName(ast.attrPath)]: ast.compValue, [vp.sub]: o.value });
      return true;
    }
    if (o.op === 'add' && !vp.sub) return true; // as scim-patch: nothing to add to
    throw badRequest('noTarget', `${o.path} matched nothing`);
  }
  if (o.op === 'remove' && !vp.sub) {
    const remaining = list.filter((e) => !selected.includes(e as Record<string, unknown>));
    if (remaining.length === 0) delete parent[key]; // RFC 7644 §3.5.2.2: no values left is unassigned
    else parent[key] = remaining;
    return true;
  }
  const op = { op: o.op, ...(vp.sub ? { path: vp.sub } : {}), ...(o.op === 'remove' ? {} : { value: o.value }) } as ScimPatchOperation;
  for (const entry of selected) {
    list[list.indexOf(entry)] = scimPatch(entry as unknown as ScimResource, [op], { mutateDocument: true, treatMissingAsAdd: true });
  }
  return true;
}

/**
 * Whether scim-patch failed a filtered path because the filter had nothing to match: no entry matched
 * (FilterArrayTargetNotFound), or the multi-valued attribute has no value (FilterOnEmptyArray on an
 * absent attribute; on a present single-valued one the path is invalid instead).
 */
function filterMatchedNothing(resource: Record<string, unknown>, err: unknown): boolean {
  if (!(err instanceof InvalidScimPatchOp)) return false;
  const name = err.constructor.name;
  if (name === 'FilterArrayTargetNotFound') return true;
  if (name !== 'FilterOnEmptyArray') return false;
  const attrName = (err as { attrName?: unknown }).attrName;
  const value = typeof attrName === 'string' ? resource[attrName] : undefined;
  return value === undefined || value === null;
}

/**
 * Applies a PatchOp body to a resource and returns the new resource (the input is not modified).
 * Any failing operation fails the whole request (atomic), as RFC 7644 requires.
 */
export function applyPatch(resource: ScimResourceBody, body: unknown, ctx: PatchContext = {}): ScimResourceBody {
  const ops = normalisePatch(body, ctx);
  // scim-patch wants meta/schemas on the resource; we strip meta again afterwards.
  const working = { ...JSON.parse(JSON.stringify(resource)), meta: { created: new Date(0), lastModified: new Date(0) } } as ScimResource;
  if (!Array.isArray((working as unknown as ScimResourceBody).schemas)) (working as { schemas: string[] }).schemas = [USER_SCHEMA];
  let patched: ScimResource = working;
  try {
    // One operation at a time on the private copy: an error anywhere still discards them all.
    for (const o of ops) {
      const doc = patched as unknown as Record<string, unknown>;
      if (o.op === 'remove' && Array.isArray(o.value)) {
        if (removeListedValues(doc, o.path!, o.value)) continue;
      }
      const op = o.op === 'remove' ? { op: o.op, path: o.path } : o;
      // RFC 7644 §3.12: noTarget when a path's filter yields no match. (An unfiltered remove of an
      // attribute without a value changes nothing and is not an error.)
      const filteredRemove = o.op === 'remove' && o.path!.includes('[');
      const before = filteredRemove ? JSON.stringify(patched) : undefined;
      if (!applyValuePath(doc, o)) {
        try {
          patched = scimPatch(patched, [op as ScimPatchOperation], { mutateDocument: true, treatMissingAsAdd: true });
        } catch (err) {
          if (filteredRemove && filterMatchedNothing(doc, err)) throw badRequest('noTarget', `${o.path} matched nothing`);
          throw err;
        }
      }
      if (before !== undefined && JSON.stringify(patched) === before) throw badRequest('noTarget', `${o.path} matched nothing`);
    }
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
