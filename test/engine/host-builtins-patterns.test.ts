// glob.match and regex.* against OPA's documented answers (gobwas/glob and RE2 semantics).
import { callHostBuiltin } from '../../src/engine/builtins';

const call = (name: string, ...args: unknown[]): unknown => callHostBuiltin(name, args);

describe('glob.match', () => {
  test.each([
    ['*.github.com', ['.'], 'api.github.com', true],
    ['*.github.com', ['.'], 'api.cdn.github.com', false],
    ['*:github:com', [':'], 'api:github:com', true],
    ['*', [], 'a.b', false], // an empty delimiter list means ["."]
    ['*', null, 'a.b', true], // null means no delimiters
    ['**.github.com', ['.'], 'api.cdn.github.com', true],
    ['[!abc]at', [], 'fat', true],
    ['[!a-c]at', [], 'bat', false],
    ['[a-c]at', [], 'cat', true],
    ['{cat,bat,[fr]at}', [], 'rat', true],
    ['{cat,bat,[fr]at}', [], 'at', false],
    ['?', null, '', false],
    ['a/*/b', null, 'a/b', false],
    ['a/**/b', null, 'a//b', true],
    ['**/x', null, 'x', false],
    ['{**/,}x', null, 'x', true],
    ['***', ['.'], '', true],
    ['*?*', ['.', '/'], 'api.github.com', false],
    ['*', ['.', '/'], 'a/b', false],
    ['\\*', null, '*', true],
    ['\\*', null, 'a', false],
  ])('glob.match(%j, %j, %j) = %j', (pattern, delims, subject, want) => {
    expect(call('glob.match', pattern, delims, subject)).toBe(want);
  });

  test('a bad delimiter operand is an OPA type error', () => {
    expect(() => call('glob.match', '*', 'x', 'a')).toThrow('glob.match: operand 2 must be one of {array, null} but got string');
  });
});

describe('regex built-ins', () => {
  test('regex.match with RE2 flags and anchors', () => {
    expect(call('regex.match', '^[a-z]+$', 'abc')).toBe(true);
    expect(call('regex.match', 'b', 'abc')).toBe(true);
    expect(call('regex.match', '(?i)^ABC$', 'abc')).toBe(true);
    expect(call('regex.match', '\\Aab\\z', 'ab')).toBe(true);
    expect(call('regex.match', '[[:digit:]]+', 'x12')).toBe(true);
    expect(call('regex.match', '^\\p{L}+$', 'héllo')).toBe(true);
  });

  test('an invalid pattern is a built-in error', () => {
    expect(() => call('regex.match', '(', 'x')).toThrow(/regex.match: error parsing regexp/);
    expect(call('regex.is_valid', '(')).toBe(false);
    expect(call('regex.is_valid', 'a+')).toBe(true);
  });

  test('regex.find_n and regex.replace', () => {
    expect(call('regex.find_n', '[0-9]', 'a1b2c3', 2)).toEqual(['1', '2']);
    expect(call('regex.find_n', '[0-9]', 'a1b2c3', -1)).toEqual(['1', '2', '3']);
    expect(call('regex.replace', 'a1b2', '([a-z])([0-9])', '$2$1')).toBe('1a2b');
  });
});
