// Pattern built-ins: glob.match (gobwas/glob semantics, as OPA) and regex.* (RE2 syntax mapped to
// JavaScript RegExp with the `u` flag). Compiled patterns are cached: policies reuse a few patterns.
import { builtinError, operandError, str, typeName, BuiltinError } from './errors';
import type { HostImpl } from './types';

const reEscape = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');

/** Translates a glob to a RegExp source; `*`/`?` stop at delimiters, `**` crosses them. */
export function globToRegExp(pattern: string, delimiters: string[]): string {
  const chars = Array.from(pattern);
  const notDelim = delimiters.length ? `[^${delimiters.map(reEscape).join('')}]` : '[\\s\\S]';
  let i = 0;
  const parse = (inAlt: boolean): string => {
    let out = '';
    while (i < chars.length) {
      const c = chars[i];
      if (inAlt && (c === ',' || c === '}')) return out;
      i++;
      switch (c) {
        case '\\':
          if (i < chars.length) out += reEscape(chars[i++]);
          else throw new Error('unexpected end of input after escape');
          break;
        case '*':
          if (chars[i] === '*') {
            while (chars[i] === '*') i++;
            out += '[\\s\\S]*';
          } else out += `${notDelim}*`;
          break;
        case '?':
          out += notDelim;
          break;
        case '[': {
          let neg = false;
          if (chars[i] === '!') {
            neg = true;
            i++;
          }
          let cls = '';
          let closed = false;
          while (i < chars.length) {
            const d = chars[i++];
            if (d === ']') {
              closed = true;
              break;
            }
            if (d === '-' && cls !== '' && chars[i] !== ']') cls += '-';
            else if (d === '\\' && i < chars.length) cls += reEscape(chars[i++]);
            else cls += reEscape(d);
          }
          if (!closed) throw new Error('unclosed character class');
          out += `[${neg ? '^' : ''}${cls}]`;
          break;
        }
        case '{': {
          const alts: string[] = [];
          for (;;) {
            alts.push(parse(true));
            if (i >= chars.length) throw new Error('unclosed alternatives');
            const d = chars[i++];
            if (d === '}') break;
          }
          out += `(?:${alts.join('|')})`;
          break;
        }
        default:
          out += reEscape(c);
      }
    }
    if (inAlt) throw new Error('unclosed alternatives');
    return out;
  };
  return `^${parse(false)}$`;
}

const globCache = new Map<string, RegExp>();
const regexCache = new Map<string, RegExp>();

function cached(cache: Map<string, RegExp>, key: string, make: () => RegExp): RegExp {
  let re = cache.get(key);
  if (!re) {
    re = make();
    if (cache.size > 1000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

function globMatch(pattern: unknown, delimiters: unknown, subject: unknown): boolean {
  const p = str('glob.match', 1, pattern);
  let delims: string[];
  if (delimiters === null) delims = [];
  else if (Array.isArray(delimiters)) {
    delims = delimiters.map((d) => {
      if (typeof d !== 'string') throw new BuiltinError('eval_type_error', `glob.match: operand 2 must be array of strings but got array containing ${typeName(d)}`);
      return Array.from(d)[0] ?? '';
    }).filter((d) => d !== '');
    if (delimiters.length === 0) delims = ['.'];
  } else throw operandError('glob.match', 2, 'one of {array, null}', delimiters);
  const s = str('glob.match', 3, subject);
  const re = cached(globCache, `${delims.join('\u0000')}\u0001${p}`, () => {
    try {
      return new RegExp(globToRegExp(p, delims), 'u');
    } catch (e) {
      throw builtinError('glob.match', (e as Error).message);
    }
  });
  return re.test(s);
}

/** Maps RE2 syntax JavaScript lacks: leading (?flags), \A, \z, \Q..\E, POSIX classes. */
export function re2ToRegExp(pattern: string): RegExp {
  let src = pattern;
  let flags = 'u';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    src = src.slice(lead[0].length);
    for (const f of lead[1]) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  src = src.replace(/\\Q([\s\S]*?)(\\E|$)/g, (_, lit: string) => lit.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&'));
  src = src.replace(/\\A/g, '^').replace(/\\z/g, '$(?![\\s\\S])');
  const posix: Record<string, string> = {
    alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: '\\t\\n\\v\\f\\r ',
    punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', word: '\\w', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f', print: ' -~', graph: '!-~', ascii: '\\x00-\\x7f',
  };
  src = src.replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => (posix[name] && !neg ? posix[name] : m));
  // RE2 treats `$` without (?m) as end of text; JS without `m` does the same.
  return new RegExp(src, flags);
}

function compileRegex(name: string, pattern: string): RegExp {
  return cached(regexCache, pattern, () => {
    try {
      return re2ToRegExp(pattern);
    } catch (e) {
      throw builtinError(name, `error parsing regexp: ${(e as Error).message}`);
    }
  });
}

export const matchBuiltins: Record<string, HostImpl> = {
  'glob.match': { arity: 3, fn: globMatch },
  'glob.quote_meta': { arity: 1, fn: (p) => str('glob.quote_meta', 1, p).replace(/[*?\\[\]{}]/g, '\\$&') },
  'regex.match': {
    arity: 2,
    fn: (p, v) => compileRegex('regex.match', str('regex.match', 1, p)).test(str('regex.match', 2, v)),
  },
  'regex.is_valid': {
    arity: 1,
    fn: (p) => {
      if (typeof p !== 'string') return false;
      try {
        re2ToRegExp(p);
        return true;
      } catch {
        return false;
      }
    },
  },
  'regex.find_n': {
    arity: 3,
    fn: (p, v, n) => {
      const re = compileRegex('regex.find_n', str('regex.find_n', 1, p));
      const s = str('regex.find_n', 2, v);
      if (typeof n !== 'number') throw operandError('regex.find_n', 3, 'number', n);
      const g = new RegExp(re.source, re.flags + 'g');
      const out = Array.from(s.matchAll(g), (m) => m[0]);
      return n < 0 ? out : out.slice(0, n);
    },
  },
  'regex.find_all_string_submatch_n': {
    arity: 3,
    fn: (p, v, n) => {
      const re = compileRegex('regex.find_all_string_submatch_n', str('regex.find_all_string_submatch_n', 1, p));
      const s = str('regex.find_all_string_submatch_n', 2, v);
      if (typeof n !== 'number') throw operandError('regex.find_all_string_submatch_n', 3, 'number', n);
      const g = new RegExp(re.source, re.flags + 'g');
      const out = Array.from(s.matchAll(g), (m) => Array.from(m, (x) => x ?? ''));
      return n < 0 ? out : out.slice(0, n);
    },
  },
  'regex.replace': {
    arity: 3,
    fn: (s, p, r) => {
      const subject = str('regex.replace', 1, s);
      const re = compileRegex('regex.replace', str('regex.replace', 2, p));
      const rep = str('regex.replace', 3, r).replace(/\$\{?(\d+)\}?/g, '$$$1');
      return subject.replace(new RegExp(re.source, re.flags + 'g'), rep);
    },
  },
};
