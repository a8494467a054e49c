// Hand-built IR policies compiled by the wasm emitter and run through the real OPA SDK.
import type * as ir from '../../../src/compiler/ir/ir';
import { emitWasm, emitWasmSync, runtimeReady } from '../../../src/compiler/wasm';
import { B, L, Strings, load, loadSync, policyOf, resultPlan } from './ir-builders';

// allow { input.user == "alice" }  as  func g0.data.p.allow + plan "p/allow".
function allowPolicy(): ir.Policy {
  const str = new Strings();
  const allow: ir.Func = {
    name: 'g0.data.p.allow',
    params: [0, 1],
    return: 2,
    path: ['g0', 'p', 'allow'],
    blocks: [
      {
        stmts: [
          { type: 'DotStmt', source: L(0), key: str.s('user'), target: 3 },
          { type: 'EqualStmt', a: L(3), b: str.s('alice') },
          { type: 'AssignVarOnceStmt', source: B(true), target: 2 },
        ],
      },
      { stmts: [{ type: 'ReturnLocalStmt', source: 2 }] },
    ],
  };
  const plan = resultPlan(str, 'p/allow', [{ type: 'CallStmt', func: allow.name, args: [L(0), L(1)], result: 2 }], 2);
  return policyOf(str, [plan], [allow]);
}

