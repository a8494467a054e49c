// Safety: unsafe vars are reported with their exact location, and bodies are reordered so each var
// is bound before it is read.

import { bodyToString } from '../../../src/compiler/ast';
import { reorderBodyForSafety } from '../../../src/compiler/check/safety';
import { parseQuery } from '../../../src/compiler/parser';
import { rewriteQuery, VarGen } from '../../../src/compiler/rewrite/locals';
import { compile, evalRule } from '../plan/harness';

const arity = (name: string): number | undefined => ({ count: 1, plus: 2, gt: 2, lt: 2, equal: 2 })[name];

function reorder(q: string): { order: string; messages: string[] } {
  const gen = new VarGen();
  const body = rewriteQuery(parseQuery(q).body!, gen);
  const r = reorderBodyForSafety(body, [], { arity, display: (n) => gen.display(n) });
  return { order: bodyToString(r.body), messages: r.diagnostics.map((d) => `${d.row}:${d.col} ${d.code}: ${d.message}`) };
}

describe('unsafe variables', () => {
  it('reports a var nothing binds, at the var itself', () => {
    const c = compile([['policy.rego', 'package s\nimport rego.v1\n\np if {\n  input.a == 1\n  x > 1\n}\n']], ['s/p']);
    expect(c.policy).toBeUndefined();
    expect(c.diagnostics).toEqual([{ code: 'rego_unsafe_var_error', message: 'var x is unsafe', file: 'policy.rego', row: 6, col: 3 }]);
  });

  it('reports head vars the body does not bind', () => {
    const c = compile([['h.rego', 'package s\nimport rego.v1\nq contains y if input.a\n']], ['s/q']);
    expect(c.diagnostics).toEqual([{ code: 'rego_unsafe_var_error', message: 'var y is unsafe', file: 'h.rego', row: 3, col: 12 }]);
  });

  it('reports vars that only a negated expression mentions', () => {
    const c = compile([['n.rego', 'package s\nimport rego.v1\np if { not input.deny[x] }\n']], ['s/p']);
    expect(c.diagnostics.map((d) => [d.message, d.row, d.col])).toEqual([['var x is unsafe', 3, 23]]);
  });

  it('reports unsafe vars inside comprehensions and shows declared names as written', () => {
    const c = compile([['c.rego', 'package s\nimport rego.v1\np := [v | v := w + 1]\n']], ['s/p']);
    expect(c.diagnostics.map((d) => [d.message, d.row, d.col])).toEqual([['var w is unsafe', 3, 16]]);
    const r = reorder('y := z');
    expect(r.messages).toEqual(['1:6 rego_unsafe_var_error: var z is unsafe']);
  });

  it('accepts wildcards inside `not` (existential)', () => {
    expect(evalRule(['package s\nimport rego.v1\np if { not input.deny[_] }\n'], 's/p', { deny: [] })).toBe(true);
    expect(evalRule(['package s\nimport rego.v1\np if { not input.deny[_] }\n'], 's/p', { deny: [1] })).toBeUndefined();
  });
});

describe('reordering for safety', () => {
  it('moves a comparison after the assignment that binds its var', () => {
    expect(reorder('x > 1; x := 2')).toEqual({ order: 'assign(__local0__, 2); gt(__local0__, 1)', messages: [] });
    expect(evalRule(['package s\nimport rego.v1\np if { x > 1; x := 2 }\n'], 's/p')).toBe(true);
    expect(evalRule(['package s\nimport rego.v1\np if { x > 5; x := 2 }\n'], 's/p')).toBeUndefined();
  });

  it('keeps the written order when it is already safe', () => {
    expect(reorder('x := input.a; y := x; y > 0').order).toBe('assign(__local0__, input.a); assign(__local1__, __local0__); gt(__local1__, 0)');
  });

  it('binds vars through refs, call outputs and unification before their readers', () => {
    expect(reorder('n > 1; count(input.xs[i], n)').order).toBe('count(input.xs[i], n); gt(n, 1)');
    expect(reorder('a == b; b = 1; a = b').order).toBe('eq(b, 1); eq(a, b); equal(a, b)');
  });

  it('orders outer expressions a comprehension captures before it', () => {
    expect(evalRule(['package s\nimport rego.v1\np := y if { y := [v | v := x + 1]; x = 2 }\n'], 's/p')).toEqual([3]);
  });

  it('orders inside `every` bodies and comprehension bodies', () => {
    expect(evalRule(['package s\nimport rego.v1\np if { every v in input.xs { y > 0; y := v } }\n'], 's/p', { xs: [1, 2] })).toBe(true);
    expect(evalRule(['package s\nimport rego.v1\np := [y | y > 1; y := input.xs[_]]\n'], 's/p', { xs: [1, 2, 3] })).toEqual([2, 3]);
  });
});
