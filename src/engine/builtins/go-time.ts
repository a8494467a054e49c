// Go's time layouts ("2006-01-02T15:04:05Z07:00") for time.format and time.parse_ns, and
// time.diff, over bigint nanoseconds as OPA computes them.
import { builtinError, exactInt, operandError, str } from './errors';
import { rawInt } from './raw';
import { civilFromDays, daysFromCivil } from './time';
import type { HostImpl } from './types';

const NS_PER_S = 1_000_000_000n;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const RFC3339_NANO = '2006-01-02T15:04:05.999999999Z07:00';

/** Go's named layout constants, accepted by OPA in place of a layout. */
export const NAMED_LAYOUTS: Readonly<Record<string, string>> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  Kitchen: '3:04PM',
  Stamp: 'Jan _2 15:04:05',
  StampMilli: 'Jan _2 15:04:05.000',
  StampMicro: 'Jan _2 15:04:05.000000',
  StampNano: 'Jan _2 15:04:05.000000000',
  DateTime: '2006-01-02 15:04:05',
  DateOnly: '2006-01-02',
  TimeOnly: '15:04:05',
};

const layoutOf = (l: string): string => NAMED_LAYOUTS[l] ?? l;

const floorDiv = (a: bigint, b: bigint): bigint => (a % b === 0n || a >= 0n ? a / b : a / b - 1n);

type Tok = { std: string } | { lit: string };

const STD = [
  'January', 'Jan', 'Monday', 'Mon', 'MST', '2006', '002', '01', '02', '03', '04', '05', '06', '__2', '_2', '15', '1', '2', '3', '4', '5', 'PM', 'pm',
  '-07:00:00', '-070000', '-07:00', '-0700', '-07', 'Z07:00:00', 'Z070000', 'Z07:00', 'Z0700', 'Z07',
];

/** Splits a Go layout into standard chunks and literals (Go's nextStdChunk, simplified). */
export function tokenize(layout: string): Tok[] {
  const out: Tok[] = [];
  let lit = '';
  let i = 0;
  while (i < layout.length) {
    // A run of 0s or 9s after '.' or ',' that is not followed by a digit is a fractional second.
    const frac = /^[.,](0+|9+)(?!\d)/.exec(layout.slice(i));
    if (frac) {
      if (lit) out.push({ lit }), (lit = '');
      out.push({ std: frac[0] });
      i += frac[0].length;
      continue;
    }
    const std = STD.find((s) => layout.startsWith(s, i));
    // "Jan" inside a word like "Janet" is still Jan in Go; keep Go's greedy behaviour.
    if (std && !(std === 'Mon' && layout.startsWith('Month', i))) {
      if (lit) out.push({ lit }), (lit = '');
      out.push({ std });
      i += std.length;
      continue;
    }
    lit += layout[i++];
  }
  if (lit) out.push({ lit });
  return out;
}

interface Civil {
  year: bigint;
  month: number;
  day: number;
  yday: number;
  wday: number;
  hour: number;
  min: number;
  sec: number;
  nsec: bigint;
  offset: number;
  abbrev: string;
}

