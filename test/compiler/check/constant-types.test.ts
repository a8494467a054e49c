// OPA's compile-time argument type check, for literal arguments of built-ins (check/constant-types.ts):
// a typo such as `1 + "a"` must stop the policy loading, not make a rule silently never match.
import { compile } from '../../../src/compiler';
import { WASM_ARG_TYPES } from '../../../src/compiler/builtins/arg-types';
import { HOST_ARG_TYPES } from '../../../src/compiler/builtins/host-arg-types';
import { builtinArity } from '../../../src/compiler/builtins/catalog';

/** Compiles `body` as the body of rule p (line 4) and returns ok + "row:col code: message" lines. */
async function check(body: string): Promise<{ ok: boolean; found: string[] }> {
  const text = `package t\n\np if {\n\t${body}\n}\n`;
  const r = await compile({ files: [{ name: 't.rego', text }], entrypoints: ['t/p'] });
  return { ok: r.ok, found: r.diagnostics.map((d) => `${d.row}:${d.col} ${d.code}: ${d.message}`) };
}

const typeError = (col: number, name: string, have: string, want: string) =>
  `4:${col} rego_type_error: ${name}: invalid argument(s)\n\thave: ${have}\n\twant: ${want}`;

describe('literal arguments of the wrong type are rego_type_error (OPA message, have/want)', () => {
  const cases: Array<[string, string, number, string, string, string]> = [
    ['arithmetic on a string', 'x := 1 + "a"', 7, 'plus', '(number, string, ???)', '(number, number, number)'],
    ['count of a number', 'count(1)', 2, 'count', '(number)', '(any<string, array[any], object[any: any], set[any]>, number)'],
    ['upper of a number', 'x := upper(5)', 7, 'upper', '(number, ???)', '(string, string)'],
    ['concat of a string', 'concat(",", "a")', 2, 'concat', '(string, string)', '(string, any<array[string], set[string]>, string)'],
    ['startswith of a number', 'startswith(1, "a")', 2, 'startswith', '(number, string)', '(string, string, boolean)'],
    ['set union with a number', 'x := {1} | 2', 7, 'or', '(set[number], number, ???)', '(set[any], set[any], set[any])'],
    ['set intersection with a number', 'x := 1 & {2}', 7, 'and', '(number, set[number], ???)', '(set[any], set[any], set[any])'],
    ['array.concat of a number', 'x := array.concat([1], 2)', 7, 'array.concat', '(array<number>, number, ???)', '(array[any], array[any], array[any])'],
    ['concat of a set holding a number', 'x := concat(",", {"a", 1})', 7, 'concat', '(string, set[any<number, string>], ???)', '(string, any<array[string], set[string]>, string)'],
    ['a hand-declared host built-in', 'x := time.parse_rfc3339_ns(1)', 7, 'time.parse_rfc3339_ns', '(number, ???)', '(string, number)'],
    ['a non-literal operand is shown as any', 'x := concat(input.sep, 5)', 7, 'concat', '(any, number, ???)', '(string, any<array[string], set[string]>, string)'],
  ];
  it.each(cases)('%s: %s', async (_what, body, col, name, have, want) => {
    expect(await check(body)).toEqual({ ok: false, found: [typeError(col, name, have, want)] });
  });

  it('reports calls nested in other calls, comprehensions, rule heads and every bodies', async () => {
    const text = 'package t\n\nq := upper(1)\nr := [y | y := lower(2)]\np if {\n\tevery v in [1] { startswith(v, 3) }\n\tcount(trim(4, "x")) > 0\n}\n';
    const r = await compile({ files: [{ name: 't.rego', text }], entrypoints: ['t/p'] });
    expect(r.diagnostics.map((d) => `${d.row} ${d.message.split('\n')[0]}`)).toEqual([
      '3 upper: invalid argument(s)',
      '4 lower: invalid argument(s)',
      '6 startswith: invalid argument(s)',
      '7 trim: invalid argument(s)',
    ]);
  });

  it('checks ad-hoc queries too', async () => {
    const r = await compile({ files: [{ name: 't.rego', text: 'package t\np := 1\n' }], entrypoints: [], queries: [{ name: 'q', text: 'x := 1 + "a"' }] });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => d.message.split('\n')[0])).toEqual(['plus: invalid argument(s)']);
  });
});

describe('valid or undecidable calls stay valid', () => {
  const valid = [
    'x := 1 + 2',
    'count("abc") == 3',
    'count([1]) == 1',
    'count({"a": 1}) == 1',
    'count(set()) == 0',
    'concat(",", ["a"]) == "a"',
    'concat(",", {"a"}) == "a"',
    'concat(",", []) == ""',
    '"a" == 1',
    '"a" != 1',
    '1 < "a"',
    'x := input.n + 1',
    'x := upper(input.s)',
    'x := count([input.a, 1])',
    'x := concat(",", [input.a, 1])',
    'y := 5\n\tx := count(y)',
    'y := "a"\n\tx := concat(",", [y])',
    'x := [y | y := 1 + 2]',
    'x := {1} - 1',
    'x := 1 - {1}',
    'x := object.get({"a": 1}, "a", 0)',
    'x := object.get({"a": 1}, ["a", "b"], 0)',
    'glob.match("a*", null, "ab")',
    'x := sprintf("%v", [1])',
    'x := is_string(1)',
    'x := type_name(1)',
    'x := time.now_ns()',
    'x := numbers.range(1, 3)',
    'x := strings.replace_n({"a": "b"}, "a")',
    '1 in {1}',
    'some x in [1]',
    'print(upper(5))',
    'x := data.t.f(1)',
  ];
  it.each(valid)('%s', async (body) => {
    const text = `package t\n\nf(a) := a\np if {\n\t${body}\n}\n`;
    const r = await compile({ files: [{ name: 't.rego', text }], entrypoints: ['t/p'] });
    expect(r.diagnostics).toEqual([]);
  });

  it('does not judge a call whose function is replaced with `with`', async () => {
    expect(await check('upper(5) with upper as lower')).toEqual({ ok: true, found: [] });
  });

  it('leaves a same-named user function alone', async () => {
    const text = 'package t\n\nupper(x) := x\np if {\n\tupper(5) == 5\n}\n';
    const r = await compile({ files: [{ name: 't.rego', text }], entrypoints: ['t/p'] });
    expect(r.diagnostics.filter((d) => d.message.includes('invalid argument'))).toEqual([]);
  });

  it('leaves wrong arity to the arity check (one diagnostic, not two)', async () => {
    expect((await check('x := upper(5, 6)')).found).toEqual(['4:7 rego_type_error: upper: arity mismatch']);
  });
});

describe('the declaration tables', () => {
  it('declare only built-ins the catalog knows or OPA names, with consistent arities', () => {
    for (const [name, decl] of Object.entries({ ...WASM_ARG_TYPES, ...HOST_ARG_TYPES })) {
      const arity = builtinArity(name);
      if (arity !== undefined) expect([name, decl.args.length]).toEqual([name, arity]);
    }
  });

  it('hand-written host declarations do not shadow generated ones', () => {
    expect(Object.keys(HOST_ARG_TYPES).filter((n) => n in WASM_ARG_TYPES)).toEqual([]);
  });
});
