// The planner on authorization-policy constructs: plans are run on the reference IR interpreter and
// their answers checked, plus the IR shapes the wasm emitter relies on.

import type { Block, Policy, Stmt } from '../../../src/compiler/ir/ir';
import { formatPolicy } from '../../../src/compiler/plan/format';
import { compile, evalRule, run } from './harness';

const RBAC = `package app.rbac
import rego.v1

default allow := false

allow if {
  some role in user_roles
  role == "admin"
}

allow if {
  some grant in grants
  grant.action == input.action
  grant.type == input.object.type
}

user_roles contains role if {
  some role in data.bindings[input.user]
}

grants contains g if {
  some role in user_roles
  some g in data.role_grants[role]
}

deny[msg] := true if {
  input.object.owner != input.user
  not allow
  msg := sprintf("user %s may not %s", [input.user, input.action])
}

role_count := count(user_roles)
`;

const RBAC_DATA = {
  bindings: { alice: ['admin'], bob: ['reader'], eve: [] },
  role_grants: { reader: [{ action: 'read', type: 'doc' }], admin: [] },
};

function allStmts(p: Policy): Stmt[] {
  const out: Stmt[] = [];
  const walk = (b: Block): void => {
    for (const s of b.stmts) {
      out.push(s);
      if (s.type === 'BlockStmt') s.blocks.forEach(walk);
      if (s.type === 'ScanStmt' || s.type === 'NotStmt' || s.type === 'WithStmt') walk(s.block);
    }
  };
  p.plans.forEach((pl) => pl.blocks.forEach(walk));
  p.funcs.forEach((f) => f.blocks.forEach(walk));
  return out;
}

describe('entrypoints on an RBAC policy', () => {
  it('answers allow from roles, grants and defaults', () => {
    expect(evalRule([RBAC], 'app/rbac/allow', { user: 'alice', action: 'write' }, RBAC_DATA)).toBe(true);
    expect(evalRule([RBAC], 'app/rbac/allow', { user: 'bob', action: 'read', object: { type: 'doc' } }, RBAC_DATA)).toBe(true);
    expect(evalRule([RBAC], 'app/rbac/allow', { user: 'bob', action: 'write', object: { type: 'doc' } }, RBAC_DATA)).toBe(false);
    expect(evalRule([RBAC], 'app/rbac/allow', { user: 'nobody' }, RBAC_DATA)).toBe(false);
  });

  it('builds partial sets and partial objects', () => {
    expect(evalRule([RBAC], 'app/rbac/user_roles', { user: 'alice' }, RBAC_DATA)).toEqual(['admin']);
    expect(evalRule([RBAC], 'app/rbac/grants', { user: 'bob' }, RBAC_DATA)).toEqual([{ action: 'read', type: 'doc' }]);
    expect(evalRule([RBAC], 'app/rbac/deny', { user: 'bob', action: 'write', object: { type: 'doc', owner: 'x' } }, RBAC_DATA)).toEqual({
      'user bob may not write': true,
    });
    expect(evalRule([RBAC], 'app/rbac/role_count', { user: 'eve' }, RBAC_DATA)).toBe(0);
  });

  it('returns {"result": value} per entrypoint and nothing when undefined', () => {
    const c = compile(['package a\nimport rego.v1\np := 1 if input.x\n'], ['a/p']);
    expect(c.policy!.plans.map((p) => p.name)).toEqual(['a/p']);
    expect(run(c.policy!, 'a/p', { x: true }).results).toEqual([{ result: 1 }]);
    expect(run(c.policy!, 'a/p', { x: false }).results).toEqual([]);
    expect(run(c.policy!, 'a/p', undefined).results).toEqual([]);
  });

  it('materializes a whole package, merging rule values with base data', () => {
    const mods = ['package x\nimport rego.v1\np := 1\nq contains 2\n', 'package x.y\nimport rego.v1\nz := "z"\n'];
    expect(evalRule(mods, 'x', undefined, { x: { base: true, y: { b: 1 } } })).toEqual({ base: true, p: 1, q: [2], y: { b: 1, z: 'z' } });
    expect(evalRule(['package e\n'], 'e', undefined, {})).toEqual({});
  });
});

