// Names and arities of the built-ins evaluated on the host (Tether's engine or the SDK itself),
// called from wasm through opa_builtinN. Pure data: the engine's implementations are checked
// against this table by test/engine/host-builtins-registry.test.ts.

/** Host built-ins Tether implements in src/engine/builtins (name → arity). */
export const TETHER_HOST_BUILTINS: Readonly<Record<string, number>> = {
  // print(...) when compiled with print statements (CompileInput.printStatements); $"..." strings
  'internal.print': 1,
  'internal.template_string': 1,
  // strings
  concat: 2,
  contains: 2,
  startswith: 2,
  endswith: 2,
  format_int: 2,
  indexof: 2,
  indexof_n: 2,
  lower: 1,
  upper: 1,
  replace: 3,
  'strings.replace_n': 2,
  split: 2,
  'strings.split_n': 3,
  substring: 3,
  trim: 2,
  trim_left: 2,
  trim_right: 2,
  trim_prefix: 2,
  trim_suffix: 2,
  trim_space: 1,
  'strings.reverse': 1,
  'strings.count': 2,
  'strings.any_prefix_match': 2,
  'strings.any_suffix_match': 2,
  to_number: 1,
  sprintf: 2,
  // patterns
  'glob.match': 3,
  'glob.quote_meta': 1,
  'regex.match': 2,
  'regex.is_valid': 1,
  'regex.find_n': 3,
  'regex.replace': 3,
  'regex.find_all_string_submatch_n': 3,
  // time
  'time.now_ns': 0,
  'time.parse_rfc3339_ns': 1,
  'time.parse_duration_ns': 1,
  'time.add_date': 4,
  'time.date': 1,
  'time.clock': 1,
  'time.weekday': 1,
  'time.format': 1,
  'time.parse_ns': 2,
  'time.diff': 2,
  // versions, networks
  'semver.compare': 2,
  'semver.is_valid': 1,
  'net.cidr_contains': 2,
  'net.cidr_intersects': 2,
  'net.cidr_is_valid': 1,
  // encodings
  'base64.encode': 1,
  'base64.decode': 1,
  'base64.is_valid': 1,
  'base64url.encode': 1,
  'base64url.encode_no_pad': 1,
  'base64url.decode': 1,
  'hex.encode': 1,
  'hex.decode': 1,
  'json.marshal': 1,
  'json.unmarshal': 1,
  'json.is_valid': 1,
  'json.filter': 2,
  'json.remove': 2,
  'yaml.is_valid': 1,
  'urlquery.encode': 1,
  'urlquery.decode': 1,
  // collections, hashing, units
  'array.flatten': 1,
  'array.reverse': 1,
  'object.union_n': 1,
  'numbers.range_step': 3,
  'crypto.md5': 1,
  'crypto.sha1': 1,
  'crypto.sha256': 1,
  'crypto.hmac.md5': 2,
  'crypto.hmac.sha1': 2,
  'crypto.hmac.sha256': 2,
  'crypto.hmac.sha512': 2,
  'crypto.hmac.equal': 2,
  'units.parse_bytes': 1,
  'units.parse': 1,
  'opa.runtime': 0,
};

/**
 * Built-ins the SDK implements itself (src/builtins of @open-policy-agent/opa-wasm); its own win
 * over customBuiltins of the same name, so `sprintf` always runs the SDK's sprintf-js version.
 */
export const SDK_BUILTINS: Readonly<Record<string, number>> = {
  sprintf: 2,
  'json.is_valid': 1,
  'regex.split': 2,
  'yaml.marshal': 1,
  'yaml.unmarshal': 1,
  'yaml.is_valid': 1,
};

/** Every host-side built-in (Tether's and the SDK's), name → arity. */
export const HOST_BUILTIN_ARITY: Readonly<Record<string, number>> = { ...TETHER_HOST_BUILTINS, ...SDK_BUILTINS };

/**
 * Host built-ins exported to the SDK under another name, because the SDK's own implementation of
 * the Rego name wins over customBuiltins and differs from OPA (sprintf-js prints %v of [1, 2] as
 * "1,2"; OPA prints "[1, 2]"). The driver renames calls in the planned policy; the engine registers
 * the implementation under the alias.
 */
export const HOST_ALIASES: Readonly<Record<string, string>> = {
  sprintf: 'tether.sprintf',
  'json.is_valid': 'tether.json.is_valid',
  'yaml.is_valid': 'tether.yaml.is_valid',
};
