// Test-only built-ins for the reference IR interpreter: a practical subset of OPA's, with OPA's
// names and arities. Errors throw BuiltinError (undefined unless strict, like OPA).

import type { RValue } from './ir-values';
import { compare, equal, fromJSON, keyOf, RObject, RSet, toJSON, typeName } from './ir-values';

export class BuiltinError extends Error {
  constructor(
    message: string,
    readonly code = 'eval_type_error',
    /** errors OPA raises even without strict mode (e.g. divide by zero) */
    readonly always = false,
  ) {
    super(message);
  }
}

interface Builtin {
  arity: number;
  fn: (...args: RValue[]) => RValue | undefined;
}

const num = (v: RValue, name: string, pos = 1): number => {
  if (typeof v !== 'number') throw new BuiltinError(`${name}: operand ${pos} must be number but got ${typeName(v)}`);
  return v;
};
const str = (v: RValue, name: string, pos = 1): string => {
  if (typeof v !== 'string') throw new BuiltinError(`${name}: operand ${pos} must be string but got ${typeName(v)}`);
  return v;
};
const arr = (v: RValue, name: string, pos = 1): RValue[] => {
  if (!Array.isArray(v)) throw new BuiltinError(`${name}: operand ${pos} must be array but got ${typeName(v)}`);
  return v;
};
const obj = (v: RValue, name: string, pos = 1): RObject => {
  if (!(v instanceof RObject)) throw new BuiltinError(`${name}: operand ${pos} must be object but got ${typeName(v)}`);
  return v;
};
const set = (v: RValue, name: string, pos = 1): RSet => {
  if (!(v instanceof RSet)) throw new BuiltinError(`${name}: operand ${pos} must be set but got ${typeName(v)}`);
  return v;
};
const items = (v: RValue, name: string): RValue[] => {
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.values();
  if (v instanceof RObject) return v.entries().map(([, x]) => x);
  throw new BuiltinError(`${name}: operand 1 must be one of {array, set} but got ${typeName(v)}`);
};

function arith(name: string, f: (a: number, b: number) => number): Builtin {
  return { arity: 2, fn: (a, b) => f(num(a, name, 1), num(b, name, 2)) };
}

function sprintf(format: string, args: RValue[]): string {
  let i = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([vsdfgxXtqeob%])/g, (m, flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    switch (verb) {
      case 'd':
        return typeof a === 'number' ? String(Math.trunc(a)) : String(a);
      case 's':
        return typeof a === 'string' ? a : JSON.stringify(toJSON(a));
      case 'f': {
        const prec = /\.(\d+)/.exec(flags);
        return typeof a === 'number' ? a.toFixed(prec ? Number(prec[1]) : 6) : String(a);
      }
      case 'x':
        return typeof a === 'number' ? a.toString(16) : Buffer.from(String(a)).toString('hex');
      case 'q':
        return JSON.stringify(a);
      case 't':
        return String(a);
      default:
        return typeof a === 'string' ? a : formatValue(a);
    }
  });
}

/** Rego's %v formatting (OPA's term String()). */
function formatValue(v: RValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (v instanceof RSet) return v.size === 0 ? 'set()' : `{${v.values().map(formatValue).join(', ')}}`;
  return `{${v.entries().map(([k, x]) => `${formatValue(k)}: ${formatValue(x)}`).join(', ')}}`;
}

const cmp = (f: (c: number) => boolean): Builtin => ({ arity: 2, fn: (a, b) => f(compare(a, b)) });