describe('rules', () => {
  it('raises eval_conflict_error for complete rules with different values', () => {
    const c = compile(['package c\nimport rego.v1\np := 1\np := 2 if true\n'], ['c/p']);
    expect(run(c.policy!, 'c/p').error).toBe('eval_conflict_error');
    const ok = compile(['package c\nimport rego.v1\np := 1\np := 1 if true\n'], ['c/p']);
    expect(run(ok.policy!, 'c/p').results).toEqual([{ result: 1 }]);
  });

  it('raises eval_conflict_error for partial objects with a key bound twice', () => {
    const c = compile(['package c\nimport rego.v1\np[k] := v if { some k, v in input }\np["a"] := 9\n'], ['c/p']);
    expect(run(c.policy!, 'c/p', { a: 1 }).error).toBe('eval_conflict_error');
    expect(run(c.policy!, 'c/p', { b: 1 }).results).toEqual([{ result: { a: 9, b: 1 } }]);
  });

  it('runs else chains in order and falls back to default', () => {
    const src = `package e
import rego.v1
default level := "none"
level := "high" if input.score > 90
else := "mid" if input.score > 50
`;
    expect(evalRule([src], 'e/level', { score: 95 })).toBe('high');
    expect(evalRule([src], 'e/level', { score: 60 })).toBe('mid');
    expect(evalRule([src], 'e/level', { score: 1 })).toBe('none');
  });

  it('plans multi-key ref heads into nested objects', () => {
    const src = `package r
import rego.v1
users[u].roles contains r if { some u, rs in input.users; some r in rs }
users[u].active := true if { some u, _ in input.users }
limits.max := 10
`;
    expect(evalRule([src], 'r/users', { users: { a: ['x', 'y'] } })).toEqual({ a: { roles: ['x', 'y'], active: true } });
    expect(evalRule([src], 'r', { users: {} })).toEqual({ users: {}, limits: { max: 10 } });
  });

  it('references into rule results with variables', () => {
    const src = `package v
import rego.v1
perms := {"admin": ["read", "write"], "dev": ["read"]}
can contains [r, p] if { some r; p := perms[r][_] }
`;
    expect(evalRule([src], 'v/can')).toEqual([
      ['admin', 'read'],
      ['admin', 'write'],
      ['dev', 'read'],
    ]);
  });
});

describe('functions', () => {
  const src = `package f
import rego.v1
double(x) := x * 2
kind(x) := "num" if is_number(x)
kind(x) := "str" if is_string(x)
pick(x) := "one" if x == 1
else := "other"
clash(_) := 1
clash(x) := 2 if x > 0
a := double(21)
b := [kind(1), kind("s")]
c := [pick(1), pick(5)]
d := clash(1)
e := clash(-1)
`;

  it('calls user functions with several clauses and else chains', () => {
    expect(evalRule([src], 'f/a')).toBe(42);
    expect(evalRule([src], 'f/b')).toEqual(['num', 'str']);
    expect(evalRule([src], 'f/c')).toEqual(['one', 'other']);
    expect(evalRule([src], 'f/e')).toBe(1);
  });

  it('raises eval_conflict_error when clauses disagree', () => {
    const c = compile([src], ['f/d']);
    expect(run(c.policy!, 'f/d').error).toBe('eval_conflict_error');
  });

  it('names user funcs in CallStmt and built-ins by their Rego name', () => {
    const c = compile([src], ['f/a', 'f/b']);
    const calls = allStmts(c.policy!).filter((s) => s.type === 'CallStmt').map((s) => (s as { func: string }).func);
    expect(calls).toContain('g0.data.f.double');
    expect(calls).toContain('is_number');
    expect(calls).toContain('mul');
    const fn = c.policy!.funcs.find((f) => f.name === 'g0.data.f.double')!;
    expect(fn.params.slice(0, 2)).toEqual([0, 1]);
    expect(fn.params).toHaveLength(3);
    expect(c.policy!.static.builtinFuncs.map((b) => b.name)).toEqual(expect.arrayContaining(['is_number', 'is_string', 'mul']));
  });
});

