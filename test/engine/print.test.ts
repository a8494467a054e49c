// print(...): dropped at compile time unless asked for; with print statements, OPA's output lines
// (strings raw, other values as Rego text, <undefined> for an undefined argument, one line per
// combination of values) reach the engine's print sink, and printing never changes a result.
import { compile } from '../../src/compiler';
import { loadEngine } from '../../src/engine/engine';
import { callHostBuiltin } from '../../src/engine/builtins';

jest.setTimeout(60_000);

const POLICY = `package t
import rego.v1

xs := ["a", "b"]

allow if {
	print("user", input.user, "missing", input.nope, "attrs", {"k": [1, 2.5]}, null)
	input.user == "ann"
}

each if {
	print("x", xs[_], "n", [1, 2][_])
}

f(v) := v * 2 if print("f of", v)

doubled := f(input.n)

names := {n | some n in xs; print("name", n)}
`;

async function engineFor(printStatements: boolean) {
  const r = await compile({ files: [{ name: 't.rego', text: POLICY }], entrypoints: ['t/allow', 't/each', 't/doubled', 't/names'], printStatements });
  expect(r.diagnostics).toEqual([]);
  const lines: string[] = [];
  return { engine: loadEngine(r.wasm!, { print: (l) => lines.push(l) }), lines };
}

describe('print statements', () => {
  test('compiled in, each call prints one line per combination of its arguments’ values', async () => {
    const { engine, lines } = await engineFor(true);
    expect(engine.evaluate('t/allow', { user: 'ann' })).toEqual([{ result: true }]);
    expect(lines).toEqual(['user ann missing <undefined> attrs {"k": [1, 2.5]} null']);

    lines.length = 0;
    expect(engine.evaluate('t/each', {})).toEqual([{ result: true }]);
    expect(lines).toEqual(['x a n 1', 'x a n 2', 'x b n 1', 'x b n 2']);
  });

  test('inside functions and comprehensions too, without changing what they return', async () => {
    const { engine, lines } = await engineFor(true);
    expect(engine.evaluate('t/doubled', { n: 4 })).toEqual([{ result: 8 }]);
    expect(lines).toEqual(['f of 4']);
    lines.length = 0;
    expect(engine.evaluate('t/names', {})).toEqual([{ result: ['a', 'b'] }]);
    expect(lines.sort()).toEqual(['name a', 'name b']);
  });

  test('an undefined argument does not make the rule undefined', async () => {
    const { engine, lines } = await engineFor(true);
    expect(engine.evaluate('t/allow', { user: 'bo' })).toEqual([]);
    expect(engine.evaluate('t/allow', { user: 'ann', nope: 1 })).toEqual([{ result: true }]);
    expect(lines).toEqual(['user bo missing <undefined> attrs {"k": [1, 2.5]} null', 'user ann missing 1 attrs {"k": [1, 2.5]} null']);
  });

  test('dropped by default: same results, nothing printed', async () => {
    const { engine, lines } = await engineFor(false);
    expect(engine.evaluate('t/allow', { user: 'ann' })).toEqual([{ result: true }]);
    expect(engine.evaluate('t/doubled', { n: 4 })).toEqual([{ result: 8 }]);
    expect(engine.evaluate('t/each', {})).toEqual([{ result: true }]);
    expect(lines).toEqual([]);
  });

  test('internal.print formats as OPA and succeeds even with no sink', () => {
    const out: string[] = [];
    expect(callHostBuiltin('internal.print', [[['s'], [], [{ b: 1, a: 'x' }], [true, 3]]], { print: (l) => out.push(l) })).toBe(true);
    expect(out).toEqual(['s <undefined> {"a": "x", "b": 1} true', 's <undefined> {"a": "x", "b": 1} 3']);
    expect(callHostBuiltin('internal.print', [[['s']]], {})).toBe(true);
  });
});
