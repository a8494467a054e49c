// Big integers stay exact across the SDK's JSON boundary while an evaluation runs.
import { bigintSeen, parseExact, stringifyExact, toPlainNumbers, withExactJson } from '../../src/engine/exact-json';
import { callHostBuiltin, makeHostBuiltins } from '../../src/engine/builtins';
import { toJsonText } from '../../src/engine/builtins/raw';

describe('exact JSON', () => {
  test('integers beyond 2^53 parse as bigint; strings, floats and small numbers are untouched', () => {
    expect(parseExact('[1208925819614629174706175, "12345678901234567890", 1.5e300, -9223372036854775808, {"a": 9007199254740993, "b": 7}]')).toEqual([
      1208925819614629174706175n,
      '12345678901234567890',
      1.5e300,
      -9223372036854775808n,
      { a: 9007199254740993n, b: 7 },
    ]);
    expect(parseExact('{"s": "say \\"1234567890123456789\\""}')).toEqual({ s: 'say "1234567890123456789"' });
  });

  test('stringifyExact writes bigints as exact literals; toPlainNumbers rounds them for JSON callers', () => {
    expect(stringifyExact({ a: [123456789012345678901234567890n, 'x', null] })).toBe('{"a":[123456789012345678901234567890,"x",null]}');
    expect(toPlainNumbers({ a: [2n ** 64n] })).toEqual({ a: [18446744073709551616] });
  });

  test('withExactJson swaps JSON.parse only for the duration of the call', () => {
    const native = JSON.parse;
    const r = withExactJson(() => JSON.parse('[18446744073709551617]') as unknown[]);
    expect(r.value[0]).toBe(18446744073709551617n);
    expect(r.sawBigint).toBe(true);
    expect(JSON.parse).toBe(native);
    expect(() => withExactJson(() => {
      throw new Error('x');
    })).toThrow('x');
    expect(JSON.parse).toBe(native);
  });

  test('host built-ins take exact bigint operands and hand exact results back', () => {
    expect(callHostBuiltin('sprintf', ['%v', [123456789123456789123n]])).toBe('123456789123456789123');
    expect(callHostBuiltin('time.format', [1670006453141828752n])).toBe('2022-12-02T18:40:53.141828752Z');
    expect(toJsonText(callHostBuiltin('time.add_date', [1585852421593912000n, 3, 9, 12]))).toBe('1705257221593912000');
    const { builtins } = makeHostBuiltins();
    const out = withExactJson(() => {
      JSON.parse('[36893488147419103234]');
      return builtins['array.flatten']([[36893488147419103234n], [1]]);
    });
    expect(bigintSeen()).toBe(true);
    expect(toJsonText(out.value)).toBe('[36893488147419103234,1]');
  });
});
