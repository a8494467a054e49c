/**
 * SCIM filters (RFC 7644 §3.4.2.2) through `scim2-parse-filter`, evaluated with SCIM's case rules:
 * attribute names are case-insensitive, string values compare case-insensitively unless the
 * attribute is caseExact (id, externalId). Also spots the indexed lookups IdPs actually send.
 */
import { parse, Tester, type Filter } from 'scim2-parse-filter';
import { badRequest } from './errors';
import { isCaseExact } from './schema-names';

/** A compiled filter: a predicate plus, when the filter is a single `eq`, the attribute and value. */
export interface CompiledFilter {
  test(resource: Record<string, unknown>): boolean;
  /** Set for `attr eq "value"` on an indexed attribute so the store can use its index. */
  indexed?: { attribute: 'userName' | 'externalId' | 'id' | 'email' | 'displayName'; value: string };
}

const MAX_FILTER_LENGTH = 4096;

/** Compares strings case-insensitively where the attribute is not caseExact. */
class CaseAwareTester extends Tester {
  constructor(private readonly fold: boolean) {
    super();
  }
  private norm(v: unknown): any { // eslint-disable-line @typescript-eslint/no-explicit-any -- the library types its operands loosely
    return this.fold && typeof v === 'string' ? v.toLowerCase() : v;
  }
  eq(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.eq(this.norm(r), this.norm(v));
  }
  ne(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.ne(this.norm(r), this.norm(v));
  }
  co(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.co(this.norm(r), this.norm(v));
  }
  sw(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.sw(this.norm(r), this.norm(v));
  }
  ew(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.ew(this.norm(r), this.norm(v));
  }
  gt(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.gt(this.norm(r), this.norm(v));
  }
  ge(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.ge(this.norm(r), this.norm(v));
  }
  lt(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.lt(this.norm(r), this.norm(v));
  }
  le(r: any, v: any): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return super.le(this.norm(r), this.norm(v));
  }
}

const folding = new CaseAwareTester(true);
const exact = new CaseAwareTester(false);

/** Evaluates a parsed filter; each comparison picks the case rule of its own attribute. */
function evaluate(f: Filter, r: Record<string, unknown>, prefix = ''): boolean {
  switch (f.op) {
    case 'and':
      return f.filters.every((c) => evaluate(c, r, prefix));
    case 'or':
      return f.filters.some((c) => evaluate(c, r, prefix));
    case 'not':
      return !evaluate(f.filter, r, prefix);
    case '[]': {
      // Value filter: some element of the multi-valued attribute matches the inner filter.
      const values = readCaseInsensitive(r, f.attrPath);
      const list = Array.isArray(values) ? values : values === undefined ? [] : [values];
      return list.some((e) => typeof e === 'object' && e !== null && evaluate(f.valFilter, e as Record<string, unknown>, `${f.attrPath}.`));
    }
    default: {
      const tester = isCaseExact(prefix + f.attrPath) ? exact : folding;
      return tester.test(r, f);
    }
  }
}

function readCaseInsensitive(r: Record<string, unknown>, path: string): unknown {
  const key = Object.keys(r).find((k) => k.toLowerCase() === path.toLowerCase());
  return key === undefined ? undefined : r[key];
}

const INDEXED: Record<string, NonNullable<CompiledFilter['indexed']>['attribute']> = {
  username: 'userName',
  externalid: 'externalId',
  id: 'id',
  'emails.value': 'email',
  displayname: 'displayName',
};

/** Parses a filter string; throws ScimError 400 invalidFilter on bad syntax. */
export function compileFilter(text: string): CompiledFilter {
  if (text.length > MAX_FILTER_LENGTH) throw badRequest('invalidFilter', 'filter is too long');
  let ast: Filter;
  try {
    ast = parse(text);
  } catch (err) {
    throw badRequest('invalidFilter', `invalid filter: ${(err as Error).message}`);
  }
  const compiled: CompiledFilter = { test: (r) => evaluate(ast, r) };
  // The store narrows candidates by index and still applies the full predicate to them.
  const candidates = ast.op === 'and' ? ast.filters : [ast];
  for (const c of candidates) {
    if (c.op !== 'eq' || typeof c.compValue !== 'string') continue;
    const attribute = INDEXED[c.attrPath.toLowerCase()];
    if (attribute) {
      compiled.indexed = { attribute, value: c.compValue };
      break;
    }
  }
  return compiled;
}
