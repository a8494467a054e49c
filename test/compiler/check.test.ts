// Semantic checks over parsed modules: name resolution across modules and imports, built-in and
// user-function arity (with OPA's output-argument form), rule-kind conflicts, defaults,
// recursion, and declaration errors.
import { parseModule } from '../../src/compiler/parser';
import { checkModules, checkQuery, buildProgram, dependencyGraph } from '../../src/compiler/check';
import { parseQuery } from '../../src/compiler/parser';
import type { Module } from '../../src/compiler/ast';

const CATALOG: Record<string, number> = { count: 1, startswith: 2, 'object.get': 3, concat: 2, sum: 1 };
const arity = (name: string): number | undefined => CATALOG[name];

function parse(files: Record<string, string>): Module[] {
  return Object.entries(files).map(([name, text]) => {
    const r = parseModule({ name, text });
    expect(r.diagnostics).toEqual([]);
    return r.module as Module;
  });
}

function messages(files: Record<string, string>): string[] {
  return checkModules(parse(files), arity).map((d) => `${d.file}:${d.row}:${d.col}: ${d.code}: ${d.message}`);
}

describe('functions and built-ins', () => {
  it('resolves user functions across modules: same package, full path, import and alias', () => {
    expect(
      messages({
        'lib.rego': 'package lib.util\nf(x) := x + 1\ng(x, y) := x + y\n',
        'lib2.rego': 'package lib.util\nh(x) := f(x)\n',
        'main.rego': 'package main\nimport data.lib.util\nimport data.lib.util as u\np := [data.lib.util.f(1), util.g(1, 2), u.h(3)]\n',
      }),
    ).toEqual([]);
  });

  it('accepts the output-argument form at expression level only', () => {
    expect(messages({ 'a.rego': 'package x\np if { count([1], n); n == 1; f(1, y); y == 1 }\nf(a) := a\n' })).toEqual([]);
    expect(messages({ 'a.rego': 'package x\np := count([1], 2)\n' })).toEqual(['a.rego:2:6: rego_type_error: count: arity mismatch']);
  });

  it('reports built-in arity mismatches and unknown dotted names', () => {
    expect(messages({ 'a.rego': 'package x\np if { startswith("a") }\nq if { strings.nope("a") }\n' })).toEqual([
      'a.rego:2:8: rego_type_error: startswith: arity mismatch',
      'a.rego:3:8: rego_type_error: undefined function strings.nope',
    ]);
  });

  it('reports a call to a data path that is not a function', () => {
    expect(messages({ 'a.rego': 'package x\nr := 1\np if { data.x.r(1) }\nq if { data.y.f(1) }\n' })).toEqual([
      'a.rego:3:8: rego_type_error: undefined function data.x.r',
      'a.rego:4:8: rego_type_error: undefined function data.y.f',
    ]);
  });

  it('treats print as variadic and operators as built-ins even without catalog entries', () => {
    expect(messages({ 'a.rego': 'package x\np if { print("a", 1, 2); 1 + 2 == 3; x := {1} | {2}; 1 in x }\n' })).toEqual([]);
  });

  it('checks calls nested in comprehensions, else branches and every bodies', () => {
    expect(
      messages({
        'a.rego':
          'package x\np := [y | y := nope1(1)]\nf(a) := 1 if a else := nope2(a)\nq if { every v in [1] { nope3(v) } }\n',
      }),
    ).toEqual([
      'a.rego:2:16: rego_type_error: undefined function nope1',
      'a.rego:3:24: rego_type_error: undefined function nope2',
      'a.rego:4:25: rego_type_error: undefined function nope3',
    ]);
  });

  it('a local variable never resolves to a same-named rule', () => {
    expect(messages({ 'a.rego': 'package x\nq := 1\np if { some q in [1]; q == 1 }\nf(q) := q + 1\n' })).toEqual([]);
  });
});

describe('rule kinds and defaults', () => {
  it('function vs constant, partial set vs object, and arity differences conflict', () => {
    expect(
      messages({
        'a.rego': 'package x\nf(a) := a\nf := 1\ns contains 1\ns[k] := 1 if k := "a"\ng(a) := a\ng(a, b) := a\n',
      }),
    ).toEqual([
      'a.rego:2:1: rego_type_error: conflicting rules data.x.f found',
      'a.rego:4:1: rego_type_error: conflicting rules data.x.s[k] found',
      'a.rego:6:1: rego_type_error: conflicting rules data.x.g found',
    ]);
  });

  it('rules in several modules of one package are checked together', () => {
    expect(messages({ 'a.rego': 'package x\np := 1\n', 'b.rego': 'package x\np contains 1\n' })).toEqual([
      'a.rego:2:1: rego_type_error: conflicting rules data.x.p found',
    ]);
  });

  it('allows complete rules with several clauses, ref heads beside each other, and one default', () => {
    expect(
      messages({
        'a.rego': 'package x\ndefault p := false\np if input.a\np if input.b\na.b[c].d := 1 if c := "k"\na.e := 2\nq[k] := 1 if k := "a"\nq.z := 2\n',
      }),
    ).toEqual([]);
  });

  it('a complete rule cannot have rules beneath it', () => {
    expect(messages({ 'a.rego': 'package x\nr := 1\nr.s := 2\n' })).toEqual(['a.rego:2:1: rego_type_error: rule data.x.r conflicts with [data.x.r.s]']);
  });

  it('a package cannot sit on a rule of another module (and the rule then has rules beneath it)', () => {
    expect(messages({ 'a.rego': 'package x\np := 1\n', 'b.rego': 'package x.p\nq := 1\n' })).toEqual([
      'a.rego:1:1: rego_type_error: package x.p conflicts with rule p defined at a.rego:2',
      'a.rego:2:1: rego_type_error: rule data.x.p conflicts with [data.x.p.q]',
    ]);
  });
});