describe('expressions', () => {
  it('handles not, some-in, every and comprehensions', () => {
    const src = `package x
import rego.v1
all_small if { every v in input.xs { v < 10 } }
none_big if { not any_big }
any_big if { some v in input.xs; v >= 100 }
evens := [v | some v in input.xs; v % 2 == 0]
by_name := {u.name: u.age | some u in input.users}
names := {u.name | some u in input.users}
pairs contains [k, v] if { some k, v in input.obj }
`;
    const input = { xs: [1, 2, 4], users: [{ name: 'a', age: 3 }, { name: 'b', age: 4 }], obj: { k: 'v' } };
    expect(evalRule([src], 'x/all_small', input)).toBe(true);
    expect(evalRule([src], 'x/all_small', { xs: [1, 20] })).toBeUndefined();
    expect(evalRule([src], 'x/all_small', { xs: [] })).toBe(true);
    expect(evalRule([src], 'x/none_big', input)).toBe(true);
    expect(evalRule([src], 'x/none_big', { xs: [100] })).toBeUndefined();
    expect(evalRule([src], 'x/evens', input)).toEqual([2, 4]);
    expect(evalRule([src], 'x/by_name', input)).toEqual({ a: 3, b: 4 });
    expect(evalRule([src], 'x/names', input)).toEqual(['a', 'b']);
    expect(evalRule([src], 'x/pairs', input)).toEqual([['k', 'v']]);
  });

  it('treats `every` over a non-collection as undefined and `not` over iteration as "no match"', () => {
    const src = 'package t\nimport rego.v1\na if { every x in input.v { x > 0 } }\nb if { not input.deny[_] }\n';
    expect(evalRule([src], 't/a', { v: { k: 1 } })).toBe(true);
    expect(evalRule([src], 't/a', { v: 5 })).toBeUndefined();
    expect(evalRule([src], 't/b', { deny: [false] })).toBe(true);
    expect(evalRule([src], 't/b', { deny: [false, 'x'] })).toBeUndefined();
  });

  it('unifies array and object patterns on either side', () => {
    const src = `package u
import rego.v1
a := x if { [x, 2] = [1, y]; y == 2 }
b := n if { {"name": n} = input.user }
c := [p, q] if { [p, [q, _]] := input.nested }
d if { [1, 2] = [1, 3] }
`;
    expect(evalRule([src], 'u/a')).toBe(1);
    expect(evalRule([src], 'u/b', { user: { name: 'z' } })).toBe('z');
    expect(evalRule([src], 'u/b', { user: { name: 'z', extra: 1 } })).toBeUndefined();
    expect(evalRule([src], 'u/c', { nested: [1, [2, 3]] })).toEqual([1, 2]);
    expect(evalRule([src], 'u/d')).toBeUndefined();
  });

  it('applies `with` to input and data, without reusing results computed without it', () => {
    const src = `package w
import rego.v1
admin if input.role == "admin"
check := [admin, x] if { x := admin with input.role as "admin" }
tier := t if { t := data.cfg.tier with data.cfg as {"tier": "gold"} }
limit := data.w.base + 1
shadowed := v if { v := limit with data.w.base as 10 }
base := 1
`;
    expect(evalRule([src], 'w/check', { role: 'admin' })).toEqual([true, true]);
    expect(evalRule([src], 'w/check', { role: 'dev' })).toBeUndefined();
    const c = compile([src], ['w/tier', 'w/shadowed', 'w/limit']);
    expect(run(c.policy!, 'w/tier', {}, { cfg: { tier: 'silver' } }).results).toEqual([{ result: 'gold' }]);
    expect(run(c.policy!, 'w/shadowed', {}).results).toEqual([{ result: 11 }]);
    expect(run(c.policy!, 'w/limit', {}).results).toEqual([{ result: 2 }]);
    // The rule re-planned under `with data.w.base` is a different Func.
    const names = c.policy!.funcs.map((f) => f.name).filter((n) => n.endsWith('data.w.limit'));
    expect(new Set(names).size).toBe(2);
  });

  it('keeps numbers: int64 as MakeNumberIntStmt, others as text', () => {
    const c = compile(['package n\nimport rego.v1\na := 3\nb := 1.5\nc := 123456789012345678901234567890\n'], ['n/a', 'n/b', 'n/c']);
    const stmts = allStmts(c.policy!);
    expect(stmts.some((s) => s.type === 'MakeNumberIntStmt' && s.value === 3n)).toBe(true);
    const refs = stmts.filter((s) => s.type === 'MakeNumberRefStmt').map((s) => c.policy!.static.strings[(s as { index: number }).index]);
    expect(refs).toEqual(expect.arrayContaining(['1.5', '123456789012345678901234567890']));
  });
});