export const BUILTINS: Record<string, Builtin> = {
  equal: { arity: 2, fn: (a, b) => equal(a, b) },
  neq: { arity: 2, fn: (a, b) => !equal(a, b) },
  lt: cmp((c) => c < 0),
  lte: cmp((c) => c <= 0),
  gt: cmp((c) => c > 0),
  gte: cmp((c) => c >= 0),
  plus: arith('plus', (a, b) => a + b),
  mul: arith('mul', (a, b) => a * b),
  minus: {
    arity: 2,
    fn: (a, b) => {
      if (a instanceof RSet && b instanceof RSet) return RSet.from(a.values().filter((x) => !b.has(x)));
      return num(a, 'minus', 1) - num(b, 'minus', 2);
    },
  },
  div: {
    arity: 2,
    fn: (a, b) => {
      const x = num(a, 'div', 1);
      const y = num(b, 'div', 2);
      if (y === 0) throw new BuiltinError('div: divide by zero', 'eval_builtin_error', true);
      return x / y;
    },
  },
  rem: {
    arity: 2,
    fn: (a, b) => {
      const x = num(a, 'rem', 1);
      const y = num(b, 'rem', 2);
      if (!Number.isInteger(x) || !Number.isInteger(y)) throw new BuiltinError('rem: modulo on floating-point number', 'eval_builtin_error', true);
      if (y === 0) throw new BuiltinError('rem: modulo by zero', 'eval_builtin_error', true);
      return x % y;
    },
  },
  abs: { arity: 1, fn: (a) => Math.abs(num(a, 'abs')) },
  round: { arity: 1, fn: (a) => Math.sign(num(a, 'round')) * Math.round(Math.abs(a as number)) },
  ceil: { arity: 1, fn: (a) => Math.ceil(num(a, 'ceil')) },
  floor: { arity: 1, fn: (a) => Math.floor(num(a, 'floor')) },
  and: { arity: 2, fn: (a, b) => RSet.from(set(a, 'and', 1).values().filter((x) => set(b, 'and', 2).has(x))) },
  or: { arity: 2, fn: (a, b) => RSet.from([...set(a, 'or', 1).values(), ...set(b, 'or', 2).values()]) },
  count: {
    arity: 1,
    fn: (a) => {
      if (typeof a === 'string') return [...a].length;
      if (Array.isArray(a)) return a.length;
      if (a instanceof RObject || a instanceof RSet) return a.size;
      throw new BuiltinError(`count: operand 1 must be one of {array, object, set, string} but got ${typeName(a)}`);
    },
  },
  sum: { arity: 1, fn: (a) => items(a, 'sum').reduce<number>((s, x) => s + num(x, 'sum'), 0) },
  product: { arity: 1, fn: (a) => items(a, 'product').reduce<number>((s, x) => s * num(x, 'product'), 1) },
  max: { arity: 1, fn: (a) => (items(a, 'max').length ? items(a, 'max').reduce((m, x) => (compare(x, m) > 0 ? x : m)) : undefined) },
  min: { arity: 1, fn: (a) => (items(a, 'min').length ? items(a, 'min').reduce((m, x) => (compare(x, m) < 0 ? x : m)) : undefined) },
  sort: { arity: 1, fn: (a) => [...items(a, 'sort')].sort(compare) },
  concat: { arity: 2, fn: (d, xs) => items(xs, 'concat').map((x) => str(x, 'concat', 2)).join(str(d, 'concat')) },
  contains: { arity: 2, fn: (a, b) => str(a, 'contains').includes(str(b, 'contains', 2)) },
  startswith: { arity: 2, fn: (a, b) => str(a, 'startswith').startsWith(str(b, 'startswith', 2)) },
  endswith: { arity: 2, fn: (a, b) => str(a, 'endswith').endsWith(str(b, 'endswith', 2)) },
  lower: { arity: 1, fn: (a) => str(a, 'lower').toLowerCase() },
  upper: { arity: 1, fn: (a) => str(a, 'upper').toUpperCase() },
  split: { arity: 2, fn: (a, b) => str(a, 'split').split(str(b, 'split', 2)) },
  replace: { arity: 3, fn: (a, b, c) => str(a, 'replace').split(str(b, 'replace', 2)).join(str(c, 'replace', 3)) },
  trim: { arity: 2, fn: (a, b) => trimChars(str(a, 'trim'), str(b, 'trim', 2), true, true) },
  trim_left: { arity: 2, fn: (a, b) => trimChars(str(a, 'trim_left'), str(b, 'trim_left', 2), true, false) },
  trim_right: { arity: 2, fn: (a, b) => trimChars(str(a, 'trim_right'), str(b, 'trim_right', 2), false, true) },
  trim_prefix: { arity: 2, fn: (a, b) => (str(a, 'trim_prefix').startsWith(str(b, 'trim_prefix', 2)) ? (a as string).slice((b as string).length) : a) },
  trim_suffix: {
    arity: 2,
    fn: (a, b) => (str(a, 'trim_suffix').endsWith(str(b, 'trim_suffix', 2)) && (b as string).length ? (a as string).slice(0, -(b as string).length) : a),
  },
  trim_space: { arity: 1, fn: (a) => str(a, 'trim_space').trim() },
  substring: {
    arity: 3,
    fn: (s, start, len) => {
      const cps = [...str(s, 'substring')];
      const b = num(start, 'substring', 2);
      const l = num(len, 'substring', 3);
      if (b < 0) throw new BuiltinError('substring: negative offset', 'eval_builtin_error');
      return l < 0 ? cps.slice(b).join('') : cps.slice(b, b + l).join('');
    },
  },
  indexof: { arity: 2, fn: (a, b) => [...str(a, 'indexof')].join('').indexOf(str(b, 'indexof', 2)) },
  sprintf: { arity: 2, fn: (f, args) => sprintf(str(f, 'sprintf'), arr(args, 'sprintf', 2)) },
  'strings.reverse': { arity: 1, fn: (a) => [...str(a, 'strings.reverse')].reverse().join('') },
  to_number: {
    arity: 1,
    fn: (a) => {
      if (a === null) return 0;
      if (typeof a === 'boolean') return a ? 1 : 0;
      if (typeof a === 'number') return a;
      if (/^[+-]?(inf|infinity|nan)$/i.test(str(a, 'to_number'))) throw new BuiltinError('to_number: invalid number', 'eval_type_error');
      const n = Number(a);
      if ((a as string).trim() === '' || Number.isNaN(n)) throw new BuiltinError(`strconv.ParseFloat: parsing ${JSON.stringify(a)}: invalid syntax`, 'eval_builtin_error');
      return n;
    },
  },
  is_number: { arity: 1, fn: (a) => typeof a === 'number' },
  is_string: { arity: 1, fn: (a) => typeof a === 'string' },
  is_boolean: { arity: 1, fn: (a) => typeof a === 'boolean' },
  is_array: { arity: 1, fn: (a) => Array.isArray(a) },
  is_object: { arity: 1, fn: (a) => a instanceof RObject },
  is_set: { arity: 1, fn: (a) => a instanceof RSet },
  is_null: { arity: 1, fn: (a) => a === null },
  type_name: { arity: 1, fn: (a) => typeName(a) },
  'object.get': {
    arity: 3,
    fn: (o, k, d) => {
      obj(o, 'object.get');
      if (!Array.isArray(k)) {
        const v = (o as RObject).get(k);
        return v === undefined ? d : v;
      }
      let cur: RValue | undefined = o;
      for (const p of k) {
        if (cur instanceof RObject) cur = cur.get(p);
        else if (Array.isArray(cur) && typeof p === 'number') cur = cur[p];
        else if (cur instanceof RSet) cur = cur.has(p) ? p : undefined;
        else cur = undefined;
        if (cur === undefined) return d;
      }
      return cur;
    },
  },
  'object.keys': { arity: 1, fn: (o) => RSet.from(obj(o, 'object.keys').entries().map(([k]) => k)) },
  'object.remove': {
    arity: 2,
    fn: (o, ks) => {
      const out = obj(o, 'object.remove').copy();
      let keys: RValue[];
      if (ks instanceof RObject) keys = ks.entries().map(([k]) => k);
      else if (Array.isArray(ks) || ks instanceof RSet) keys = items(ks, 'object.remove');
      else throw new BuiltinError(`object.remove: operand 2 must be one of {object, string, array} but got ${typeName(ks)}`);
      for (const k of keys) out.delete(k);
      return out;
    },
  },
  'object.union': { arity: 2, fn: (a, b) => union(obj(a, 'object.union'), obj(b, 'object.union', 2)) },
  'object.union_n': { arity: 1, fn: (a) => arr(a, 'object.union_n').reduce<RObject>((acc, x) => union(acc, obj(x, 'object.union_n')), new RObject()) },
  'object.filter': {
    arity: 2,
    fn: (o, ks) => {
      const keys = ks instanceof RObject ? ks.entries().map(([k]) => k) : items(ks, 'object.filter');
      const src = obj(o, 'object.filter');
      return RObject.from(keys.filter((k) => src.has(k)).map((k) => [k, src.get(k)!]));
    },
  },
  union: { arity: 1, fn: (a) => RSet.from(set(a, 'union').values().flatMap((x) => set(x, 'union').values())) },
  intersection: {
    arity: 1,
    fn: (a) => {
      const sets = set(a, 'intersection').values().map((x) => set(x, 'intersection'));
      if (sets.length === 0) return new RSet();
      return RSet.from(sets[0].values().filter((x) => sets.every((s) => s.has(x))));
    },
  },
  'array.concat': { arity: 2, fn: (a, b) => [...arr(a, 'array.concat'), ...arr(b, 'array.concat', 2)] },
  'array.slice': {
    arity: 3,
    fn: (a, i, j) => {
      const xs = arr(a, 'array.slice');
      const s = Math.max(0, num(i, 'array.slice', 2));
      const e = Math.min(xs.length, num(j, 'array.slice', 3));
      return s >= e ? [] : xs.slice(s, e);
    },
  },
  'array.reverse': { arity: 1, fn: (a) => [...arr(a, 'array.reverse')].reverse() },
  'numbers.range': {
    arity: 2,
    fn: (a, b) => {
      const x = num(a, 'numbers.range');
      const y = num(b, 'numbers.range', 2);
      const out: number[] = [];
      if (x <= y) for (let i = x; i <= y; i++) out.push(i);
      else for (let i = x; i >= y; i--) out.push(i);
      return out;
    },
  },
  'json.marshal': { arity: 1, fn: (a) => JSON.stringify(toJSON(a)) },
  'json.unmarshal': {
    arity: 1,
    fn: (a) => {
      try {
        return fromJSON(JSON.parse(str(a, 'json.unmarshal')));
      } catch {
        throw new BuiltinError('json.unmarshal: invalid JSON', 'eval_builtin_error');
      }
    },
  },
  'json.is_valid': {
    arity: 1,
    fn: (a) => {
      if (typeof a !== 'string') return false;
      try {
        JSON.parse(a);
        return true;
      } catch {
        return false;
      }
    },
  },
  'base64.encode': { arity: 1, fn: (a) => Buffer.from(str(a, 'base64.encode')).toString('base64') },
  'base64.decode': { arity: 1, fn: (a) => Buffer.from(str(a, 'base64.decode'), 'base64').toString() },
  'base64url.encode': { arity: 1, fn: (a) => Buffer.from(str(a, 'base64url.encode')).toString('base64').replace(/\+/g, '-').replace(/\//g, '_') },
  'base64url.encode_no_pad': { arity: 1, fn: (a) => Buffer.from(str(a, 'base64url.encode_no_pad')).toString('base64url') },
  'base64url.decode': { arity: 1, fn: (a) => Buffer.from(str(a, 'base64url.decode'), 'base64url').toString() },
  'internal.member_2': { arity: 2, fn: (x, c) => member(c).some((v) => equal(v, x)) },
  'internal.member_3': {
    arity: 3,
    fn: (k, x, c) => {
      if (Array.isArray(c)) return typeof k === 'number' && equal(c[k] ?? null, x) && c[k] !== undefined;
      if (c instanceof RObject) return c.has(k) && equal(c.get(k)!, x);
      return false;
    },
  },
  'strings.any_prefix_match': { arity: 2, fn: (a, b) => anyMatch(a, b, 'strings.any_prefix_match', (x, y) => x.startsWith(y)) },
  'strings.any_suffix_match': { arity: 2, fn: (a, b) => anyMatch(a, b, 'strings.any_suffix_match', (x, y) => x.endsWith(y)) },
  'strings.count': {
    arity: 2,
    fn: (a, b) => {
      const h = str(a, 'strings.count');
      const n = str(b, 'strings.count', 2);
      if (n === '') return [...h].length + 1;
      return h.split(n).length - 1;
    },
  },
  'array.flatten': { arity: 1, fn: (a) => flatten(arr(a, 'array.flatten')) },
  format_int: {
    arity: 2,
    fn: (n, b) => {
      const x = Math.trunc(num(n, 'format_int'));
      const base = num(b, 'format_int', 2);
      if (![2, 8, 10, 16].includes(base)) throw new BuiltinError('format_int: operand 2 must be one of {2, 8, 10, 16}', 'eval_builtin_error');
      return x.toString(base);
    },
  },
  'time.now_ns': { arity: 0, fn: () => Date.now() * 1e6 },
  'opa.runtime': { arity: 0, fn: () => new RObject() },
  // No network or crypto in tests: conformance cases only reach these through `with ... as` mocks.
  'http.send': { arity: 1, fn: unavailable('http.send') },
  'io.jwt.decode_verify': { arity: 2, fn: unavailable('io.jwt.decode_verify') },
  'glob.match': {
    arity: 3,
    fn: (p, d, m) => {
      const delims = d === null ? [] : arr(d, 'glob.match', 2).map((x) => str(x, 'glob.match', 2));
      return globRegExp(str(p, 'glob.match'), d !== null && delims.length === 0 ? ['.'] : delims).test(str(m, 'glob.match', 3));
    },
  },
  'regex.match': { arity: 2, fn: (p, s) => new RegExp(str(p, 'regex.match')).test(str(s, 'regex.match', 2)) },
  any: { arity: 1, fn: (a) => items(a, 'any').some((x) => x === true) },
  all: { arity: 1, fn: (a) => items(a, 'all').every((x) => x === true) },
};

function unavailable(name: string): () => never {
  return () => {
    throw new BuiltinError(`${name}: not available in the test interpreter`, 'eval_builtin_error', true);
  };
}

function anyMatch(a: RValue, b: RValue, name: string, f: (x: string, y: string) => boolean): boolean {
  const xs = typeof a === 'string' ? [a] : items(a, name).map((x) => str(x, name));
  const ys = typeof b === 'string' ? [b] : items(b, name).map((x) => str(x, name, 2));
  return xs.some((x) => ys.some((y) => f(x, y)));
}

function flatten(xs: RValue[]): RValue[] {
  return xs.flatMap((x) => (Array.isArray(x) ? x : [x]));
}

/** gobwas/glob semantics as OPA uses them: * stops at delimiters, ** does not, {a,b}, [a-z], [!a]. */
function globRegExp(pattern: string, delims: string[]): RegExp {
  const esc = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  const notDelim = delims.length ? `[^${delims.map(esc).join('')}]` : '[\\s\\S]';
  let re = '';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) re += esc(pattern[++i]);
    else if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '[\\s\\S]*';
        i++;
      } else re += `${notDelim}*`;
    } else if (c === '?') re += notDelim;
    else if (c === '[') {
      const j = pattern.indexOf(']', i + 1);
      let body = pattern.slice(i + 1, j);
      const neg = body.startsWith('!');
      if (neg) body = body.slice(1);
      re += `[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\')}]`;
      i = j;
    } else if (c === '{') {
      re += '(?:';
      depth++;
    } else if (c === '}' && depth > 0) {
      re += ')';
      depth--;
    } else if (c === ',' && depth > 0) re += '|';
    else re += esc(c);
  }
  return new RegExp(`^${re}$`);
}

function member(c: RValue): RValue[] {
  if (Array.isArray(c)) return c;
  if (c instanceof RSet) return c.values();
  if (c instanceof RObject) return c.entries().map(([, v]) => v);
  return [];
}

function union(a: RObject, b: RObject): RObject {
  const out = a.copy();
  for (const [k, v] of b.entries()) {
    const cur = out.get(k);
    out.set(k, cur instanceof RObject && v instanceof RObject ? union(cur, v) : v);
  }
  return out;
}

function trimChars(s: string, cut: string, left: boolean, right: boolean): string {
  const cs = new Set([...cut]);
  const cps = [...s];
  let i = 0;
  let j = cps.length;
  if (left) while (i < j && cs.has(cps[i])) i++;
  if (right) while (j > i && cs.has(cps[j - 1])) j--;
  return cps.slice(i, j).join('');
}

/** Arity lookup for the planner, limited to what this interpreter implements. */
export function interpreterArity(name: string): number | undefined {
  return BUILTINS[name]?.arity;
}

export { keyOf };