describe('recursion', () => {
  it('finds self-recursion, function recursion, and recursion through comprehensions and else', () => {
    expect(
      messages({
        'a.rego':
          'package x\nself if self\nf(n) := f(n - 1)\np := [x | x := q[_]]\nq := [1] if p else := []\n',
      }),
    ).toEqual([
      'a.rego:2:1: rego_recursion_error: rule data.x.self is recursive: data.x.self -> data.x.self',
      'a.rego:3:1: rego_recursion_error: rule data.x.f is recursive: data.x.f -> data.x.f',
      'a.rego:4:1: rego_recursion_error: rule data.x.p is recursive: data.x.p -> data.x.q -> data.x.p',
      'a.rego:5:1: rego_recursion_error: rule data.x.q is recursive: data.x.q -> data.x.p -> data.x.q',
    ]);
  });

  it('follows imports across packages and whole-package reads', () => {
    expect(
      messages({
        'a.rego': 'package a\nimport data.b\np if b.q\n',
        'b.rego': 'package b\nq if { data.a[_] }\n',
      }),
    ).toEqual([
      'a.rego:3:1: rego_recursion_error: rule data.a.p is recursive: data.a.p -> data.b.q -> data.a.p',
      'b.rego:2:1: rego_recursion_error: rule data.b.q is recursive: data.b.q -> data.a.p -> data.b.q',
    ]);
  });

  it('does not confuse same-named rules in different packages, or distinct ref-head keys', () => {
    expect(
      messages({
        'a.rego': 'package a\np if data.b.p\n',
        'b.rego': 'package b\np if input.x\nr.s := 1\nr.t := r.s\n',
      }),
    ).toEqual([]);
  });

  it('exposes the dependency graph', () => {
    const p = buildProgram(parse({ 'a.rego': 'package x\np if q\nq := 1\n' }));
    const g = dependencyGraph(p);
    expect(g.get(p.rules[0])!.map((r) => r.name)).toEqual(['data.x.q']);
    expect(g.get(p.rules[1])).toEqual([]);
  });
});

describe('declarations', () => {
  it('reports redeclaration kinds as OPA words them', () => {
    expect(
      messages({
        'a.rego':
          'package x\np if { x = 1; x := 2 }\nq if { some y; some y }\nf(a) := 1 if { a := 2 }\nr if { not z := 1 }\ns if { input := 1 }\n',
      }),
    ).toEqual([
      'a.rego:2:15: rego_compile_error: var x referenced above',
      'a.rego:3:21: rego_compile_error: var y declared above',
      'a.rego:4:16: rego_compile_error: arg a redeclared',
      'a.rego:5:8: rego_compile_error: cannot assign vars inside negated expression',
      'a.rego:6:8: rego_compile_error: variables must not shadow input (use a different variable name)',
    ]);
  });

  it('scopes comprehension and every bodies separately', () => {
    expect(messages({ 'a.rego': 'package x\np if { x := 1; y := [x | x := 2]; every x in [1] { x > 0 } }\n' })).toEqual([]);
  });

  it('rules must not shadow the root documents', () => {
    expect(messages({ 'a.rego': 'package x\ninput.y := 1\n' })).toEqual([
      'a.rego:2:1: rego_compile_error: rules must not shadow input (use a different rule name)',
    ]);
  });
});

describe('queries', () => {
  it('checks query calls against module functions and the catalog', () => {
    const mods = parse({ 'lib.rego': 'package lib\nf(x) := x\n' });
    const q = (text: string) => checkQuery(parseQuery(text, 'q').body!, mods, arity).map((d) => `${d.file}:${d.row}:${d.col}: ${d.message}`);
    expect(q('data.lib.f(1, x); count([1], n)')).toEqual([]);
    expect(q('x := data.lib.f(1, 2)')).toEqual(['q:1:6: function data.lib.f has arity 1, got 2 arguments']);
    expect(q('nope(1)')).toEqual(['q:1:1: undefined function nope']);
  });
});