describe('queries', () => {
  it('adds one object of the named, non-wildcard vars per solution', () => {
    const c = compile(['package q\nimport rego.v1\nxs := [1, 2]\n'], [], { q: 'x := data.q.xs[_]; _ = 1; __y = 2' });
    expect(run(c.policy!, 'q').results).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it('skips print calls', () => {
    expect(evalRule(['package p\nimport rego.v1\nok if { print("hi", input.x); input.x == 1 }\n'], 'p/ok', { x: 1 })).toBe(true);
  });
});

describe('diagnostics', () => {
  it('reports undefined functions', () => {
    const c = compile(['package d\nimport rego.v1\np if nope(1)\n'], ['d/p']);
    expect(c.policy).toBeUndefined();
    expect(c.diagnostics).toEqual([expect.objectContaining({ code: 'rego_type_error', message: 'undefined function nope', row: 3 })]);
  });

  it('reports recursion', () => {
    const c = compile(['package d\nimport rego.v1\np if q\nq if p\n'], ['d/p']);
    expect(c.diagnostics[0].code).toBe('rego_recursion_error');
  });
});

describe('compile errors', () => {
  it('rejects a var assigned twice in one body', () => {
    const c = compile([['a.rego', 'package d\nimport rego.v1\np if {\n  x := 1\n  x := 2\n}\n']], ['d/p']);
    expect(c.diagnostics).toEqual([{ code: 'rego_compile_error', message: 'var x assigned above', file: 'a.rego', row: 5, col: 3 }]);
  });

  it('rejects rules of different kinds at one path', () => {
    const c = compile(['package d\nimport rego.v1\np := 1\np contains 2\n'], ['d/p']);
    expect(c.diagnostics.map((d) => [d.code, d.message])).toEqual([['rego_type_error', 'conflicting rules data.d.p found']]);
  });
});

describe('scale', () => {
  it('plans large literal collections without deepening the stack', () => {
    const items = Array.from({ length: 20000 }, (_, i) => `"u${i}"`).join(', ');
    const c = compile([`package big\nimport rego.v1\nallowed := {${items}}\nok if input.u in allowed\n`], ['big/ok']);
    expect(c.diagnostics).toEqual([]);
    expect(run(c.policy!, 'big/ok', { u: 'u19999' }).results).toEqual([{ result: true }]);
  });
});

describe('formatPolicy', () => {
  it('prints funcs and plans with nested blocks', () => {
    const c = compile(['package f\nimport rego.v1\nok if { some x in input.xs; x == "a" }\n'], ['f/ok']);
    const text = formatPolicy(c.policy!);
    expect(text).toContain('func g0.data.f.ok(l0, l1) returns l2');
    expect(text).toContain('plan f/ok');
    expect(text).toMatch(/scan l\d+ key l\d+ value l\d+\n(\s+l\d+ = l\d+\n)+\s+l\d+ == "a"/);
    expect(text).toContain('ObjectInsert object=l4 key="result" value=l3');
  });
});
