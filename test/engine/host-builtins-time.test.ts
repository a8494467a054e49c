// Time, semver, net and encoding host built-ins against OPA's documented answers.
import { callHostBuiltin, makeHostBuiltins } from '../../src/engine/builtins';
import { toJsonText, toPlain } from '../../src/engine/builtins/raw';

const call = (name: string, ...args: unknown[]): unknown => toPlain(callHostBuiltin(name, args));
const exact = (name: string, ...args: unknown[]): string | undefined => toJsonText(callHostBuiltin(name, args));

describe('time built-ins', () => {
  test('time.parse_rfc3339_ns is exact over the whole int64 range', () => {
    expect(exact('time.parse_rfc3339_ns', '1970-01-01T00:00:00-00:00')).toBe('0');
    expect(exact('time.parse_rfc3339_ns', '2017-06-02T19:00:00-07:00')).toBe('1496455200000000000');
    expect(exact('time.parse_rfc3339_ns', '1677-09-21T00:12:43.145224192-00:00')).toBe('-9223372036854775808');
    expect(exact('time.parse_rfc3339_ns', '2262-04-11T23:47:16.854775807-00:00')).toBe('9223372036854775807');
    expect(() => call('time.parse_rfc3339_ns', '2262-04-11T23:47:16.854775808-00:00')).toThrow('time outside of valid range');
    expect(() => call('time.parse_rfc3339_ns', 'yesterday')).toThrow(/parsing time/);
  });

  test('time.add_date normalises like Go AddDate', () => {
    expect(exact('time.add_date', 1585852421593912000, 3, 9, 12)).toBe(String(BigInt(1585852421593912000) + 1705257221593912000n - 1585852421593912000n));
    // 2020-01-31 + 1 month = 2020-03-02 (Feb has 29 days in 2020), as Go normalises.
    const jan31 = Number(BigInt(Date.UTC(2020, 0, 31)) * 1_000_000n);
    expect(call('time.date', call('time.add_date', jan31, 0, 1, 0))).toEqual([2020, 3, 2]);
    expect(() => call('time.add_date', 0, 2262, 1, 1)).toThrow('time outside of valid range');
  });

  test('time.date, time.clock, time.weekday in UTC and in a named zone', () => {
    const ns = 1496455200000000000; // 2017-06-03T02:00:00Z
    expect(call('time.date', ns)).toEqual([2017, 6, 3]);
    expect(call('time.clock', ns)).toEqual([2, 0, 0]);
    expect(call('time.weekday', ns)).toBe('Saturday');
    expect(call('time.date', [ns, 'America/Los_Angeles'])).toEqual([2017, 6, 2]);
    expect(call('time.clock', [ns, 'America/Los_Angeles'])).toEqual([19, 0, 0]);
  });

  test('time.parse_duration_ns follows Go ParseDuration', () => {
    expect(call('time.parse_duration_ns', '1h30m')).toBe(5.4e12);
    expect(call('time.parse_duration_ns', '1.5s')).toBe(1.5e9);
    expect(call('time.parse_duration_ns', '-2ms')).toBe(-2e6);
    expect(() => call('time.parse_duration_ns', '5 days')).toThrow(/invalid duration/);
  });

  test('time.now_ns gives one value per evaluation context', () => {
    const host = makeHostBuiltins();
    const a = toJsonText(host.builtins['time.now_ns']());
    const b = toJsonText(host.builtins['time.now_ns']());
    expect(a).toBe(b);
    host.context.nowNs = undefined;
    expect(BigInt(toJsonText(host.builtins['time.now_ns']())!)).toBeGreaterThanOrEqual(BigInt(a!));
    expect(Number(a) / 1e6).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('semver', () => {
  test('compare by SemVer 2.0 precedence', () => {
    expect(call('semver.compare', '1.0.0', '1.0.1')).toBe(-1);
    expect(call('semver.compare', '1.0.0-alpha', '1.0.0')).toBe(-1);
    expect(call('semver.compare', '1.0.0-alpha.1', '1.0.0-alpha.beta')).toBe(-1);
    expect(call('semver.compare', '1.0.0+build', '1.0.0')).toBe(0);
    expect(call('semver.compare', '10.0.0', '9.0.0')).toBe(1);
    expect(() => call('semver.compare', '1', '1.0.0')).toThrow('semver.compare: operand 1: string "1" is not a valid SemVer');
  });
  test('is_valid', () => {
    expect(call('semver.is_valid', '1.2.3-rc.1+sha')).toBe(true);
    expect(call('semver.is_valid', 'v1.2.3')).toBe(false);
    expect(call('semver.is_valid', 1)).toBe(false);
  });
});

describe('net.cidr_contains', () => {
  test.each([
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.0.0.0/8', '11.1.2.3', false],
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['192.168.1.0/28', '192.168.1.0/24', false],
    ['2001:db8::/32', '2001:db8:1::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::ffff:10.0.0.0/104', '10.1.1.1', true],
  ])('%s contains %s = %s', (a, b, want) => {
    expect(call('net.cidr_contains', a, b)).toBe(want);
  });
  test('a malformed CIDR is a built-in error', () => {
    expect(() => call('net.cidr_contains', '192.168.1.0/28', 'not-a-cidr')).toThrow(/invalid CIDR address/);
    expect(() => call('net.cidr_contains', 'nope', '1.2.3.4')).toThrow(/invalid CIDR address: nope/);
  });
});

describe('encodings', () => {
  test('base64 and base64url', () => {
    expect(call('base64.encode', 'hello')).toBe('aGVsbG8=');
    expect(call('base64.decode', 'aGVsbG8=')).toBe('hello');
    expect(() => call('base64.decode', 'a$=')).toThrow(/illegal base64 data/);
    expect(call('base64url.encode', '\u00ff\u00fe?')).toBe('w7_Dvj8=');
    expect(call('base64url.encode_no_pad', '\u00ff\u00fe?')).toBe('w7_Dvj8');
    expect(call('base64url.decode', 'w7_Dvj8')).toBe('\u00ff\u00fe?');
    expect(call('base64url.decode', 'w7_Dvj8=')).toBe('\u00ff\u00fe?');
  });
  test('json.marshal sorts keys and escapes HTML as Go does; json.unmarshal keeps big numbers', () => {
    expect(call('json.marshal', { b: [1, 'x<y'], a: null })).toBe('{"a":null,"b":[1,"x\\u003cy"]}');
    expect(toJsonText(callHostBuiltin('json.unmarshal', ['{"n": 123456789012345678901}']))).toBe('{"n": 123456789012345678901}');
    expect(() => call('json.unmarshal', '{')).toThrow(/json.unmarshal/);
    expect(call('json.is_valid', '{"a":1}')).toBe(true);
    expect(call('json.is_valid', '{')).toBe(false);
  });
  test('hex and urlquery', () => {
    expect(call('hex.encode', 'hi')).toBe('6869');
    expect(call('hex.decode', '6869')).toBe('hi');
    expect(call('urlquery.encode', 'a b&c')).toBe('a+b%26c');
    expect(call('urlquery.decode', 'a+b%26c')).toBe('a b&c');
  });
});

describe('error policy', () => {
  test('non-strict mode turns built-in errors into undefined; strict mode raises them', () => {
    expect(makeHostBuiltins().builtins['to_number']('x')).toBeUndefined();
    expect(() => makeHostBuiltins({ strict: true }).builtins['to_number']('x')).toThrow(/invalid syntax/);
  });
});
