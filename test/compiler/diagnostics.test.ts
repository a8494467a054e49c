// Every diagnostic code prints as "file:row:col: code: message", the source line, and a caret
// under the column; parse errors are collected (the parser resumes at the next statement).
import { formatDiagnostic, formatDiagnostics, sortDiagnostics, DIAGNOSTIC_CODES } from '../../src/compiler/diagnostics';
import type { Diagnostic } from '../../src/compiler/diagnostics';
import { parseModule, parseQuery } from '../../src/compiler/parser';
import { checkModules } from '../../src/compiler/check';
import type { Module } from '../../src/compiler/ast';
import { SourceFile, lineOf } from '../../src/compiler/source';

const arity = (name: string): number | undefined => ({ count: 1, startswith: 2, 'object.get': 3 } as Record<string, number>)[name];

function check(files: Record<string, string>): { ds: Diagnostic[]; out: (d: Diagnostic) => string } {
  const mods = Object.entries(files).map(([name, text]) => {
    const r = parseModule({ name, text });
    expect(r.diagnostics).toEqual([]);
    return r.module as Module;
  });
  return { ds: checkModules(mods, arity), out: (d) => formatDiagnostic(d, files[d.file]) };
}

describe('formatDiagnostic', () => {
  it('prints the headline, the numbered source line and a caret under the column', () => {
    const src = Array.from({ length: 11 }, () => '').join('\n') + '\n  allow if { x > 1 }\n';
    const d: Diagnostic = { code: 'rego_unsafe_var_error', message: 'var x is unsafe', file: 'policies/x.rego', row: 12, col: 14 };
    expect(formatDiagnostic(d, src)).toBe(
      'policies/x.rego:12:14: rego_unsafe_var_error: var x is unsafe\n' +
        '   12 |   allow if { x > 1 }\n' +
        '      |              ^',
    );
  });

  it('keeps tabs in the caret padding so the caret lines up', () => {
    const d: Diagnostic = { code: 'rego_parse_error', message: 'm', file: 'f', row: 1, col: 3 };
    expect(formatDiagnostic(d, '\t\tx').split('\n')[2]).toBe('      | \t\t^');
  });

  it('prints only the headline without source text', () => {
    const d: Diagnostic = { code: 'rego_type_error', message: 'm', file: 'f.rego', row: 3, col: 1 };
    expect(formatDiagnostic(d)).toBe('f.rego:3:1: rego_type_error: m');
    expect(formatDiagnostics([d, d], {})).toBe('f.rego:3:1: rego_type_error: m\nf.rego:3:1: rego_type_error: m');
  });

  it('widens the gutter for long files', () => {
    const src = Array.from({ length: 123456 }, (_, i) => (i === 123455 ? 'p := 1' : '')).join('\n');
    const d: Diagnostic = { code: 'rego_parse_error', message: 'm', file: 'f', row: 123456, col: 3 };
    expect(formatDiagnostic(d, src)).toBe('f:123456:3: rego_parse_error: m\n123456 | p := 1\n       |   ^');
  });

  it('sorts by file, row, column and lists every code', () => {
    const a: Diagnostic = { code: 'rego_type_error', message: '', file: 'b', row: 1, col: 1 };
    const b: Diagnostic = { code: 'rego_type_error', message: '', file: 'a', row: 2, col: 5 };
    const c: Diagnostic = { code: 'rego_type_error', message: '', file: 'a', row: 2, col: 1 };
    expect(sortDiagnostics([a, b, c])).toEqual([c, b, a]);
    expect(DIAGNOSTIC_CODES).toEqual(
      expect.arrayContaining(['rego_parse_error', 'rego_compile_error', 'rego_type_error', 'rego_recursion_error', 'rego_unsafe_var_error']),
    );
  });
});

