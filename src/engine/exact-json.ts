// Exact integers across the SDK's JSON boundary. The SDK hands built-in arguments and results to JS
// through JSON.parse, which rounds integers beyond 2^53 (nanosecond timestamps, big numbers). While
// an evaluation runs (synchronously) the engine swaps in parseExact, which reads such integers as
// bigint; host built-ins handle bigint operands, and results are turned back into plain numbers.

const nativeParse = JSON.parse;
const MARK = '\u0000tether-bigint:';
const BIG_DIGITS = /\d{16,}/;

let sawBigint = false;

/** Rewrites integer literals too large for a double into marked strings (outside JSON strings). */
function markBigInts(text: string): string {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
      i++;
      continue;
    }
    if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) {
        i++;
        continue;
      }
      const lit = m[0];
      if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(Number(lit))) {
        out += text.slice(last, i) + JSON.stringify(MARK + lit);
        last = i + lit.length;
      }
      i += lit.length;
      continue;
    }
    i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

function revive(_k: string, v: unknown): unknown {
  if (typeof v === 'string' && v.startsWith(MARK)) {
    sawBigint = true;
    return BigInt(v.slice(MARK.length));
  }
  return v;
}

/** JSON.parse that keeps integers beyond 2^53 exact (as bigint). */
export function parseExact(text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown): unknown {
  if (reviver || typeof text !== 'string' || !BIG_DIGITS.test(text)) return nativeParse(text, reviver as never);
  const marked = markBigInts(text);
  return marked === text ? nativeParse(text) : nativeParse(marked, revive);
}

/** Starts exact parsing (pair with endExact in a finally); cheaper than a closure on the hot path. */
export function beginExact(): void {
  sawBigint = false;
  JSON.parse = parseExact as typeof JSON.parse;
}

/** Ends exact parsing; returns whether any bigint was produced since beginExact. */
export function endExact(): boolean {
  JSON.parse = nativeParse;
  return sawBigint;
}

/** Runs fn with JSON.parse exact for big integers; reports whether any bigint was produced. */
export function withExactJson<T>(fn: () => T): { value: T; sawBigint: boolean } {
  sawBigint = false;
  JSON.parse = parseExact as typeof JSON.parse;
  try {
    return { value: fn(), sawBigint };
  } finally {
    JSON.parse = nativeParse;
  }
}

/** True when the current evaluation has produced a bigint (host built-ins then serialise exactly). */
export function bigintSeen(): boolean {
  return sawBigint;
}

/** Replaces bigints by numbers (for results handed to JSON-only callers). */
export function toPlainNumbers(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toPlainNumbers);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toPlainNumbers(x);
    return out;
  }
  return v;
}

/** JSON text of a value that may hold bigints (written as exact integer literals). */
export function stringifyExact(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : stringifyExact(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${stringifyExact(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** True when a value holds a bigint anywhere. */
export function hasBigint(v: unknown): boolean {
  if (typeof v === 'bigint') return true;
  if (Array.isArray(v)) return v.some(hasBigint);
  if (v !== null && typeof v === 'object') return Object.values(v as Record<string, unknown>).some(hasBigint);
  return false;
}