describe('wasm emitter through the OPA SDK', () => {
  test('a complete rule is true for a matching input and undefined ([]) otherwise', async () => {
    const p = await load(allowPolicy());
    expect(p.minorVersion).toBe(2);
    expect(p.entrypoints).toEqual({ 'p/allow': 0 });
    expect(p.evaluate({ user: 'alice' }, 'p/allow')).toEqual([{ result: true }]);
    expect(p.evaluate({ user: 'bob' }, 'p/allow')).toEqual([]);
    expect(p.evaluate(undefined, 'p/allow')).toEqual([]);
    expect(p.evaluate({ user: 'alice' }, 0)).toEqual([{ result: true }]);
  });

  test('loadPolicySync accepts the module and emitWasmSync matches emitWasm', async () => {
    const a = await emitWasm(allowPolicy());
    expect(runtimeReady()).toBe(true);
    // With the runtime cached, a compile is only code generation and linking.
    const started = Date.now();
    const b = emitWasmSync(allowPolicy());
    expect(Date.now() - started).toBeLessThan(1000);
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    const p = loadSync(b);
    expect(p.evaluate({ user: 'alice' }, 'p/allow')).toEqual([{ result: true }]);
  });

  test('the ctx functions of ABI minor < 2 evaluate the same plan', async () => {
    const p = await load(allowPolicy());
    const ex = p.wasmInstance.exports as Record<string, (...a: number[]) => number>;
    const put = (v: unknown) => {
      const enc = new TextEncoder().encode(JSON.stringify(v));
      const addr = ex.opa_malloc(enc.length);
      new Uint8Array(p.mem.buffer).set(enc, addr);
      return ex.opa_json_parse(addr, enc.length);
    };
    const input = put({ user: 'alice' });
    const dataAddr = put({});
    const ctx = ex.opa_eval_ctx_new();
    ex.opa_eval_ctx_set_input(ctx, input);
    ex.opa_eval_ctx_set_data(ctx, dataAddr);
    ex.opa_eval_ctx_set_entrypoint(ctx, 0);
    ex.eval(ctx);
    const out = ex.opa_json_dump(ex.opa_eval_ctx_get_result(ctx));
    const bytes = new Uint8Array(p.mem.buffer);
    let end = out;
    while (bytes[end] !== 0) end++;
    expect(JSON.parse(Buffer.from(bytes.subarray(out, end)).toString())).toEqual([{ result: true }]);
  });

  test('a partial set built by scanning input.roles collects the admin-like roles, sorted and deduplicated', async () => {
    // roles[r] { some r in input.roles; startswith(r, "adm") }
    const str = new Strings();
    const fn: ir.Func = {
      name: 'g0.data.p.roles',
      params: [0, 1],
      return: 2,
      blocks: [
        {
          stmts: [
            { type: 'MakeSetStmt', target: 2 },
            {
              type: 'BlockStmt',
              blocks: [
                {
                  stmts: [
                    { type: 'DotStmt', source: L(0), key: str.s('roles'), target: 3 },
                    {
                      type: 'ScanStmt',
                      source: 3,
                      key: 4,
                      value: 5,
                      block: {
                        stmts: [
                          { type: 'CallStmt', func: 'startswith', args: [L(5), str.s('adm')], result: 6 },
                          { type: 'EqualStmt', a: L(6), b: B(true) },
                          { type: 'SetAddStmt', value: L(5), set: 2 },
                        ],
                      },
                    },
                  ],
                },
              ],
            },
            { type: 'ReturnLocalStmt', source: 2 },
          ],
        },
      ],
    };
    const plan = resultPlan(str, 'p/roles', [{ type: 'CallStmt', func: fn.name, args: [L(0), L(1)], result: 2 }], 2);
    const p = await load(policyOf(str, [plan], [fn]));
    expect(p.evaluate({ roles: ['user', 'admin', 'adm-ops', 'admin', 'guest'] }, 'p/roles')).toEqual([
      { result: ['adm-ops', 'admin'] },
    ]);
    expect(p.evaluate({ roles: [] }, 'p/roles')).toEqual([{ result: [] }]);
    // Scanning an object iterates its values in key order.
    expect(p.evaluate({ roles: { b: 'admin', a: 'x' } }, 'p/roles')).toEqual([{ result: ['admin'] }]);
    // No roles at all: the inner block is undefined, the set stays empty.
    expect(p.evaluate({}, 'p/roles')).toEqual([{ result: [] }]);
  });

  test('a partial object with two values for one key aborts with eval_conflict_error', async () => {
    // obj[k] = v { some k, v in input.pairs } with pairs as [[k, v], ...]
    const str = new Strings();
    const plan: ir.Plan = resultPlan(
      str,
      'p/obj',
      [
        { type: 'MakeObjectStmt', target: 2 },
        { type: 'DotStmt', source: L(0), key: str.s('pairs'), target: 3 },
        {
          type: 'ScanStmt',
          source: 3,
          key: 4,
          value: 5,
          block: {
            stmts: [
              { type: 'MakeNumberIntStmt', value: 0n, target: 6 },
              { type: 'MakeNumberIntStmt', value: 1n, target: 7 },
              { type: 'DotStmt', source: L(5), key: L(6), target: 8 },
              { type: 'DotStmt', source: L(5), key: L(7), target: 9 },
              { type: 'ObjectInsertOnceStmt', key: L(8), value: L(9), object: 2 },
            ],
          },
        },
      ],
      2,
    );
    const p = await load(policyOf(str, [plan]));
    expect(p.evaluate({ pairs: [['a', 1], ['b', 2], ['a', 1]] }, 'p/obj')).toEqual([{ result: { a: 1, b: 2 } }]);
    let thrown: unknown;
    try {
      p.evaluate({ pairs: [['a', 1], ['a', 2]] }, 'p/obj');
    } catch (e) {
      thrown = e;
    }
    expect(String(thrown)).toMatch(/^eval_conflict_error: object keys must be unique/);
    // The instance stays usable after an abort.
    expect(p.evaluate({ pairs: [['z', true]] }, 'p/obj')).toEqual([{ result: { z: true } }]);
  });

  test('a complete rule with two different values aborts with the complete-rule conflict', async () => {
    const str = new Strings();
    const fn: ir.Func = {
      name: 'g0.data.p.x',
      params: [0, 1],
      return: 2,
      path: ['g0', 'p', 'x'],
      blocks: [
        { stmts: [{ type: 'AssignVarOnceStmt', source: str.s('one'), target: 2 }] },
        {
          stmts: [
            { type: 'DotStmt', source: L(0), key: str.s('two'), target: 3 },
            { type: 'AssignVarOnceStmt', source: str.s('two'), target: 2 },
          ],
        },
        { stmts: [{ type: 'ReturnLocalStmt', source: 2 }] },
      ],
    };
    const plan = resultPlan(str, 'p/x', [{ type: 'CallStmt', func: fn.name, args: [L(0), L(1)], result: 2 }], 2);
    const p = await load(policyOf(str, [plan], [fn]));
    expect(p.evaluate({}, 'p/x')).toEqual([{ result: 'one' }]);
    expect(() => p.evaluate({ two: 1 }, 'p/x')).toThrow(
      /^eval_conflict_error: complete rules must not produce multiple outputs: rule data\.p\.x produced conflicting values$/,
    );
  });

  test('with replaces input.user for the nested block only and restores it afterwards', async () => {
    // r := [allow with input.user as "alice", input.user]
    const base = allowPolicy();
    const str = new Strings();
    str.list.push(...base.static.strings);
    const plan = resultPlan(
      str,
      'p/with',
      [
        { type: 'MakeArrayStmt', capacity: 2, target: 10 },
        {
          type: 'WithStmt',
          local: 0,
          path: [str.index('user')],
          value: str.s('alice'),
          block: {
            stmts: [
              { type: 'CallStmt', func: 'g0.data.p.allow', args: [L(0), L(1)], result: 11 },
              { type: 'ArrayAppendStmt', value: L(11), array: 10 },
            ],
          },
        },
        { type: 'DotStmt', source: L(0), key: str.s('user'), target: 12 },
        { type: 'ArrayAppendStmt', value: L(12), array: 10 },
      ],
      10,
    );
    const p = await load(policyOf(str, [plan], base.funcs));
    expect(p.evaluate({ user: 'bob', other: 1 }, 'p/with')).toEqual([{ result: [true, 'bob'] }]);
  });

  test('a host built-in is called through opa_builtinN by name and registered in builtins()', async () => {
    const str = new Strings();
    const plan = resultPlan(
      str,
      'p/host',
      [
        { type: 'DotStmt', source: L(0), key: str.s('name'), target: 2 },
        { type: 'CallStmt', func: 'tether.greet', args: [str.s('hello'), L(2)], result: 3 },
        { type: 'CallStmt', func: 'upper', args: [L(3)], result: 4 },
      ],
      4,
    );
    const calls: unknown[][] = [];
    const p = await load(policyOf(str, [plan]), {
      'tether.greet': (...a: unknown[]) => {
        calls.push(a);
        return a[1] === 'nobody' ? undefined : `${a[0]}, ${a[1]}`;
      },
      upper: (s: unknown) => String(s).toUpperCase(),
    });
    expect(p.evaluate({ name: 'bob' }, 'p/host')).toEqual([{ result: 'HELLO, BOB' }]);
    // Non-ASCII falls back to the host's upper.
    expect(p.evaluate({ name: 'émile' }, 'p/host')).toEqual([{ result: 'HELLO, ÉMILE' }]);
    expect(p.evaluate({ name: 'nobody' }, 'p/host')).toEqual([]);
    expect(calls[0]).toEqual(['hello', 'bob']);
    // The SDK's own sprintf is reachable by name too.
    const s2 = new Strings();
    const plan2 = resultPlan(
      s2,
      'p/fmt',
      [
        { type: 'MakeArrayStmt', capacity: 1, target: 2 },
        { type: 'DotStmt', source: L(0), key: s2.s('n'), target: 3 },
        { type: 'ArrayAppendStmt', value: L(3), array: 2 },
        { type: 'CallStmt', func: 'sprintf', args: [s2.s('n=%d'), L(2)], result: 4 },
      ],
      4,
    );
    const p2 = await load(policyOf(s2, [plan2]));
    expect(p2.evaluate({ n: 7 }, 'p/fmt')).toEqual([{ result: 'n=7' }]);
  });

  test('data set with setData is visible to plans and replaced by the next setData', async () => {
    const str = new Strings();
    const plan = resultPlan(
      str,
      'p/limit',
      [
        { type: 'DotStmt', source: L(1), key: str.s('limits'), target: 2 },
        { type: 'DotStmt', source: L(0), key: str.s('tier'), target: 3 },
        { type: 'DotStmt', source: L(2), key: L(3), target: 4 },
      ],
      4,
    );
    const p = await load(policyOf(str, [plan]));
    expect(p.evaluate({ tier: 'gold' }, 'p/limit')).toEqual([]);
    p.setData({ limits: { gold: 100, free: 1.5 } });
    expect(p.evaluate({ tier: 'gold' }, 'p/limit')).toEqual([{ result: 100 }]);
    expect(p.evaluate({ tier: 'free' }, 'p/limit')).toEqual([{ result: 1.5 }]);
    p.setData({ limits: { gold: 7 } });
    expect(p.evaluate({ tier: 'gold' }, 'p/limit')).toEqual([{ result: 7 }]);
    expect(p.evaluate({ tier: 'free' }, 'p/limit')).toEqual([]);
  });

  test('not, break, len, merge and dynamic calls follow the IR semantics', async () => {
    const str = new Strings();
    const fnA: ir.Func = {
      name: 'g0.data.p.a',
      params: [0, 1],
      return: 2,
      path: ['g0', 'p', 'a'],
      blocks: [{ stmts: [{ type: 'AssignVarStmt', source: str.s('A'), target: 2 }, { type: 'ReturnLocalStmt', source: 2 }] }],
    };
    const plan = resultPlan(
      str,
      'p/misc',
      [
        { type: 'MakeObjectStmt', target: 20 },
        // not input.blocked
        {
          type: 'BlockStmt',
          blocks: [
            {
              stmts: [
                {
                  type: 'NotStmt',
                  block: { stmts: [{ type: 'DotStmt', source: L(0), key: str.s('blocked'), target: 2 }, { type: 'EqualStmt', a: L(2), b: B(true) }] },
                },
                { type: 'ObjectInsertStmt', key: str.s('open'), value: B(true), object: 20 },
              ],
            },
          ],
        },
        // break out of an enclosing block: "skipped" is never inserted
        {
          type: 'BlockStmt',
          blocks: [
            {
              stmts: [
                { type: 'BlockStmt', blocks: [{ stmts: [{ type: 'BreakStmt', index: 1 }] }] },
                { type: 'ObjectInsertStmt', key: str.s('skipped'), value: B(true), object: 20 },
              ],
            },
          ],
        },
        { type: 'DotStmt', source: L(0), key: str.s('list'), target: 3 },
        { type: 'LenStmt', source: L(3), target: 4 },
        { type: 'ObjectInsertStmt', key: str.s('len'), value: L(4), object: 20 },
        { type: 'DotStmt', source: L(0), key: str.s('o1'), target: 5 },
        { type: 'DotStmt', source: L(0), key: str.s('o2'), target: 6 },
        { type: 'ObjectMergeStmt', a: 5, b: 6, target: 7 },
        { type: 'ObjectInsertStmt', key: str.s('merged'), value: L(7), object: 20 },
        // As OPA's planner nests it: found-but-undefined leaves three blocks, not-found one.
        {
          type: 'BlockStmt',
          blocks: [
            {
              stmts: [
                {
                  type: 'BlockStmt',
                  blocks: [
                    {
                      stmts: [
                        {
                          type: 'BlockStmt',
                          blocks: [
                            {
                              stmts: [
                                { type: 'CallDynamicStmt', args: [0, 1], path: [str.s('g0'), str.s('p'), L(8)], result: 9 },
                                { type: 'ObjectInsertStmt', key: str.s('dyn'), value: L(9), object: 20 },
                              ],
                            },
                          ],
                        },
                      ],
                    },
                  ],
                },
              ],
            },
          ],
        },
        { type: 'MakeNumberRefStmt', index: str.index('12345678901234567890.5'), target: 10 },
        { type: 'ObjectInsertStmt', key: str.s('ref'), value: L(10), object: 20 },
      ],
      20,
    );
    // L(8) is the dynamic path segment: set it from the input first.
    plan.blocks[0].stmts.unshift({ type: 'AssignVarStmt', source: str.s('a'), target: 8 });
    const p = await load(policyOf(str, [plan], [fnA]));
    const out = p.evaluate({ blocked: false, list: [1, 2, 3], o1: { a: { x: 1 }, k: 1 }, o2: { a: { y: 2 }, k: 2, z: 3 } }, 'p/misc');
    expect(out).toEqual([
      {
        result: {
          open: true,
          len: 3,
          merged: { a: { x: 1, y: 2 }, k: 1, z: 3 },
          dyn: 'A',
          ref: 12345678901234567890.5,
        },
      },
    ]);
    expect(p.evaluate({ blocked: true, list: 'abc', o1: {}, o2: {} }, 'p/misc')).toEqual([
      { result: { len: 3, merged: {}, dyn: 'A', ref: 12345678901234567890.5 } },
    ]);
  });

  test('every plan in a multi-plan module is reachable by name', async () => {
    const str = new Strings();
    const plans = ['a', 'b', 'c'].map((n) => resultPlan(str, `p/${n}`, [{ type: 'AssignVarStmt', source: str.s(n), target: 2 }], 2));
    const p = await load(policyOf(str, plans));
    expect(p.entrypoints).toEqual({ 'p/a': 0, 'p/b': 1, 'p/c': 2 });
    expect(p.evaluate({}, 'p/c')).toEqual([{ result: 'c' }]);
    expect(p.evaluate({}, 'p/a')).toEqual([{ result: 'a' }]);
  });
});
