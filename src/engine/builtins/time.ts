// Time built-ins with OPA's semantics: nanoseconds since the Unix epoch as int64, computed in
// bigint so the full range (1677..2262) is exact; time.now_ns reads the clock once per evaluation.
import { BuiltinError, builtinError, exactInt, int, operandError, str } from './errors';
import { rawInt } from './raw';
import type { EvalContext, HostImpl } from './types';

const NS_PER_S = 1_000_000_000n;
const NS_PER_DAY = 86_400n * NS_PER_S;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const floorDiv = (a: bigint, b: bigint): bigint => (a % b === 0n || a >= 0n ? a / b : a / b - 1n);
const floorMod = (a: bigint, b: bigint): bigint => a - floorDiv(a, b) * b;

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12; day may overflow). */
export function daysFromCivil(y: bigint, m: bigint, d: bigint): bigint {
  const yy = m <= 2n ? y - 1n : y;
  const era = floorDiv(yy, 400n);
  const yoe = yy - era * 400n;
  const mp = (m + 9n) % 12n;
  const doy = (153n * mp + 2n) / 5n + 1n - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n + (d - 1n);
}

/** [year, month, day] of days since the epoch. */
export function civilFromDays(z0: bigint): [bigint, bigint, bigint] {
  const z = z0 + 719468n;
  const era = floorDiv(z, 146097n);
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  return [yoe + era * 400n + (m <= 2n ? 1n : 0n), m, d];
}

function checkRange(name: string, ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) throw builtinError(name, 'time outside of valid range');
  return ns;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

const daysIn = (y: number, m: number): number => new Date(Date.UTC(2000, m, 0)).getUTCDate() - (m === 2 && !((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0) ? 1 : 0);

/** Go's time.Parse(time.RFC3339, s) as nanoseconds. */
export function parseRfc3339Ns(s: string): bigint {
  const m = RFC3339.exec(s);
  const fail = (): never => {
    throw builtinError('time.parse_rfc3339_ns', `parsing time ${JSON.stringify(s)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(s)} as "2006"`);
  };
  if (!m) return fail();
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || se > 59) {
    throw builtinError('time.parse_rfc3339_ns', `parsing time ${JSON.stringify(s)}: day out of range`);
  }
  const frac = BigInt((m[7] ?? '').slice(0, 9).padEnd(9, '0') || '0');
  let offset = 0n;
  if (m[8] !== 'Z') {
    const sign = m[8][0] === '-' ? -1n : 1n;
    offset = sign * (BigInt(m[8].slice(1, 3)) * 3600n + BigInt(m[8].slice(4, 6)) * 60n);
  }
  const days = daysFromCivil(BigInt(y), BigInt(mo), BigInt(d));
  const secs = days * 86400n + BigInt(h) * 3600n + BigInt(mi) * 60n + BigInt(se) - offset;
  return checkRange('time.parse_rfc3339_ns', secs * NS_PER_S + frac);
}

/** Offset in seconds east of UTC of an IANA zone at an instant ("UTC"/"" = 0, "Local" = host zone). */
function zoneOffset(name: string, tz: string, ns: bigint): bigint {
  if (tz === '' || tz === 'UTC') return 0n;
  const ms = Number(floorDiv(ns, 1_000_000n));
  const clamped = Math.max(-8.64e15, Math.min(8.64e15, ms));
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: tz === 'Local' ? undefined : tz,
      hourCycle: 'h23',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      era: 'short',
    });
  } catch {
    throw builtinError(name, `unknown time zone ${tz}`);
  }
  const parts: Record<string, string> = {};
  for (const p of fmt.formatToParts(new Date(clamped))) parts[p.type] = p.value;
  let year = BigInt(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1n - year;
  const local = daysFromCivil(year, BigInt(parts.month), BigInt(parts.day)) * 86400n + BigInt(parts.hour) * 3600n + BigInt(parts.minute) * 60n + BigInt(parts.second);
  const utc = floorDiv(BigInt(clamped), 1000n);
  return local - utc;
}