function civil(ns: bigint, offset: number, abbrev: string): Civil {
  const local = ns + BigInt(offset) * NS_PER_S;
  const days = floorDiv(local, 86_400n * NS_PER_S);
  const within = local - days * 86_400n * NS_PER_S;
  const [y, m, d] = civilFromDays(days);
  const secs = Number(within / NS_PER_S);
  return {
    year: y, month: Number(m), day: Number(d), yday: Number(days - daysFromCivil(y, 1n, 1n)) + 1,
    wday: Number(((days % 7n) + 11n) % 7n), hour: Math.floor(secs / 3600), min: Math.floor(secs / 60) % 60, sec: secs % 60,
    nsec: within % NS_PER_S, offset, abbrev,
  };
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function zone(off: number, std: string): string {
  if (std.startsWith('Z') && off === 0) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  const h = p2(Math.floor(a / 3600));
  const m = p2(Math.floor(a / 60) % 60);
  const s = p2(a % 60);
  const body = std.replace(/^[Z-]/, '');
  switch (body) {
    case '07:00:00':
      return `${sign}${h}:${m}:${s}`;
    case '070000':
      return `${sign}${h}${m}${s}`;
    case '07:00':
      return `${sign}${h}:${m}`;
    case '0700':
      return `${sign}${h}${m}`;
    default:
      return `${sign}${h}`;
  }
}

/** Formats like Go's Time.Format. */
export function goFormat(ns: bigint, layout: string, offset = 0, abbrev = 'UTC'): string {
  const c = civil(ns, offset, abbrev);
  let out = '';
  for (const t of tokenize(layout)) {
    if ('lit' in t) {
      out += t.lit;
      continue;
    }
    const s = t.std;
    const h12 = c.hour % 12 === 0 ? 12 : c.hour % 12;
    switch (s) {
      case 'January': out += MONTHS[c.month - 1]; break;
      case 'Jan': out += MONTHS[c.month - 1].slice(0, 3); break;
      case 'Monday': out += DAYS[c.wday]; break;
      case 'Mon': out += DAYS[c.wday].slice(0, 3); break;
      case 'MST': out += c.abbrev; break;
      case '2006': out += c.year.toString().padStart(4, '0'); break;
      case '06': out += p2(Number(((c.year % 100n) + 100n) % 100n)); break;
      case '01': out += p2(c.month); break;
      case '1': out += c.month; break;
      case '02': out += p2(c.day); break;
      case '2': out += c.day; break;
      case '_2': out += String(c.day).padStart(2, ' '); break;
      case '002': out += String(c.yday).padStart(3, '0'); break;
      case '__2': out += String(c.yday).padStart(3, ' '); break;
      case '15': out += p2(c.hour); break;
      case '03': out += p2(h12); break;
      case '3': out += h12; break;
      case '04': out += p2(c.min); break;
      case '4': out += c.min; break;
      case '05': out += p2(c.sec); break;
      case '5': out += c.sec; break;
      case 'PM': out += c.hour >= 12 ? 'PM' : 'AM'; break;
      case 'pm': out += c.hour >= 12 ? 'pm' : 'am'; break;
      default:
        if (/^[.,]/.test(s)) {
          const digits = c.nsec.toString().padStart(9, '0').slice(0, s.length - 1);
          if (s[1] === '9') {
            const trimmed = digits.replace(/0+$/, '');
            if (trimmed) out += s[0] + trimmed;
          } else out += s[0] + digits;
        } else out += zone(c.offset, s);
    }
  }
  return out;
}

/** Parses like Go's time.Parse (UTC unless the value carries an offset). */
export function goParse(layout: string, value: string): bigint {
  const fail = (): never => {
    throw builtinError('time.parse_ns', `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse`);
  };
  let i = 0;
  let year = 1970n;
  let month = 1;
  let day = 1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0n;
  let pm: boolean | undefined;
  let offset = 0;
  const take = (re: RegExp): string => {
    const m = re.exec(value.slice(i));
    if (!m) return fail();
    i += m[0].length;
    return m[0];
  };
  const toks = tokenize(layout);
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    if ('lit' in t) {
      if (!value.startsWith(t.lit, i)) fail();
      i += t.lit.length;
      continue;
    }
    const s = t.std;
    switch (s) {
      case 'January':
      case 'Jan': {
        const names = MONTHS.map((m) => (s === 'Jan' ? m.slice(0, 3) : m));
        const idx = names.findIndex((m) => value.slice(i, i + m.length).toLowerCase() === m.toLowerCase());
        if (idx < 0) fail();
        month = idx + 1;
        i += names[idx].length;
        break;
      }
      case 'Monday':
      case 'Mon': {
        const names = DAYS.map((d) => (s === 'Mon' ? d.slice(0, 3) : d));
        const idx = names.findIndex((d) => value.slice(i, i + d.length).toLowerCase() === d.toLowerCase());
        if (idx < 0) fail();
        i += names[idx].length;
        break;
      }
      case 'MST': take(/^[A-Z]{3,5}|^[+-]\d+/); break;
      case '2006': year = BigInt(take(/^\d{4}/)); break;
      case '06': { const y = Number(take(/^\d{2}/)); year = BigInt(y >= 69 ? 1900 + y : 2000 + y); break; }
      case '01': month = Number(take(/^\d{2}/)); break;
      case '1': month = Number(take(/^\d{1,2}/)); break;
      case '02': day = Number(take(/^\d{2}/)); break;
      case '2': day = Number(take(/^\d{1,2}/)); break;
      case '_2': day = Number(take(/^[ \d]\d/).trim()); break;
      case '002': case '__2': take(/^[ \d]{3}/); break;
      case '15': hour = Number(take(/^\d{1,2}/)); break;
      case '03': case '3': hour = Number(take(s === '03' ? /^\d{2}/ : /^\d{1,2}/)); break;
      case '04': case '4': min = Number(take(s === '04' ? /^\d{2}/ : /^\d{1,2}/)); break;
      case '05': case '5': {
        sec = Number(take(s === '05' ? /^\d{2}/ : /^\d{1,2}/));
        // Go accepts a fractional second after the seconds field even when the layout has none.
        const next = toks[k + 1];
        if (!(next && 'std' in next && /^[.,]/.test(next.std))) {
          const f = /^[.,](\d+)/.exec(value.slice(i));
          if (f) {
            nsec = BigInt(f[1].slice(0, 9).padEnd(9, '0'));
            i += f[0].length;
          }
        }
        break;
      }
      case 'PM': case 'pm': pm = take(/^(AM|PM|am|pm)/).toUpperCase() === 'PM'; break;
      default:
        if (/^[.,]/.test(s)) {
          const f = take(s[1] === '9' ? /^([.,]\d+)?/ : new RegExp(`^[.,]\\d{${s.length - 1}}`));
          if (f) nsec = BigInt(f.slice(1, 10).padEnd(9, '0'));
        } else {
          if (s.startsWith('Z') && value[i] === 'Z') {
            i++;
            break;
          }
          const z = take(/^[+-]\d{2}(:?\d{2}(:?\d{2})?)?/);
          const digits = z.slice(1).replace(/:/g, '');
          offset = (z[0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4) || 0) * 60 + Number(digits.slice(4, 6) || 0));
        }
    }
  }
  if (i !== value.length) fail();
  if (pm !== undefined) hour = (hour % 12) + (pm ? 12 : 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) {
    throw builtinError('time.parse_ns', `parsing time ${JSON.stringify(value)}: value out of range`);
  }
  const days = daysFromCivil(year, BigInt(month), BigInt(day));
  return (days * 86400n + BigInt(hour * 3600 + min * 60 + sec) - BigInt(offset)) * NS_PER_S + nsec;
}

