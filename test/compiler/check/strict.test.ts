// OPA's strict mode: unused imports and := vars nothing reads are compile errors, only when asked for.
import { compile } from '../../../src/compiler';

const POLICY = `package t
import rego.v1
import data.lib.helpers
import data.lib.used
import input.user as u

allow if {
	x := 1
	y := 2
	y > 0
	[a, b] := [1, 2]
	a > 0
	used.ok
}

f(v) := w if {
	w := v
	z := 3
}

names := [n | some q in [1]; n := q; m := q]

g := r if r := u

h := k if {
	k := 1
} else := j if {
	j := 2
	unread := 3
}
`;

const messages = async (strict: boolean) => {
  const r = await compile({ files: [{ name: 't.rego', text: POLICY }], entrypoints: ['t/allow'], strict });
  return { ok: r.ok, found: r.diagnostics.map((d) => `${d.row}:${d.col} ${d.code}: ${d.message}`) };
};

describe('strict mode', () => {
  test('reports every unused import and unused := var, in source order, with its location', async () => {
    expect(await messages(true)).toEqual({
      ok: false,
      found: [
        '3:1 rego_compile_error: import data.lib.helpers unused',
        '8:2 rego_compile_error: assigned var x unused',
        '11:2 rego_compile_error: assigned var b unused',
        '18:2 rego_compile_error: assigned var z unused',
        '21:38 rego_compile_error: assigned var m unused',
        '29:2 rego_compile_error: assigned var unread unused',
      ],
    });
  });

  test('off by default: the same policy compiles', async () => {
    expect(await messages(false)).toEqual({ ok: true, found: [] });
  });

  test('vars read in the head, in else values, through aliases and in comprehensions count as used', async () => {
    const r = await compile({
      files: [{ name: 'ok.rego', text: 'package ok\nimport rego.v1\nimport data.lib as l\n\np := x if x := l.v\n\nq := [y | some v in [1]; y := v]\n' }],
      entrypoints: ['ok/p'],
      strict: true,
    });
    expect(r.diagnostics).toEqual([]);
  });
});