/** The `x` operand of time.date/clock/weekday: ns, or [ns, tz]. Returns local nanoseconds. */
function localNs(name: string, x: unknown): bigint {
  let ns: unknown = x;
  let tz = 'UTC';
  if (Array.isArray(x)) {
    if (x.length !== 2) throw new BuiltinError('eval_type_error', `${name}: operand 1 must be array of length 2`);
    ns = x[0];
    tz = str(name, 1, x[1]);
  } else if (typeof x !== 'number' && typeof x !== 'bigint') throw operandError(name, 1, 'one of {number, array}', x);
  const n = exactInt(name, 1, ns);
  if (n > INT64_MAX) throw builtinError(name, 'timestamp too big');
  if (n < INT64_MIN) throw builtinError(name, 'timestamp too small');
  return n + zoneOffset(name, tz, n) * NS_PER_S;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Go's time.ParseDuration. */
export function parseDurationNs(s: string): bigint {
  const fail = (): never => {
    throw builtinError('time.parse_duration_ns', `time: invalid duration ${JSON.stringify(s)}`);
  };
  const units: Record<string, bigint> = { ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1_000_000n, s: NS_PER_S, m: 60n * NS_PER_S, h: 3600n * NS_PER_S };
  let rest = s;
  let sign = 1n;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1n;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') fail();
  let total = 0n;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return fail();
    const unit = units[m[3]];
    const whole = BigInt(m[1] || '0') * unit;
    const fracDigits = m[2] ?? '';
    const frac = fracDigits ? (BigInt(fracDigits) * unit) / 10n ** BigInt(fracDigits.length) : 0n;
    total += whole + frac;
    rest = rest.slice(m[0].length);
  }
  return checkRange('time.parse_duration_ns', sign * total);
}

function addDate(ns0: unknown, y: unknown, m: unknown, d: unknown): ArrayBuffer {
  const ns = exactInt('time.add_date', 1, ns0);
  const years = BigInt(int('time.add_date', 2, y));
  const months = BigInt(int('time.add_date', 3, m));
  const days = BigInt(int('time.add_date', 4, d));
  const day = floorDiv(ns, NS_PER_DAY);
  const within = floorMod(ns, NS_PER_DAY);
  const [cy, cm, cd] = civilFromDays(day);
  const m0 = cm - 1n + months;
  const ny = cy + years + floorDiv(m0, 12n);
  const nm = floorMod(m0, 12n) + 1n;
  const nd = daysFromCivil(ny, nm, 1n) + (cd - 1n) + days;
  return rawInt(checkRange('time.add_date', nd * NS_PER_DAY + within));
}

let lastNow = 0n;

/** A fresh clock reading: wall-clock milliseconds plus a sub-millisecond part, never going backwards. */
export function nowNs(): bigint {
  let ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (ns <= lastNow) ns = lastNow + 1n;
  lastNow = ns;
  return ns;
}

export const timeBuiltins: Record<string, HostImpl> = {
  'time.now_ns': {
    arity: 0,
    usesContext: true,
    fn: (ctx) => {
      const c = ctx as EvalContext;
      if (c.nowNs === undefined) c.nowNs = nowNs();
      return rawInt(c.nowNs);
    },
  },
  'time.parse_rfc3339_ns': { arity: 1, fn: (s) => rawInt(parseRfc3339Ns(str('time.parse_rfc3339_ns', 1, s))) },
  'time.parse_duration_ns': { arity: 1, fn: (s) => rawInt(parseDurationNs(str('time.parse_duration_ns', 1, s))) },
  'time.add_date': { arity: 4, fn: addDate },
  'time.date': {
    arity: 1,
    fn: (x) => {
      const [y, m, d] = civilFromDays(floorDiv(localNs('time.date', x), NS_PER_DAY));
      return [Number(y), Number(m), Number(d)];
    },
  },
  'time.clock': {
    arity: 1,
    fn: (x) => {
      const s = floorMod(localNs('time.clock', x), NS_PER_DAY) / NS_PER_S;
      return [Number(s / 3600n), Number((s / 60n) % 60n), Number(s % 60n)];
    },
  },
  'time.weekday': {
    arity: 1,
    fn: (x) => WEEKDAYS[Number(floorMod(floorDiv(localNs('time.weekday', x), NS_PER_DAY) + 4n, 7n))],
  },
};
