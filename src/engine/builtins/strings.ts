// String built-ins with OPA (Go strings package) semantics, counted in Unicode code points.
import { BuiltinError, builtinError, int, num, operandError, str, strList, typeName } from './errors';
import { rawInt } from './raw';
import type { HostImpl } from './types';

const cps = (s: string): string[] => Array.from(s);

/** Go's strings.Trim family: cutset is a set of code points. */
function trimSet(s: string, cutset: string, left: boolean, right: boolean): string {
  const set = new Set(cps(cutset));
  const chars = cps(s);
  let a = 0;
  let b = chars.length;
  if (left) while (a < b && set.has(chars[a])) a++;
  if (right) while (b > a && set.has(chars[b - 1])) b--;
  return chars.slice(a, b).join('');
}

/** Go's unicode.IsSpace set, used by strings.TrimSpace. */
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu;

/** Per-code-point case mapping, as Go's unicode.ToUpper/ToLower (no multi-character expansions). */
function mapCase(s: string, upper: boolean): string {
  let out = '';
  for (const c of s) {
    const m = upper ? c.toUpperCase() : c.toLowerCase();
    out += cps(m).length === 1 ? m : c;
  }
  return out;
}

/** Go's strings.Split/SplitN; for strings.split_n a negative n keeps the last |n| parts (current OPA). */
function goSplit(s: string, sep: string, n = -1, fromRight = false): string[] {
  if (n === 0) return [];
  if (fromRight && n < 0) {
    const all = goSplit(s, sep);
    return all.slice(Math.max(0, all.length + n));
  }
  if (sep === '') {
    const c = cps(s);
    if (n < 0 || n >= c.length) return c;
    return [...c.slice(0, n - 1), c.slice(n - 1).join('')];
  }
  const parts = s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/** Go's strings.NewReplacer(old1, new1, ...).Replace: leftmost position, first pair in argument order wins. */
function goReplacer(s: string, pairs: Array<[string, string]>): string {
  let out = '';
  let i = 0;
  let emptyDone = -1;
  while (i <= s.length) {
    let hit: [string, string] | undefined;
    for (const p of pairs) {
      if (p[0] === '' ? emptyDone !== i : s.startsWith(p[0], i)) {
        hit = p;
        break;
      }
    }
    if (hit) {
      out += hit[1];
      if (hit[0] === '') {
        emptyDone = i;
        if (i < s.length) {
          const c = String.fromCodePoint(s.codePointAt(i)!);
          out += c;
          i += c.length;
          continue;
        }
        break;
      }
      i += hit[0].length;
      continue;
    }
    if (i >= s.length) break;
    const c = String.fromCodePoint(s.codePointAt(i)!);
    out += c;
    i += c.length;
  }
  return out;
}

function cpIndexOf(s: string, sub: string, from = 0): number {
  const u = s.indexOf(sub, from);
  return u < 0 ? -1 : cps(s.slice(0, u)).length;
}

/** Search/base operand of strings.any_*_match: a string, or a set/array of strings. */
function stringOrList(name: string, pos: number, v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw operandError(name, pos, 'one of {string, set, array}', v);
  return strList(name, pos, v);
}

function anyMatch(name: string, test: (s: string, p: string) => boolean) {
  return (search: unknown, base: unknown) => {
    const a = stringOrList(name, 1, search);
    const b = stringOrList(name, 2, base);
    return a.some((s) => b.some((p) => test(s, p)));
  };
}

/** format_int: truncates toward zero, bases 2, 8, 10, 16 (lower-case digits). */
function formatInt(n: unknown, base: unknown): string {
  const b = num('format_int', 2, base);
  if (![2, 8, 10, 16].includes(b)) throw new BuiltinError('eval_type_error', 'format_int: operand 2 must be one of {2, 8, 10, 16}');
  if (typeof n === 'bigint') return n.toString(b);
  const x = num('format_int', 1, n);
  const t = Math.trunc(x);
  return Number.isSafeInteger(t) ? t.toString(b) : BigInt(t).toString(b);
}

/** Go's strconv.ParseFloat forms (decimal only); inf/nan spellings are rejected as OPA does. */
const DECIMAL = /^[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/;
const NONFINITE = /^[+-]?(inf|infinity|nan)$/i;

function toNumber(v: unknown): unknown {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return v;
    case 'boolean':
      return v ? 1 : 0;
    case 'string': {
      if (NONFINITE.test(v)) throw new BuiltinError('eval_type_error', 'to_number: operand 1 must be a valid number string');
      if (!DECIMAL.test(v) || v.includes('_')) throw builtinError('to_number', `strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
      if (/^[+-]?\d+$/.test(v)) {
        const b = BigInt(v);
        return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : rawInt(b);
      }
      return Number(v);
    }
    default:
      if (v === null) return 0;
      throw operandError('to_number', 1, 'one of {null, boolean, number, string}', v);
  }
}

function substring(s: unknown, start: unknown, len: unknown): string {
  const c = cps(str('substring', 1, s));
  const a = int('substring', 2, start);
  const l = int('substring', 3, len);
  if (a < 0) throw builtinError('substring', 'negative offset');
  if (a >= c.length) return '';
  return l < 0 ? c.slice(a).join('') : c.slice(a, a + l).join('');
}

function concat(delim: unknown, xs: unknown): string {
  const d = str('concat', 1, delim);
  return strList('concat', 2, xs).join(d);
}

function replaceN(patterns: unknown, s: unknown): string {
  if (patterns === null || typeof patterns !== 'object' || Array.isArray(patterns)) throw operandError('strings.replace_n', 1, 'object', patterns);
  const subject = str('strings.replace_n', 2, s);
  const keys = Object.keys(patterns as object).sort();
  const pairs: Array<[string, string]> = keys.map((k) => {
    const v = (patterns as Record<string, unknown>)[k];
    if (typeof v !== 'string') throw operandError('strings.replace_n', 1, 'object[string: string]', patterns);
    return [k, v];
  });
  return goReplacer(subject, pairs);
}

function goCount(s: string, sub: string): number {
  if (sub === '') return cps(s).length + 1;
  let n = 0;
  let i = s.indexOf(sub);
  while (i >= 0) {
    n++;
    i = s.indexOf(sub, i + sub.length);
  }
  return n;
}

export const stringBuiltins: Record<string, HostImpl> = {
  concat: { arity: 2, fn: concat },
  contains: { arity: 2, fn: (a, b) => str('contains', 1, a).includes(str('contains', 2, b)) },
  startswith: { arity: 2, fn: (a, b) => str('startswith', 1, a).startsWith(str('startswith', 2, b)) },
  endswith: { arity: 2, fn: (a, b) => str('endswith', 1, a).endsWith(str('endswith', 2, b)) },
  format_int: { arity: 2, fn: formatInt },
  indexof: { arity: 2, fn: (a, b) => cpIndexOf(str('indexof', 1, a), str('indexof', 2, b)) },
  indexof_n: {
    arity: 2,
    fn: (a, b) => {
      const s = str('indexof_n', 1, a);
      const sub = str('indexof_n', 2, b);
      const out: number[] = [];
      if (sub === '') return cps(s).map((_, i) => i);
      let u = s.indexOf(sub);
      while (u >= 0) {
        out.push(cps(s.slice(0, u)).length);
        u = s.indexOf(sub, u + 1);
      }
      return out;
    },
  },
  lower: { arity: 1, fn: (a) => mapCase(str('lower', 1, a), false) },
  upper: { arity: 1, fn: (a) => mapCase(str('upper', 1, a), true) },
  replace: {
    arity: 3,
    fn: (s, o, n) => goReplacer(str('replace', 1, s), [[str('replace', 2, o), str('replace', 3, n)]]),
  },
  'strings.replace_n': { arity: 2, fn: replaceN },
  split: { arity: 2, fn: (s, d) => goSplit(str('split', 1, s), str('split', 2, d)) },
  'strings.split_n': {
    arity: 3,
    fn: (s, d, n) => goSplit(str('strings.split_n', 1, s), str('strings.split_n', 2, d), int('strings.split_n', 3, n), true),
  },
  substring: { arity: 3, fn: substring },
  trim: { arity: 2, fn: (s, c) => trimSet(str('trim', 1, s), str('trim', 2, c), true, true) },
  trim_left: { arity: 2, fn: (s, c) => trimSet(str('trim_left', 1, s), str('trim_left', 2, c), true, false) },
  trim_right: { arity: 2, fn: (s, c) => trimSet(str('trim_right', 1, s), str('trim_right', 2, c), false, true) },
  trim_prefix: {
    arity: 2,
    fn: (s, p) => {
      const a = str('trim_prefix', 1, s);
      const b = str('trim_prefix', 2, p);
      return a.startsWith(b) ? a.slice(b.length) : a;
    },
  },
  trim_suffix: {
    arity: 2,
    fn: (s, p) => {
      const a = str('trim_suffix', 1, s);
      const b = str('trim_suffix', 2, p);
      return b !== '' && a.endsWith(b) ? a.slice(0, a.length - b.length) : a;
    },
  },
  trim_space: { arity: 1, fn: (s) => str('trim_space', 1, s).replace(SPACE, '') },
  'strings.reverse': { arity: 1, fn: (s) => cps(str('strings.reverse', 1, s)).reverse().join('') },
  'strings.count': { arity: 2, fn: (s, sub) => goCount(str('strings.count', 1, s), str('strings.count', 2, sub)) },
  'strings.any_prefix_match': { arity: 2, fn: anyMatch('strings.any_prefix_match', (s, p) => s.startsWith(p)) },
  'strings.any_suffix_match': { arity: 2, fn: anyMatch('strings.any_suffix_match', (s, p) => s.endsWith(p)) },
  to_number: { arity: 1, fn: toNumber },
};

export { typeName };
