// Array/object built-ins that are safe on the host (their operands carry no sets whose identity
// matters), plus hashing and unit parsing, with OPA's operand errors.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { arr, builtinError, num, operandError, str, typeName, BuiltinError } from './errors';
import type { HostImpl } from './types';

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** object.union's merge: right wins, nested objects merge recursively. */
function mergeObjects(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(out[k]) && isObj(v) ? mergeObjects(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** units.parse_bytes / units.parse suffixes (decimal and binary, case as OPA accepts them). */
const BYTE_UNITS: Record<string, number> = {
  '': 1, k: 1e3, kb: 1e3, ki: 1024, kib: 1024, m: 1e6, mb: 1e6, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1e9, gb: 1e9, gi: 1024 ** 3, gib: 1024 ** 3, t: 1e12, tb: 1e12, ti: 1024 ** 4, tib: 1024 ** 4,
  p: 1e15, pb: 1e15, pi: 1024 ** 5, pib: 1024 ** 5, e: 1e18, eb: 1e18, ei: 1024 ** 6, eib: 1024 ** 6,
};

function parseUnits(name: string, s: unknown, bytes: boolean): number {
  const v = str(name, 1, s).replace(/"/g, '').trim();
  const m = /^([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)$/.exec(v);
  if (!m) throw builtinError(name, 'no amount provided');
  const unitKey = bytes ? m[2].toLowerCase() : m[2];
  let factor: number | undefined;
  if (bytes) factor = BYTE_UNITS[unitKey];
  else {
    const si: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6 };
    factor = si[unitKey] ?? BYTE_UNITS[unitKey.toLowerCase()];
  }
  if (factor === undefined) throw builtinError(name, `unit ${JSON.stringify(m[2])} not recognized`);
  const n = Number(m[1]) * factor;
  return bytes ? Math.trunc(n) : n;
}

const hash = (alg: string) => (s: unknown) => createHash(alg).update(str(`crypto.${alg}`, 1, s), 'utf8').digest('hex');
const hmac = (alg: string) => (x: unknown, k: unknown) => createHmac(alg, str(`crypto.hmac.${alg}`, 2, k)).update(str(`crypto.hmac.${alg}`, 1, x), 'utf8').digest('hex');

export const collectionBuiltins: Record<string, HostImpl> = {
  'array.flatten': {
    arity: 1,
    fn: (a) => arr('array.flatten', 1, a).flatMap((x) => (Array.isArray(x) ? x : [x])),
  },
  'array.reverse': { arity: 1, fn: (a) => [...arr('array.reverse', 1, a)].reverse() },
  'object.union_n': {
    arity: 1,
    fn: (a) => {
      const xs = arr('object.union_n', 1, a);
      let out: Record<string, unknown> = {};
      for (const x of xs) {
        if (!isObj(x)) throw new BuiltinError('eval_type_error', `object.union_n: operand 1 must be array of objects but got array containing ${typeName(x)}`);
        out = mergeObjects(out, x);
      }
      return out;
    },
  },
  'numbers.range_step': {
    arity: 3,
    fn: (a, b, s) => {
      const lo = num('numbers.range_step', 1, a);
      const hi = num('numbers.range_step', 2, b);
      const step = num('numbers.range_step', 3, s);
      if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw operandError('numbers.range_step', 1, 'integer', a);
      if (!Number.isInteger(step) || step <= 0) throw builtinError('numbers.range_step', 'step must be a positive integer');
      const out: number[] = [];
      if (lo <= hi) for (let i = lo; i <= hi; i += step) out.push(i);
      else for (let i = lo; i >= hi; i -= step) out.push(i);
      return out;
    },
  },
  'crypto.md5': { arity: 1, fn: hash('md5') },
  'crypto.sha1': { arity: 1, fn: hash('sha1') },
  'crypto.sha256': { arity: 1, fn: hash('sha256') },
  'crypto.hmac.md5': { arity: 2, fn: hmac('md5') },
  'crypto.hmac.sha1': { arity: 2, fn: hmac('sha1') },
  'crypto.hmac.sha256': { arity: 2, fn: hmac('sha256') },
  'crypto.hmac.sha512': { arity: 2, fn: hmac('sha512') },
  'crypto.hmac.equal': {
    arity: 2,
    fn: (a, b) => {
      const x = Buffer.from(str('crypto.hmac.equal', 1, a));
      const y = Buffer.from(str('crypto.hmac.equal', 2, b));
      return x.length === y.length && timingSafeEqual(x, y);
    },
  },
  // Tether exposes no runtime configuration or environment to policies.
  'opa.runtime': { arity: 0, fn: () => ({}) },
  'units.parse_bytes': { arity: 1, fn: (s) => parseUnits('units.parse_bytes', s, true) },
  'units.parse': { arity: 1, fn: (s) => parseUnits('units.parse', s, false) },
};
