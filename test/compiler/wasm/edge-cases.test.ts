// Edge cases of the emitter and runtime: non-string object keys, function conflicts, large
// documents that need memory growth, compile-time errors and the host built-in listing.
import type * as ir from '../../../src/compiler/ir/ir';
import { emitWasm, hostBuiltinsOf, lastHostCallLocation } from '../../../src/compiler/wasm';
import { loadModule } from './ir-builders';
import { B, L, Strings, load, policyOf, resultPlan } from './ir-builders';

describe('wasm emitter edge cases', () => {
  test('non-string object keys are dumped as their JSON text; sets as sorted arrays', async () => {
    const str = new Strings();
    const plan = resultPlan(
      str,
      'p/keys',
      [
        { type: 'MakeObjectStmt', target: 2 },
        { type: 'MakeNumberIntStmt', value: 10n, target: 3 },
        { type: 'ObjectInsertStmt', key: L(3), value: str.s('ten'), object: 2 },
        { type: 'MakeArrayStmt', capacity: 1, target: 4 },
        { type: 'ArrayAppendStmt', value: str.s('a"b'), array: 4 },
        { type: 'ObjectInsertStmt', key: L(4), value: B(true), object: 2 },
        { type: 'ObjectInsertStmt', key: str.s('s'), value: L(5), object: 2 },
      ],
      2,
    );
    plan.blocks[0].stmts.unshift(
      { type: 'MakeSetStmt', target: 5 },
      { type: 'SetAddStmt', value: str.s('z'), set: 5 },
      { type: 'SetAddStmt', value: B(false), set: 5 },
      { type: 'SetAddStmt', value: str.s('a'), set: 5 },
      { type: 'SetAddStmt', value: str.s('z'), set: 5 },
    );
    const p = await load(policyOf(str, [plan]));
    // Keys sort as values: number < string < array.
    expect(p.evaluate({}, 'p/keys')).toEqual([{ result: { '10': 'ten', s: [false, 'a', 'z'], '["a\\"b"]': true } }]);
  });

  test('a function giving two outputs for one input aborts with the function conflict', async () => {
    const str = new Strings();
    const f: ir.Func = {
      name: 'g0.data.p.f',
      params: [0, 1, 2],
      return: 3,
      blocks: [
        { stmts: [{ type: 'AssignVarOnceStmt', source: str.s('x'), target: 3 }] },
        { stmts: [{ type: 'EqualStmt', a: L(2), b: str.s('two') }, { type: 'AssignVarOnceStmt', source: str.s('y'), target: 3, loc: { file: 0, row: 3, col: 5 } }] },
        { stmts: [{ type: 'ReturnLocalStmt', source: 3 }] },
      ],
    };
    const plan = resultPlan(
      str,
      'p/f',
      [
        { type: 'DotStmt', source: L(0), key: str.s('arg'), target: 4 },
        { type: 'CallStmt', func: f.name, args: [L(0), L(1), L(4)], result: 5 },
      ],
      5,
    );
    const p = await load(policyOf(str, [plan], [f]));
    expect(p.evaluate({ arg: 'one' }, 'p/f')).toEqual([{ result: 'x' }]);
    expect(() => p.evaluate({ arg: 'two' }, 'p/f')).toThrow(
      /^eval_conflict_error: functions must not produce multiple outputs for same inputs \(test\.rego:3:5\)$/,
    );
  });

  test('multi-megabyte data and input grow memory and still evaluate', async () => {
    const str = new Strings();
    const plan = resultPlan(
      str,
      'p/big',
      [
        { type: 'DotStmt', source: L(1), key: str.s('users'), target: 2 },
        { type: 'DotStmt', source: L(0), key: str.s('id'), target: 3 },
        { type: 'DotStmt', source: L(2), key: L(3), target: 4 },
        { type: 'DotStmt', source: L(0), key: str.s('blob'), target: 5 },
        { type: 'CallStmt', func: 'count', args: [L(5)], result: 6 },
        { type: 'MakeArrayStmt', capacity: 2, target: 7 },
        { type: 'ArrayAppendStmt', value: L(4), array: 7 },
        { type: 'ArrayAppendStmt', value: L(6), array: 7 },
      ],
      7,
    );
    const p = await load(policyOf(str, [plan]));
    const users: Record<string, { n: number; name: string }> = {};
    for (let i = 0; i < 50_000; i++) users[`u${i}`] = { n: i, name: `user number ${i}` };
    p.setData({ users });
    const blob = Array.from({ length: 100_000 }, (_, i) => i);
    expect(p.evaluate({ id: 'u31337', blob }, 'p/big')).toEqual([{ result: [{ n: 31337, name: 'user number 31337' }, 100_000] }]);
    expect(p.evaluate({ id: 'nope', blob: [] }, 'p/big')).toEqual([]);
  });

  test('constant comparisons fold, also for duplicate strings in the static table', async () => {
    const str = new Strings();
    str.list.push('dup', 'dup');
    const dupA: ir.Operand = { type: 'string_index', value: 0 };
    const dupB: ir.Operand = { type: 'string_index', value: 1 };
    const plan = resultPlan(
      str,
      'p/ne',
      [
        { type: 'MakeArrayStmt', capacity: 2, target: 2 },
        { type: 'BlockStmt', blocks: [{ stmts: [{ type: 'NotEqualStmt', a: dupA, b: dupB }, { type: 'ArrayAppendStmt', value: str.s('ne-dup'), array: 2 }] }] },
        { type: 'BlockStmt', blocks: [{ stmts: [{ type: 'NotEqualStmt', a: B(true), b: B(false) }, { type: 'ArrayAppendStmt', value: str.s('ne-bool'), array: 2 }] }] },
        { type: 'BlockStmt', blocks: [{ stmts: [{ type: 'EqualStmt', a: dupA, b: dupB }, { type: 'ArrayAppendStmt', value: str.s('eq-dup'), array: 2 }] }] },
      ],
      2,
    );
    const p = await load(policyOf(str, [plan]));
    expect(p.evaluate({}, 'p/ne')).toEqual([{ result: ['ne-bool', 'eq-dup'] }]);
  });

  test('a break that would leave the function is a compile error with a stable code', async () => {
    const str = new Strings();
    const plan = resultPlan(str, 'p/bad', [{ type: 'BreakStmt', index: 3 }], 0);
    await expect(emitWasm(policyOf(str, [plan]))).rejects.toMatchObject({ code: 'wasm_codegen_error' });
  });

  test('hostBuiltinsOf lists host calls, not planned functions or natives', () => {
    const str = new Strings();
    const f: ir.Func = { name: 'g0.data.p.f', params: [0, 1], return: 2, blocks: [] };
    const plan = resultPlan(
      str,
      'p/h',
      [
        { type: 'CallStmt', func: 'g0.data.p.f', args: [L(0), L(1)], result: 2 },
        { type: 'CallStmt', func: 'count', args: [L(2)], result: 3 },
        {
          type: 'NotStmt',
          block: { stmts: [{ type: 'CallStmt', func: 'regex.match', args: [str.s('a'), L(2)], result: 4 }] },
        },
        { type: 'CallStmt', func: 'lower', args: [L(2)], result: 5 },
      ],
      2,
    );
    expect(hostBuiltinsOf(policyOf(str, [plan], [f]))).toEqual(['lower', 'regex.match']);
    expect(hostBuiltinsOf(policyOf(str, [plan], [f]), { isNative: () => false })).toEqual(['count', 'lower', 'regex.match']);
  });

  test('ResetLocalStmt makes a local undefined again between else-style blocks', async () => {
    // Two "q if false else := v" chains that share local 3: the second must start from undefined.
    const str = new Strings();
    const chain = (v: boolean): ir.Block => ({
      stmts: [
        {
          type: 'BlockStmt',
          blocks: [
            { stmts: [{ type: 'ResetLocalStmt', target: 3 }, { type: 'NotEqualStmt', a: B(false), b: B(false) }] },
            { stmts: [{ type: 'IsUndefinedStmt', source: 3 }, { type: 'AssignVarOnceStmt', source: B(v), target: 3 }] },
            { stmts: [{ type: 'IsDefinedStmt', source: 3 }, { type: 'AssignVarOnceStmt', source: L(3), target: 2 }] },
          ],
        },
      ],
    });
    const q = (name: string, a: boolean, b: boolean): ir.Func => ({
      name,
      params: [0, 1],
      return: 2,
      path: ['g0', 'ex', name.split('.').pop()!],
      blocks: [chain(a), chain(b), { stmts: [{ type: 'ReturnLocalStmt', source: 2 }] }],
    });
    const same = q('g0.data.ex.same', true, true);
    const conflict = q('g0.data.ex.conflict_2', false, true);
    const plans = [same, conflict].map((f) => resultPlan(str, f.name, [{ type: 'CallStmt', func: f.name, args: [L(0), L(1)], result: 2 }], 2));
    const p = await load(policyOf(str, plans, [same, conflict]));
    expect(p.evaluate({}, same.name)).toEqual([{ result: true }]);
    expect(() => p.evaluate({}, conflict.name)).toThrow(/rule data\.ex\.conflict_2 produced conflicting values/);
  });

  test('numbers compare exactly, beyond int64 and float64 range', async () => {
    const str = new Strings();
    const pairs: Array<[string, string, number]> = [
      ['28857836529306024611913', '28857836529306024611912', 1],
      ['1e400', '1e399', 1],
      ['1e-400', '0', 1],
      ['-0', '0', 0],
      ['3.50', '3.5', 0],
      ['1E+2', '100', 0],
      ['0.1234567890123456789', '0.1234567890123456788', 1],
      ['-1e299', '1e-299', -1],
      ['9223372036854775807', '9223372036854775808', -1],
      ['-9223372036854775808', '-9223372036854775809', 1],
      ['0.000000000000001', '0.000000000000002', -1],
    ];
    const plans = pairs.map(([a, b], i) =>
      resultPlan(
        str,
        `cmp/${i}`,
        [
          { type: 'MakeNumberRefStmt', index: str.index(a), target: 2 },
          { type: 'MakeNumberRefStmt', index: str.index(b), target: 3 },
          { type: 'CallStmt', func: 'lt', args: [L(2), L(3)], result: 4 },
          { type: 'CallStmt', func: 'equal', args: [L(2), L(3)], result: 5 },
          { type: 'MakeArrayStmt', capacity: 2, target: 6 },
          { type: 'ArrayAppendStmt', value: L(4), array: 6 },
          { type: 'ArrayAppendStmt', value: L(5), array: 6 },
        ],
        6,
      ),
    );
    const p = await load(policyOf(str, plans));
    pairs.forEach(([a, b, want], i) => {
      expect([a, b, p.evaluate({}, `cmp/${i}`)]).toEqual([a, b, [{ result: [want < 0, want === 0] }]]);
    });
  });

  test('strictBuiltinErrors turns native type errors and div by zero into OPA errors', async () => {
    const str = new Strings();
    const call = (name: string, fn: string, args: ir.Operand[]) =>
      resultPlan(str, name, [{ type: 'DotStmt', source: L(0), key: str.s('x'), target: 2 }, { type: 'CallStmt', func: fn, args, result: 3 }], 3);
    const plans = [
      resultPlan(
        str,
        'div',
        [
          { type: 'DotStmt', source: L(0), key: str.s('x'), target: 2 },
          { type: 'MakeNumberIntStmt', value: 0n, target: 4 },
          { type: 'CallStmt', func: 'div', args: [L(2), L(4)], result: 3 },
        ],
        3,
      ),
      call('plus', 'plus', [L(2), str.s('a')]),
      call('concat', 'array.concat', [L(2), L(2)]),
      call('max', 'max', [L(2)]),
    ];
    const policy = policyOf(str, plans);
    const sp = await loadModule(await emitWasm(policy, { strictBuiltinErrors: true }));
    const lp = await load(policy);
    expect(() => sp.evaluate({ x: 1 }, 'div')).toThrow(/^eval_builtin_error: div: divide by zero$/);
    expect(() => sp.evaluate({ x: 1 }, 'plus')).toThrow(/^eval_type_error: plus: operand 2 must be number but got string$/);
    expect(() => sp.evaluate({ x: {} }, 'concat')).toThrow(/^eval_type_error: array.concat: operand 1 must be array but got object$/);
    // An empty collection's max is undefined, not an error.
    expect(sp.evaluate({ x: [] }, 'max')).toEqual([]);
    expect(sp.evaluate({ x: [1, 5] }, 'max')).toEqual([{ result: 5 }]);
    // Without the option the same calls are just undefined.
    expect(lp.evaluate({ x: 1 }, 'div')).toEqual([]);
    expect(lp.evaluate({ x: 1 }, 'plus')).toEqual([]);
    expect(lp.evaluate({ x: {} }, 'concat')).toEqual([]);
    // After an error in one evaluation, the next one starts clean.
    expect(sp.evaluate({ x: [2] }, 'max')).toEqual([{ result: 2 }]);
  });

  test('rules are evaluated once per evaluation (memoized), and afresh under with', async () => {
    // r := tether.count_call(input.x); plan: [r for each of input.items] + [r with input.x as "w"] + [r]
    const str = new Strings();
    const r: ir.Func = {
      name: 'g0.data.p.r',
      params: [0, 1],
      return: 2,
      path: ['g0', 'p', 'r'],
      blocks: [
        {
          stmts: [
            { type: 'DotStmt', source: L(0), key: str.s('x'), target: 3 },
            { type: 'CallStmt', func: 'tether.count_call', args: [L(3)], result: 4 },
            { type: 'AssignVarOnceStmt', source: L(4), target: 2 },
          ],
        },
        { stmts: [{ type: 'ReturnLocalStmt', source: 2 }] },
      ],
    };
    const call = (target: number): ir.Stmt => ({ type: 'CallStmt', func: r.name, args: [L(0), L(1)], result: target });
    const plan = resultPlan(
      str,
      'p/memo',
      [
        { type: 'MakeArrayStmt', capacity: 4, target: 10 },
        { type: 'DotStmt', source: L(0), key: str.s('items'), target: 11 },
        { type: 'ScanStmt', source: 11, key: 12, value: 13, block: { stmts: [call(14), { type: 'ArrayAppendStmt', value: L(14), array: 10 }] } },
        {
          type: 'WithStmt',
          local: 0,
          path: [str.index('x')],
          value: str.s('w'),
          block: { stmts: [call(15), { type: 'ArrayAppendStmt', value: L(15), array: 10 }, call(16), { type: 'ArrayAppendStmt', value: L(16), array: 10 }] },
        },
        call(17),
        { type: 'ArrayAppendStmt', value: L(17), array: 10 },
      ],
      10,
    );
    let calls = 0;
    const p = await load(policyOf(str, [plan], [r]), {
      'tether.count_call': (x: unknown) => {
        calls++;
        return `${x}#${calls}`;
      },
    });
    expect(p.evaluate({ x: 'a', items: [1, 2, 3] }, 'p/memo')).toEqual([{ result: ['a#1', 'a#1', 'a#1', 'w#2', 'w#2', 'a#1'] }]);
    expect(calls).toBe(2);
    // The memo table is per evaluation.
    expect(p.evaluate({ x: 'b', items: [] }, 'p/memo')).toEqual([{ result: ['w#3', 'w#3', 'b#4'] }]);
  });

  test('a failing host built-in call can be located as "file:row" for OPA-style error messages', async () => {
    const str = new Strings();
    const plan = resultPlan(
      str,
      'p/loc',
      [
        { type: 'CallStmt', func: 'tether.ok', args: [], result: 2, loc: { file: 0, row: 2, col: 3 } },
        { type: 'CallStmt', func: 'tether.fail', args: [L(2)], result: 3, loc: { file: 0, row: 4, col: 9 } },
      ],
      3,
    );
    const p = await load(policyOf(str, [plan]), {
      'tether.ok': () => 1,
      'tether.fail': () => {
        throw new Error('eval_type_error: tether.fail: operand 1 must be string but got number');
      },
    });
    expect(() => p.evaluate({}, 'p/loc')).toThrow(/tether\.fail/);
    expect(lastHostCallLocation(p)).toBe('test.rego:4');
  });

  test('static data larger than the SDK default memory is copied in after growing it', async () => {
    const str = new Strings();
    const huge = 'x'.repeat(1_500_000); // the SDK starts with 5 pages (320 KiB)
    const plan = resultPlan(
      str,
      'p/huge',
      [
        { type: 'CallStmt', func: 'count', args: [str.s(huge)], result: 2 },
        { type: 'CallStmt', func: 'startswith', args: [str.s(huge), str.s('xx')], result: 3 },
        { type: 'MakeArrayStmt', capacity: 2, target: 4 },
        { type: 'ArrayAppendStmt', value: L(2), array: 4 },
        { type: 'ArrayAppendStmt', value: L(3), array: 4 },
      ],
      4,
    );
    const p = await load(policyOf(str, [plan]));
    expect(p.evaluate({}, 'p/huge')).toEqual([{ result: [1_500_000, true] }]);
    p.setData({ some: 'data' });
    expect(p.evaluate({}, 'p/huge')).toEqual([{ result: [1_500_000, true] }]);
  });
});
