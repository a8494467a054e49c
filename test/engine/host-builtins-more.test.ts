// Go time layouts, time.diff, json.filter/remove, regex submatches and small helpers vs OPA's answers.
import { callHostBuiltin } from '../../src/engine/builtins';
import { toJsonText, toPlain } from '../../src/engine/builtins/raw';

const call = (name: string, ...args: unknown[]): unknown => toPlain(callHostBuiltin(name, args));
const exact = (name: string, ...args: unknown[]): string | undefined => toJsonText(callHostBuiltin(name, args));

describe('time.format / time.parse_ns / time.diff', () => {
  test('time.format defaults to RFC3339Nano in UTC and honours zones and layouts', () => {
    expect(call('time.format', 1496455200000000000)).toBe('2017-06-03T02:00:00Z');
    expect(call('time.format', [1496455200000000000, 'America/New_York', 'Mon Jan _2 15:04:05 MST 2006'])).toBe('Fri Jun  2 22:00:00 EDT 2017');
    expect(call('time.format', [1496455200000000000, 'UTC', '2006-01-02 03:04PM'])).toBe('2017-06-03 02:00AM');
  });

  test('time.parse_ns reads Go layouts, offsets and fractional seconds exactly', () => {
    expect(exact('time.parse_ns', '2006-01-02', '2017-06-02')).toBe('1496361600000000000');
    expect(exact('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2017-06-02T19:00:00.5-07:00')).toBe('1496455200500000000');
    expect(exact('time.parse_ns', 'Mon Jan _2 15:04:05 MST 2006', 'Fri Jun  2 19:00:00 UTC 2017')).toBe('1496430000000000000');
    expect(() => call('time.parse_ns', '2006-01-02', 'June 2')).toThrow(/cannot parse/);
  });

  test('time.diff returns [years, months, days, hours, minutes, seconds]', () => {
    expect(call('time.diff', 1496455200000000000, 1000000000000000000)).toEqual([15, 8, 24, 0, 13, 20]);
    expect(call('time.diff', 0, 0)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('json.filter / json.remove', () => {
  test('keep or drop the named paths (string or array paths, array indices)', () => {
    expect(call('json.filter', { a: { b: 1, c: 2 }, d: [1, { e: 3 }] }, ['a/b', 'd/1/e'])).toEqual({ a: { b: 1 }, d: [{ e: 3 }] });
    expect(call('json.remove', { a: { b: 1, c: 2 }, d: 1 }, ['a/b', ['d']])).toEqual({ a: { c: 2 } });
  });
});

describe('misc host built-ins', () => {
  test('regex.find_all_string_submatch_n', () => {
    expect(call('regex.find_all_string_submatch_n', 'a(x*)b', '-ab-axxb-', -1)).toEqual([['ab', ''], ['axxb', 'xx']]);
  });
  test('array.flatten flattens one level; object.union_n merges right-most wins', () => {
    expect(call('array.flatten', [[1, [2]], 3])).toEqual([1, [2], 3]);
    expect(() => call('array.flatten', 42)).toThrow('array.flatten: operand 1 must be array but got number');
    expect(call('object.union_n', [{ a: { b: 1 } }, { a: { c: 2 } }, { d: 3 }])).toEqual({ a: { b: 1, c: 2 }, d: 3 });
  });
  test('hashes, units and opa.runtime', () => {
    expect(call('crypto.sha256', 'abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(call('crypto.hmac.sha256', 'msg', 'key')).toBe('2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628');
    expect(call('units.parse_bytes', '10KiB')).toBe(10240);
    expect(call('units.parse', '1.5k')).toBe(1500);
    expect(call('opa.runtime')).toEqual({});
  });
});
