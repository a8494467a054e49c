// Parameter types of common host built-ins (not in the wasm SDK's capabilities.json, so not in
// ./arg-types.ts), copied by hand from OPA's capabilities/v1.20.2.json. Any host built-in missing
// here is simply not type-checked; add one only from OPA's own declaration, never a narrower guess.
import type { BuiltinDecl, OpaType } from './arg-types';

const S: OpaType = { type: 'string' };
const N: OpaType = { type: 'number' };
const B: OpaType = { type: 'boolean' };
const ANY_ARRAY: OpaType = { type: 'array', dynamic: { type: 'any' } };
const STRINGS: OpaType = { type: 'any', of: [S, { type: 'array', dynamic: S }, { type: 'set', of: S }] };
/** Nanoseconds, or [ns, timezone]. */
const TIME: OpaType = { type: 'any', of: [N, { type: 'array', static: [N, S] }] };

const fn = (args: OpaType[], result: OpaType): BuiltinDecl => ({ args, result });

export const HOST_ARG_TYPES: Readonly<Record<string, BuiltinDecl>> = {
  'array.flatten': fn([ANY_ARRAY], ANY_ARRAY),
  'array.reverse': fn([ANY_ARRAY], ANY_ARRAY),
  'base64url.encode_no_pad': fn([S], S),
  'crypto.hmac.equal': fn([S, S], B),
  'crypto.hmac.md5': fn([S, S], S),
  'crypto.hmac.sha1': fn([S, S], S),
  'crypto.hmac.sha256': fn([S, S], S),
  'crypto.hmac.sha512': fn([S, S], S),
  'crypto.md5': fn([S], S),
  'crypto.sha1': fn([S], S),
  'crypto.sha256': fn([S], S),
  'glob.quote_meta': fn([S], S),
  'hex.decode': fn([S], S),
  'hex.encode': fn([S], S),
  indexof_n: fn([S, S], { type: 'array', dynamic: N }),
  'net.cidr_is_valid': fn([S], B),
  'numbers.range_step': fn([N, N, N], { type: 'array', dynamic: N }),
  'regex.find_n': fn([S, S, N], { type: 'array', dynamic: S }),
  'regex.replace': fn([S, S, S], S),
  'regex.split': fn([S, S], { type: 'array', dynamic: S }),
  'semver.compare': fn([S, S], N),
  'strings.any_prefix_match': fn([STRINGS, STRINGS], B),
  'strings.any_suffix_match': fn([STRINGS, STRINGS], B),
  'strings.count': fn([S, S], N),
  'strings.reverse': fn([S], S),
  'time.add_date': fn([N, N, N, N], N),
  'time.clock': fn([TIME], { type: 'array', static: [N, N, N] }),
  'time.date': fn([TIME], { type: 'array', static: [N, N, N] }),
  'time.format': fn([{ type: 'any', of: [N, { type: 'array', static: [N, S] }, { type: 'array', static: [N, S, S] }] }], S),
  'time.parse_duration_ns': fn([S], N),
  'time.parse_ns': fn([S, S], N),
  'time.parse_rfc3339_ns': fn([S], N),
  'time.weekday': fn([TIME], S),
  'units.parse': fn([S], N),
  'units.parse_bytes': fn([S], N),
  'urlquery.decode': fn([S], S),
  'urlquery.encode': fn([S], S),
};
