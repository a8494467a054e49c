// OPA's sprintf: Go's fmt.Sprintf over Rego values (integers as ints, other numbers as float64,
// strings raw, everything else as its Rego text). The SDK's own `sprintf` (sprintf-js) differs on
// %v of arrays/objects and %d of floats; this one is used wherever Tether controls the binding.
import { arr, str } from './errors';

type Arg = { kind: 'int'; v: bigint } | { kind: 'float'; v: number } | { kind: 'string'; v: string } | { kind: 'bool'; v: boolean };

/** Rego's text form of a value (ast.Term.String()): JSON-like, `, ` separators, sorted object keys. */
export function regoString(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(regoString).join(', ')}]`;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return formatNumber(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return String(v);
    case 'object': {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}: ${regoString(o[k])}`).join(', ')}}`;
    }
    default:
      return String(v);
  }
}

/** A JSON number as OPA prints it: integers in full, others in Go's shortest 'g'-like form. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return String(n);
}

function toArg(v: unknown): Arg {
  if (typeof v === 'bigint') return { kind: 'int', v };
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return { kind: 'int', v: BigInt(v) };
    return { kind: 'float', v };
  }
  if (typeof v === 'string') return { kind: 'string', v };
  return { kind: 'string', v: regoString(v) };
}

interface Spec {
  minus: boolean;
  plus: boolean;
  zero: boolean;
  space: boolean;
  sharp: boolean;
  width?: number;
  prec?: number;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (spec.width === undefined || s.length >= spec.width) return s;
  const n = spec.width - Array.from(s).length;
  if (n <= 0) return s;
  if (spec.minus) return s + ' '.repeat(n);
  if (spec.zero && numeric) {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return ' '.repeat(n) + s;
}

function goTypeName(a: Arg): string {
  switch (a.kind) {
    case 'int':
      return a.v >= BigInt(Number.MIN_SAFE_INTEGER) && a.v <= BigInt(Number.MAX_SAFE_INTEGER) ? 'int' : '*big.Int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    default:
      return 'bool';
  }
}

function bad(verb: string, a: Arg): string {
  return `%!${verb}(${goTypeName(a)}=${plain(a)})`;
}

function plain(a: Arg): string {
  switch (a.kind) {
    case 'int':
      return a.v.toString();
    case 'float':
      return goG(a.v, -1);
    default:
      return String(a.v);
  }
}

/** Go's %e with a given precision: mantissa and at-least-two-digit exponent. */
function goE(x: number, prec: number): string {
  const s = x.toExponential(prec < 0 ? undefined : Math.min(prec, 100));
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Go's %g (prec -1 = shortest, as %v prints a float64). */
function goG(x: number, prec: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const shortest = prec < 0;
  const digits = shortest ? x.toExponential().replace(/^-/, '').replace(/e.*$/, '').replace('.', '').length : prec === 0 ? 1 : prec;
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toExponential(shortest ? undefined : digits - 1)))));
  const eprec = shortest ? 6 : digits;
  if (exp < -4 || exp >= eprec) {
    const m = shortest ? x.toExponential() : x.toExponential(digits - 1);
    const [mant, e] = m.split('e');
    const cleaned = shortest ? mant : mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    const sign = e[0] === '-' ? '-' : '+';
    const ed = e.replace(/^[+-]/, '');
    return `${cleaned}e${sign}${ed.length < 2 ? '0' + ed : ed}`;
  }
  if (shortest) return String(x);
  const f = x.toPrecision(digits);
  return f.includes('.') ? f.replace(/\.?0+$/, '') : f;
}

function fmtInt(a: bigint, verb: string, spec: Spec): string {
  const neg = a < 0n;
  const abs = neg ? -a : a;
  let body: string;
  switch (verb) {
    case 'd':
    case 'v':
      body = abs.toString(10);
      break;
    case 'x':
      body = abs.toString(16);
      if (spec.sharp) body = '0x' + body;
      break;
    case 'X':
      body = abs.toString(16).toUpperCase();
      if (spec.sharp) body = '0X' + body;
      break;
    case 'o':
      body = abs.toString(8);
      if (spec.sharp) body = '0' + body;
      break;
    case 'b':
      body = abs.toString(2);
      break;
    case 'c':
      return pad(String.fromCodePoint(Number(a)), spec, false);
    case 'q':
      return pad(`'${String.fromCodePoint(Number(a))}'`, spec, false);
    case 'U':
      return pad('U+' + abs.toString(16).toUpperCase().padStart(4, '0'), spec, false);
    default:
      return '';
  }
  if (spec.prec !== undefined) body = body.padStart(spec.prec, '0');
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return pad(sign + body, spec, spec.prec === undefined);
}

function fmtFloat(x: number, verb: string, spec: Spec): string {
  let s: string;
  const p = spec.prec;
  switch (verb) {
    case 'f':
    case 'F':
      s = x.toFixed(p ?? 6);
      break;
    case 'e':
      s = goE(x, p ?? 6);
      break;
    case 'E':
      s = goE(x, p ?? 6).toUpperCase();
      break;
    case 'g':
    case 'v':
      s = goG(x, p ?? -1);
      break;
    case 'G':
      s = goG(x, p ?? -1).toUpperCase();
      break;
    default:
      return '';
  }
  if (spec.plus && x >= 0) s = '+' + s;
  else if (spec.space && x >= 0) s = ' ' + s;
  return pad(s, spec, true);
}

function fmtString(s: string, verb: string, spec: Spec): string {
  let v = spec.prec !== undefined ? Array.from(s).slice(0, spec.prec).join('') : s;
  switch (verb) {
    case 's':
    case 'v':
      break;
    case 'q':
      v = JSON.stringify(v);
      break;
    case 'x':
      v = Buffer.from(v, 'utf8').toString('hex');
      break;
    case 'X':
      v = Buffer.from(v, 'utf8').toString('hex').toUpperCase();
      break;
    default:
      return '';
  }
  return pad(v, spec, false);
}

function formatOne(a: Arg, verb: string, spec: Spec): string {
  let out = '';
  switch (a.kind) {
    case 'int':
      if ('dvxXobcqU'.includes(verb)) out = fmtInt(a.v, verb, spec);
      else if ('s'.includes(verb) && goTypeName(a) === '*big.Int') out = pad(a.v.toString(), spec, false);
      else if ('feEgGF'.includes(verb)) out = goTypeName(a) === '*big.Int' ? '' : '';
      break;
    case 'float':
      out = fmtFloat(a.v, verb, spec);
      break;
    case 'string':
      out = fmtString(a.v, verb, spec);
      break;
    case 'bool':
      if (verb === 't' || verb === 'v') out = pad(String(a.v), spec, false);
      break;
  }
  return out === '' ? bad(verb, a) : out;
}

/** Go fmt.Sprintf over OPA-converted arguments. */
export function goSprintf(format: string, values: unknown[]): string {
  const args = values.map(toArg);
  let out = '';
  let ai = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    if (format[i] === '%') {
      out += '%';
      i++;
      continue;
    }
    const spec: Spec = { minus: false, plus: false, zero: false, space: false, sharp: false };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') spec.minus = true;
      else if (f === '+') spec.plus = true;
      else if (f === '0') spec.zero = true;
      else if (f === ' ') spec.space = true;
      else if (f === '#') spec.sharp = true;
      else break;
    }
    let w = '';
    while (i < format.length && /\d/.test(format[i])) w += format[i++];
    if (w) spec.width = Number(w);
    if (format[i] === '.') {
      i++;
      let p = '';
      while (i < format.length && /\d/.test(format[i])) p += format[i++];
      spec.prec = p ? Number(p) : 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = format[i++];
    if (ai >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(args[ai++], verb, spec);
  }
  if (ai < args.length) {
    out += '%!(EXTRA ' + args.slice(ai).map((a) => `${goTypeName(a)}=${plain(a)}`).join(', ') + ')';
  }
  return out;
}

export function sprintf(format: unknown, values: unknown): string {
  return goSprintf(str('sprintf', 1, format), arr('sprintf', 2, values));
}