describe('rego_parse_error', () => {
  it('points at the offending token and collects one error per broken statement', () => {
    const text = 'package x\n\np if { x := }\nq := 1\nr if { 1 + }\ns := 2\n';
    const r = parseModule({ name: 'policies/x.rego', text });
    expect(r.module!.rules.map((x) => x.head.name)).toEqual(['q', 's']);
    expect(r.diagnostics.map((d) => formatDiagnostic(d, text))).toEqual([
      'policies/x.rego:3:13: rego_parse_error: unexpected } token\n    3 | p if { x := }\n      |             ^',
      'policies/x.rego:5:12: rego_parse_error: unexpected } token\n    5 | r if { 1 + }\n      |            ^',
    ]);
  });

  it('requires `if` before a rule body (Rego v1) and reports at the rule', () => {
    const text = 'package x\np { true }\n';
    const [d] = parseModule({ name: 'a.rego', text }).diagnostics;
    expect(formatDiagnostic(d, text)).toBe(
      'a.rego:2:1: rego_parse_error: `if` keyword is required before rule body\n    2 | p { true }\n      | ^',
    );
  });

  it('requires `contains` for partial set rules', () => {
    const [d] = parseModule({ name: 'a.rego', text: 'package x\np[x] if { x := 1 } \nq[1]\n' }).diagnostics;
    expect(d).toEqual({
      code: 'rego_parse_error', message: '`contains` keyword is required for partial set rules', file: 'a.rego', row: 3, col: 1,
    });
  });

  it('reports a missing separator between expressions', () => {
    const text = 'package x\nq if { x = 1 y = 2 }\n';
    const [d] = parseModule({ name: 'a.rego', text }).diagnostics;
    expect(d).toMatchObject({ row: 2, col: 14, message: 'unexpected ident token: expected \\n or ; or }' });
  });

  it('reports lexical errors, bad imports, bad defaults and a missing package', () => {
    const text = 'package x\nimport foo.bar\ndefault p := input.x\ng := "open\nh := 01\n';
    const ds = parseModule({ name: 'a.rego', text }).diagnostics;
    expect(ds.map((d) => [d.row, d.col, d.message])).toEqual([
      [2, 8, 'unexpected import path, must begin with one of: {data, future, input, rego}, got: foo'],
      [3, 1, 'illegal default rule (value cannot contain ref)'],
      [4, 6, 'non-terminated string'],
      [5, 6, 'unexpected number token: expected number without leading zero'],
    ]);
    expect(parseModule({ name: 'a.rego', text: 'p := 1' }).diagnostics[0]).toMatchObject({ row: 1, col: 1, message: 'package expected' });
  });

  it('validates default function arguments as OPA does', () => {
    const ds = parseModule({ name: 'a.rego', text: 'package x\ndefault f(1) := 0\ndefault g(a, a) := 0\ndefault h(_, _) := 0\n' }).diagnostics;
    expect(ds.map((d) => [d.row, d.col, d.message])).toEqual([
      [2, 1, 'illegal default rule (arguments cannot contain number)'],
      [3, 1, 'illegal default rule (arguments cannot be repeated a)'],
    ]);
  });

  it('reports errors in queries with the query name', () => {
    expect(parseQuery('x := ', 'q').diagnostics[0]).toMatchObject({ file: 'q', row: 1, col: 6, message: 'unexpected eof token' });
  });

  it('rejects negated some/every and keywords as terms', () => {
    const ds = parseModule({ name: 'a.rego', text: 'package x\np if { not some x in y }\nq if { x := if }\n' }).diagnostics;
    expect(ds.map((d) => [d.row, d.col, d.message])).toEqual([
      [2, 12, "unexpected some keyword: illegal negation of 'some'"],
      [3, 13, 'unexpected if keyword'],
    ]);
  });
});

describe('rego_recursion_error', () => {
  it('names the cycle with full rule paths at the rule', () => {
    const { ds, out } = check({ 'policies/x.rego': 'package x\n\np if q\nq if { p }\nr if true\n' });
    expect(ds.map(out)).toEqual([
      'policies/x.rego:3:1: rego_recursion_error: rule data.x.p is recursive: data.x.p -> data.x.q -> data.x.p\n    3 | p if q\n      | ^',
      'policies/x.rego:4:1: rego_recursion_error: rule data.x.q is recursive: data.x.q -> data.x.p -> data.x.q\n    4 | q if { p }\n      | ^',
    ]);
  });
});

