// Host string built-ins against OPA's documented answers (Go strings semantics, code points).
import { callHostBuiltin } from '../../src/engine/builtins';
import { toPlain } from '../../src/engine/builtins/raw';

const call = (name: string, ...args: unknown[]): unknown => toPlain(callHostBuiltin(name, args));
const codeOf = (name: string, ...args: unknown[]): string => {
  try {
    callHostBuiltin(name, args);
  } catch (e) {
    return `${(e as { code: string }).code}: ${(e as Error).message}`;
  }
  return 'no error';
};

describe('string host built-ins', () => {
  test('split follows Go strings.Split, including the empty separator', () => {
    expect(call('split', 'a.b.c', '.')).toEqual(['a', 'b', 'c']);
    expect(call('split', 'abc', '')).toEqual(['a', 'b', 'c']);
    expect(call('split', '', ',')).toEqual(['']);
    expect(call('split', 'héllo😀', '')).toEqual(['h', 'é', 'l', 'l', 'o', '😀']);
  });

  test('strings.split_n limits the number of parts', () => {
    expect(call('strings.split_n', 'a,b,c', ',', 2)).toEqual(['a', 'b,c']);
    expect(call('strings.split_n', 'a,b,c', ',', -1)).toEqual(['c']); // current OPA: last |n| parts
    expect(call('strings.split_n', 'a,b', ',', -5)).toEqual(['a', 'b']);
    expect(call('strings.split_n', 'a,b,c', ',', 0)).toEqual([]);
  });

  test('trim family uses cutsets; trim_prefix/suffix use whole strings', () => {
    expect(call('trim', '  xhellox ', ' x')).toBe('hello');
    expect(call('trim_left', 'xxhix', 'x')).toBe('hix');
    expect(call('trim_right', 'xxhix', 'x')).toBe('xxhi');
    expect(call('trim_prefix', 'foo.bar', 'foo.')).toBe('bar');
    expect(call('trim_prefix', 'foo.bar', 'baz')).toBe('foo.bar');
    expect(call('trim_suffix', 'foo.bar', '.bar')).toBe('foo');
    expect(call('trim_space', '\t hi \n')).toBe('hi');
  });

  test('replace and strings.replace_n', () => {
    expect(call('replace', 'aaa', 'a', 'b')).toBe('bbb');
    expect(call('replace', 'ab', '', '-')).toBe('-a-b-');
    expect(call('strings.replace_n', { '<': '&lt;', '>': '&gt;' }, '<a>')).toBe('&lt;a&gt;');
    // Keys are applied in sorted order at each position, without re-scanning replacements.
    expect(call('strings.replace_n', { a: 'b', b: 'c' }, 'ab')).toBe('bc');
  });

  test('indexof, indexof_n and substring count code points', () => {
    expect(call('indexof', 'héllo', 'l')).toBe(2);
    expect(call('indexof', 'abc', 'z')).toBe(-1);
    expect(call('indexof_n', 'abcabc', 'bc')).toEqual([1, 4]);
    expect(call('substring', 'héllo', 1, 3)).toBe('éll');
    expect(call('substring', 'hello', 1, -1)).toBe('ello');
    expect(call('substring', 'hello', 9, 2)).toBe('');
    expect(codeOf('substring', 'hello', -1, 2)).toBe('eval_builtin_error: substring: negative offset');
  });

  test('lower/upper map per code point, as Go', () => {
    expect(call('upper', 'straße ǆ')).toBe('STRAßE Ǆ');
    expect(call('lower', 'ÀÉÎ')).toBe('àéî');
  });

  test('format_int truncates toward zero and rejects other bases', () => {
    expect(call('format_int', 255, 16)).toBe('ff');
    expect(call('format_int', -3.9, 10)).toBe('-3');
    expect(call('format_int', 5, 2)).toBe('101');
    expect(codeOf('format_int', 5, 3)).toMatch(/^eval_type_error: format_int: operand 2 must be one of \{2, 8, 10, 16\}/);
  });

  test('to_number parses Go float syntax and rejects inf/nan as type errors', () => {
    expect(call('to_number', '10')).toBe(10);
    expect(call('to_number', '-1.5e3')).toBe(-1500);
    expect(call('to_number', true)).toBe(1);
    expect(call('to_number', null)).toBe(0);
    expect(codeOf('to_number', 'broken')).toMatch(/^eval_builtin_error: .*invalid syntax/);
    expect(codeOf('to_number', 'Infinity')).toMatch(/^eval_type_error/);
    expect(codeOf('to_number', '-nan')).toMatch(/^eval_type_error/);
    // Integers beyond float64 keep every digit on the way back into wasm.
    const big = callHostBuiltin('to_number', ['123456789012345678901234567890']);
    expect(Buffer.from(big as ArrayBuffer).toString()).toBe('123456789012345678901234567890');
  });

  test('strings.any_prefix_match / any_suffix_match with OPA type errors', () => {
    expect(call('strings.any_prefix_match', ['a/b', 'c/d'], ['c/'])).toBe(true);
    expect(call('strings.any_suffix_match', 'a/b/c', ['/x'])).toBe(false);
    expect(codeOf('strings.any_suffix_match', 1, ['a'])).toBe(
      'eval_type_error: strings.any_suffix_match: operand 1 must be one of {string, set, array} but got number',
    );
    expect(codeOf('strings.any_suffix_match', ['a'], [1])).toBe(
      'eval_type_error: strings.any_suffix_match: operand 2 must be array of strings but got array containing number',
    );
  });

  test('concat, contains, startswith, endswith, strings.count, strings.reverse', () => {
    expect(call('concat', ', ', ['a', 'b'])).toBe('a, b');
    expect(call('contains', 'abc', 'b')).toBe(true);
    expect(call('startswith', 'abc', 'ab')).toBe(true);
    expect(call('endswith', 'abc', 'ab')).toBe(false);
    expect(call('strings.count', 'cheese', 'e')).toBe(3);
    expect(call('strings.count', 'five', '')).toBe(5);
    expect(call('strings.reverse', 'héllo')).toBe('olléh');
  });
});

describe('sprintf (OPA: Go fmt over Rego values)', () => {
  test('verbs and widths as Go prints them', () => {
    expect(call('sprintf', 'hi %02X.%02X', [127, 1])).toBe('hi 7F.01');
    expect(call('sprintf', '%v', [[1, 'a']])).toBe('[1, "a"]');
    expect(call('sprintf', '%v', [{ b: 1, a: true }])).toBe('{"a": true, "b": 1}');
    expect(call('sprintf', '%s and %d', ['x', 42])).toBe('x and 42');
    expect(call('sprintf', '%d', [3.5])).toBe('%!d(float64=3.5)');
    expect(call('sprintf', '%.2f', [3.14159])).toBe('3.14');
    expect(call('sprintf', '%v', [1.5])).toBe('1.5');
    expect(call('sprintf', '%v', [1e-7])).toBe('1e-07');
    expect(call('sprintf', '%5s|%-5s|', ['a', 'b'])).toBe('    a|b    |');
    expect(call('sprintf', '%d %d', [1])).toBe('1 %!d(MISSING)');
    expect(call('sprintf', '100%%', [])).toBe('100%');
    // OPA hands booleans to Go as their Rego text, so %t does not apply but %v does.
    expect(call('sprintf', '%t', [true])).toBe('%!t(string=true)');
    expect(call('sprintf', '%v', [true])).toBe('true');
    expect(call('sprintf', '%q', ['a"b'])).toBe('"a\\"b"');
    expect(call('sprintf', '%x', ['hi'])).toBe('6869');
  });
});
