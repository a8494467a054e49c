/**
 * SCIM filters (RFC 7644 §3.4.2.2) through `scim2-parse-filter`, evaluated with SCIM's case rules:
 * attribute names are case-insensitive, string values compare case-insensitively unless the
 * attribute is caseExact (per the schemas in discovery.ts), dateTime values as instants. Also spots
 * the indexed lookups IdPs actually send, and compiles the value filters of PATCH paths
 * (`emails[type eq "work"]`).
 */
import { parse, Tester, type Filter } from 'scim2-parse-filter';
import { badRequest } from './errors';
import { isCaseExact, isDateTime } from './discovery';

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

/** An instant in ms from an ISO 8601 string, else NaN. */
function instant(v: unknown): number {
  return typeof v === 'string' ? Date.parse(v) : NaN;
}

/**
 * Compares dateTime attributes (meta.created, meta.lastModified) as instants: RFC 7644 §3.4.2.2 makes
 * gt/ge/lt/le chronological, and the same instant may be written with or without fractional seconds
 * or with another offset ("2026-05-13T04:42:34Z" is Tether's "2026-05-13T04:42:34.000Z"), which text
 * comparison gets wrong. A value that is not a time falls back to text (case-insensitive), as do
 * sw/co/ew.
 */
class DateTimeTester extends CaseAwareTester {
  constructor() {
    super(true);
  }
  // The comparison of two instants, or the text comparison of the base tester when either is not a time.
  private chrono(op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le', r: unknown, v: unknown, holds: (d: number) => boolean): boolean {
    const a = instant(r);
    const b = instant(v);
    return Number.isFinite(a) && Number.isFinite(b) ? holds(a - b) : super[op](r, v);
  }
  /* eslint-disable @typescript-eslint/no-explicit-any */
  eq(r: any, v: any): boolean {
    return this.chrono('eq', r, v, (d) => d === 0);
  }
  ne(r: any, v: any): boolean {
    return this.chrono('ne', r, v, (d) => d !== 0);
  }
  gt(r: any, v: any): boolean {
    return this.chrono('gt', r, v, (d) => d > 0);
  }
  ge(r: any, v: any): boolean {
    return this.chrono('ge', r, v, (d) => d >= 0);
  }
  lt(r: any, v: any): boolean {
    return this.chrono('lt', r, v, (d) => d < 0);
  }
  le(r: any, v: any): boolean {
    return this.chrono('le', r, v, (d) => d <= 0);
  }
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

const folding = new CaseAwareTester(true);
const exact = new CaseAwareTester(false);
const dateTime = new DateTimeTester();

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
      const path = prefix + f.attrPath;
      const tester = isDateTime(path) ? dateTime : isCaseExact(path) ? exact : folding;
      return tester.test(r, f);
    }
  }
}

const SUB_ATTR_COMPARISON = /^\.([A-Za-z$][\w$-]*)\s+(eq|ne|co|sw|ew|gt|ge|lt|le|pr)(?![\w$-])/i;
const COMP_VALUE = /^\s+("(?:[^"\\]|\\.)*"|[^\s()[\]"]+)/;

/**
 * Rewrites `attr[valFilter].sub op value` as `attr[(valFilter) and sub op value]`.
 *
 * RFC 7644 §3.4.2.2: a value path followed by a sub-attribute comparison selects ONE entry of the
 * multi-valued attribute that satisfies both. scim2-parse-filter instead returns
 * `and(attr[valFilter], attr.sub op value)`, whose halves may be satisfied by different entries
 * (a work email carol@ plus a home email dave@ matched `emails[type eq "work"].value eq "dave@…"`),
 * and the same AST as the explicit `attr[valFilter] and attr.sub op value`, so it cannot be fixed
 * on the AST. Only text outside quoted strings is rewritten.
 */
export function mergeValuePathComparisons(text: string): string {
  let out = '';
  let open = -1; // index in `out` just after the '[' of the value path being read
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      const m = /^"(?:[^"\\]|\\.)*"?/.exec(text.slice(i))!;
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (ch === '[' && open < 0) {
      out += ch;
      open = out.length;
      i += 1;
      continue;
    }
    if (ch === ']' && open >= 0) {
      const rest = text.slice(i + 1);
      const cmp = SUB_ATTR_COMPARISON.exec(rest);
      let consumed = cmp ? cmp[0].length : 0;
      let value = '';
      if (cmp && cmp[2].toLowerCase() !== 'pr') {
        const v = COMP_VALUE.exec(rest.slice(consumed));
        if (v) {
          value = ` ${v[1]}`;
          consumed += v[0].length;
        } else {
          consumed = 0; // no comparison value: leave it to the parser to reject
        }
      }
      if (cmp && consumed > 0) {
        out = `${out.slice(0, open)}(${out.slice(open)}) and ${cmp[1]} ${cmp[2]}${value}]`;
        i += 1 + consumed;
      } else {
        out += ch;
        i += 1;
      }
      open = -1;
      continue;
    }
    out += ch;
    i += 1;
  }
  return out;
}

function readCaseInsensitive(r: Record<string, unknown>, path: string): unknown {
  const key = Object.keys(r).find((k) => k.toLowerCase() === path.toLowerCase());
  return key === undefined ? undefined : r[key];
}

/** The parser's message for the filter as the client wrote it (the rewritten text would confuse). */
function syntaxError(text: string, err: unknown): string {
  try {
    parse(text);
  } catch (original) {
    return (original as Error).message;
  }
  return (err as Error).message;
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
    ast = parse(mergeValuePathComparisons(text));
  } catch (err) {
    throw badRequest('invalidFilter', `invalid filter: ${syntaxError(text, err)}`);
  }
  const compiled: CompiledFilter = { test: (r) => evaluate(ast, r) };
  // The store narrows candidates by index and still applies the full predicate to them.
  const candidates = ast.op === 'and' ? ast.filters : [ast];
  for (const c of candidates) {
    const idx = indexedComparison(c);
    if (idx) {
      compiled.indexed = idx;
      break;
    }
  }
  return compiled;
}

/** A PATCH path's value filter, e.g. `type eq "work"` of `emails[type eq "work"].value`. */
export interface ValueFilter {
  /** Whether one entry of the multi-valued attribute matches, each sub-attribute with its own case rule. */
  test(entry: Record<string, unknown>): boolean;
  /** The parsed filter. */
  ast: Filter;
}

/** Compiles the value filter `text` of the multi-valued attribute `attrPath`; throws the parser's Error on bad syntax. */
export function compileValueFilter(attrPath: string, text: string): ValueFilter {
  const ast = parse(text);
  return { ast, test: (entry) => evaluate(ast, entry, `${attrPath}.`) };
}

/** The index an `eq` conjunct can use; `emails[… and value eq "x"]` (a merged value path) uses the email index. */
function indexedComparison(c: Filter, prefix = ''): CompiledFilter['indexed'] {
  if (c.op === 'eq' && typeof c.compValue === 'string') {
    const attribute = INDEXED[(prefix + c.attrPath).toLowerCase()];
    return attribute ? { attribute, value: c.compValue } : undefined;
  }
  if (c.op === '[]' && !prefix && c.attrPath.toLowerCase() === 'emails') {
    const inner = c.valFilter.op === 'and' ? c.valFilter.filters : [c.valFilter];
    for (const f of inner) {
      const idx = indexedComparison(f, 'emails.');
      if (idx) return idx;
    }
  }
  return undefined;
}
