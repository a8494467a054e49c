// Encoding built-ins: base64, base64url, hex, json.marshal/unmarshal, as OPA (Go's encoding/*).
import { builtinError, str } from './errors';
import { rawJson } from './raw';
import { stringifyExact } from '../exact-json';
import { parse as parseYaml } from 'yaml';
import type { HostImpl } from './types';

const STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/** Go decodes arbitrary bytes into a string; invalid UTF-8 shows up as U+FFFD once in JSON. */
const bytesToString = (b: Buffer): string => b.toString('utf8');

function b64decode(s: unknown): string {
  const v = str('base64.decode', 1, s).replace(/[\r\n]/g, '');
  if (!STD.test(v)) throw builtinError('base64.decode', `illegal base64 data at input byte ${firstBad(v, /[A-Za-z0-9+/=]/)}`);
  return bytesToString(Buffer.from(v, 'base64'));
}

function firstBad(s: string, ok: RegExp): number {
  for (let i = 0; i < s.length; i++) if (!ok.test(s[i])) return i;
  return s.length - (s.length % 4);
}

function b64urlDecode(s: unknown): string {
  let v = str('base64url.decode', 1, s);
  // RFC 7515 allows omitted padding; OPA restores it before strict decoding.
  if (!v.endsWith('=')) {
    switch (v.length % 4) {
      case 0:
        break;
      case 2:
        v += '==';
        break;
      case 3:
        v += '=';
        break;
      default:
        throw builtinError('base64url.decode', `illegal base64url string: ${v}`);
    }
  }
  if (!URL.test(v)) throw builtinError('base64url.decode', `illegal base64 data at input byte ${firstBad(v, /[A-Za-z0-9_=-]/)}`);
  return bytesToString(Buffer.from(v, 'base64url'));
}

/** Go's json.Marshal: compact, object keys sorted, <, > and & escaped as \u003c etc. */
export function goJsonMarshal(v: unknown): string {
  const sortKeys = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o).sort()) out[k] = sortKeys(o[k]);
      return out;
    }
    return x;
  };
  return stringifyExact(sortKeys(v))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function jsonUnmarshal(s: unknown): ArrayBuffer {
  const text = str('json.unmarshal', 1, s);
  try {
    JSON.parse(text);
  } catch (e) {
    throw builtinError('json.unmarshal', (e as Error).message);
  }
  // Handing back the original text keeps big numbers exact.
  return rawJson(text);
}

export const encodingBuiltins: Record<string, HostImpl> = {
  'base64.encode': { arity: 1, fn: (s) => Buffer.from(str('base64.encode', 1, s), 'utf8').toString('base64') },
  'base64.decode': { arity: 1, fn: b64decode },
  'base64.is_valid': { arity: 1, fn: (s) => typeof s === 'string' && STD.test(s.replace(/[\r\n]/g, '')) },
  'base64url.encode': {
    arity: 1,
    fn: (s) => {
      const b = Buffer.from(str('base64url.encode', 1, s), 'utf8').toString('base64url');
      return b + '='.repeat((4 - (b.length % 4)) % 4);
    },
  },
  'base64url.encode_no_pad': { arity: 1, fn: (s) => Buffer.from(str('base64url.encode_no_pad', 1, s), 'utf8').toString('base64url') },
  'base64url.decode': { arity: 1, fn: b64urlDecode },
  'hex.encode': { arity: 1, fn: (s) => Buffer.from(str('hex.encode', 1, s), 'utf8').toString('hex') },
  'hex.decode': {
    arity: 1,
    fn: (s) => {
      const v = str('hex.decode', 1, s);
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(v)) throw builtinError('hex.decode', `encoding/hex: invalid byte in ${JSON.stringify(v)}`);
      return bytesToString(Buffer.from(v, 'hex'));
    },
  },
  'json.marshal': { arity: 1, fn: goJsonMarshal },
  'json.unmarshal': { arity: 1, fn: jsonUnmarshal },
  'json.is_valid': {
    arity: 1,
    fn: (s) => {
      if (typeof s !== 'string') return false;
      try {
        JSON.parse(s);
        return true;
      } catch {
        return false;
      }
    },
  },
  // OPA answers false (not undefined, as the SDK's version does) for a non-string.
  'yaml.is_valid': {
    arity: 1,
    fn: (s) => {
      if (typeof s !== 'string') return false;
      try {
        parseYaml(s);
        return true;
      } catch {
        return false;
      }
    },
  },
  'urlquery.encode': {
    arity: 1,
    fn: (s) => encodeURIComponent(str('urlquery.encode', 1, s)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()),
  },
  'urlquery.decode': {
    arity: 1,
    fn: (s) => {
      try {
        return decodeURIComponent(str('urlquery.decode', 1, s).replace(/\+/g, ' '));
      } catch {
        throw builtinError('urlquery.decode', `invalid URL escape`);
      }
    },
  },
};