/** Offset (seconds east of UTC) and abbreviation of a zone at an instant. */
function zoneAt(name: string, tz: string, ns: bigint): { offset: number; abbrev: string } {
  if (tz === '' || tz === 'UTC') return { offset: 0, abbrev: 'UTC' };
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz === 'Local' ? undefined : tz, timeZoneName: 'longOffset' });
  } catch {
    throw builtinError(name, `unknown time zone ${tz}`);
  }
  const ms = Math.max(-8.64e15, Math.min(8.64e15, Number(floorDiv(ns, 1_000_000n))));
  const part = fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part);
  const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
  const short = new Intl.DateTimeFormat('en-US', { timeZone: tz === 'Local' ? undefined : tz, timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
  return { offset, abbrev: short };
}

function nsOperand(name: string, v: unknown): bigint {
  const n = exactInt(name, 1, v);
  if (n > 2n ** 63n - 1n) throw builtinError(name, 'timestamp too big');
  if (n < -(2n ** 63n)) throw builtinError(name, 'timestamp too small');
  return n;
}

function timeDiff(a0: unknown, b0: unknown): number[] {
  const unpack = (v: unknown): { ns: bigint; tz: string } => {
    if (Array.isArray(v)) return { ns: nsOperand('time.diff', v[0]), tz: str('time.diff', 1, v[1]) };
    if (typeof v !== 'number' && typeof v !== 'bigint') throw operandError('time.diff', 1, 'one of {number, array}', v);
    return { ns: nsOperand('time.diff', v), tz: 'UTC' };
  };
  const a = unpack(a0);
  const b = unpack(b0);
  const za = zoneAt('time.diff', a.tz, a.ns);
  let x = civil(a.ns, za.offset, za.abbrev);
  let y = civil(b.ns, zoneAt('time.diff', a.tz, b.ns).offset, za.abbrev);
  if (a.ns > b.ns) [x, y] = [y, x];
  let year = Number(y.year - x.year);
  let month = y.month - x.month;
  let day = y.day - x.day;
  let hour = y.hour - x.hour;
  let min = y.min - x.min;
  let sec = y.sec - x.sec;
  if (sec < 0) (sec += 60), min--;
  if (min < 0) (min += 60), hour--;
  if (hour < 0) (hour += 24), day--;
  if (day < 0) {
    // Days in x's month, as Go's time.Date(y, m, 32).Day() trick computes.
    const dim = Number(daysFromCivil(x.year, BigInt(x.month) + 1n, 1n) - daysFromCivil(x.year, BigInt(x.month), 1n));
    day += dim;
    month--;
  }
  if (month < 0) (month += 12), year--;
  return [year, month, day, hour, min, sec];
}

export const goTimeBuiltins: Record<string, HostImpl> = {
  'time.format': {
    arity: 1,
    fn: (x) => {
      let ns: bigint;
      let tz = 'UTC';
      let layout = RFC3339_NANO;
      if (Array.isArray(x)) {
        if (x.length < 2 || x.length > 3) throw operandError('time.format', 1, 'array of length 2 or 3', x);
        ns = nsOperand('time.format', x[0]);
        tz = str('time.format', 1, x[1]);
        if (x.length === 3) layout = layoutOf(str('time.format', 1, x[2]));
      } else ns = nsOperand('time.format', x);
      const z = zoneAt('time.format', tz, ns);
      return goFormat(ns, layout, z.offset, z.abbrev);
    },
  },
  'time.parse_ns': { arity: 2, fn: (l, v) => rawInt(goParse(layoutOf(str('time.parse_ns', 1, l)), str('time.parse_ns', 2, v))) },
  'time.diff': { arity: 2, fn: timeDiff },
};