describe('rego_type_error', () => {
  it('undefined function at the calling expression', () => {
    const { ds, out } = check({ 'a.rego': 'package x\np if {\n  foo(1)\n}\n' });
    expect(ds.map(out)).toEqual(['a.rego:3:3: rego_type_error: undefined function foo\n    3 |   foo(1)\n      |   ^']);
  });

  it('wrong arity for a user function', () => {
    const { ds, out } = check({ 'a.rego': 'package x\nf(a) := a\np if { f(1, 2, 3) }\n' });
    expect(ds.map(out)).toEqual([
      'a.rego:3:8: rego_type_error: function data.x.f has arity 1, got 3 arguments\n    3 | p if { f(1, 2, 3) }\n      |        ^',
    ]);
  });

  it('conflicting rule kinds', () => {
    const { ds, out } = check({ 'a.rego': 'package x\np := 1\np contains 2\n' });
    expect(ds.map(out)).toEqual(['a.rego:2:1: rego_type_error: conflicting rules data.x.p found\n    2 | p := 1\n      | ^']);
  });

  it('multiple default rules, reported at the package as OPA does', () => {
    const { ds, out } = check({ 'a.rego': 'package x\ndefault p := 1\ndefault p := 2\np if input.x\n' });
    expect(ds.map(out)).toEqual([
      'a.rego:1:1: rego_type_error: multiple default rules data.x.p found at a.rego:2, a.rego:3\n    1 | package x\n      | ^',
    ]);
  });
});

describe('rego_compile_error', () => {
  it('var assigned above, at the redeclared var', () => {
    const { ds, out } = check({ 'a.rego': 'package x\np if {\n  x := 1\n  x := 2\n}\n' });
    expect(ds.map(out)).toEqual(['a.rego:4:3: rego_compile_error: var x assigned above\n    4 |   x := 2\n      |   ^']);
  });

  it('duplicate import', () => {
    const { ds, out } = check({ 'a.rego': 'package x\nimport data.a.b\nimport data.c.b\np := 1\n' });
    expect(ds.map(out)).toEqual([
      'a.rego:3:1: rego_compile_error: import must not shadow import data.a.b\n    3 | import data.c.b\n      | ^',
    ]);
  });
});

describe('parse error recovery', () => {
  it('skips unindented lines inside the broken rule and resumes at the next rule', () => {
    const text = 'package x\np if {\nx := )\ny := 1\n}\nq := 1\n';
    const r = parseModule({ name: 'a.rego', text });
    expect(r.diagnostics.map((d) => [d.row, d.col])).toEqual([[3, 6]]);
    expect(r.module!.rules.map((x) => x.head.name)).toEqual(['q']);
  });

  it('falls back to the next left-margin line when brackets never close', () => {
    const text = 'package x\np if {\n  x := [1\nq := 1\n';
    const r = parseModule({ name: 'a.rego', text });
    expect(r.diagnostics).toHaveLength(1);
    expect(r.module!.rules.map((x) => x.head.name)).toEqual(['q']);
  });
});

describe('source positions', () => {
  it('maps offsets to 1-based rows/cols and rows back to line text (CRLF-safe)', () => {
    const f = new SourceFile('a.rego', 'package x\r\np := 1\n\nq := 2');
    expect(f.position(0)).toEqual({ row: 1, col: 1 });
    expect(f.position(11)).toEqual({ row: 2, col: 1 });
    expect(f.position(16)).toEqual({ row: 2, col: 6 });
    expect(f.position(19)).toEqual({ row: 4, col: 1 });
    expect(f.line(1)).toBe('package x');
    expect(f.line(3)).toBe('');
    expect(f.line(9)).toBe('');
    expect(lineOf('a\nb', 2)).toBe('b');
  });
});
