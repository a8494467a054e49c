// Each NATIVE built-in, called from a generated plan on arguments taken from the input, run
// through the real SDK: results follow OPA's semantics, errors are undefined ([]).
import type * as ir from '../../../src/compiler/ir/ir';
import fc from 'fast-check';
import { nativeBuiltins } from '../../../src/compiler/builtins/native';
import { L, Strings, load, policyOf, resultPlan, type LoadedPolicy } from './ir-builders';

type Arg = unknown | { set: unknown[] } | { setOfSets: unknown[][] };
type Case = [name: string, args: Arg[], expected: unknown];
const UNDEF = Symbol('undefined');

const cases: Case[] = [
  ['plus', [1, 2], 3],
  ['plus', [1.5, 2], 3.5],
  ['plus', ['a', 1], UNDEF],
  ['plus', [9223372036854775807n, 1], 9223372036854775808],
  ['minus', [5, 7], -2],
  ['minus', [{ set: [1, 2, 3] }, { set: [2] }], [1, 3]],
  ['mul', [3, 4], 12],
  ['mul', [1.5, 2], 3],
  ['div', [7, 2], 3.5],
  ['div', [6, 3], 2],
  ['div', [1, 0], UNDEF],
  ['rem', [7, 3], 1],
  ['rem', [-7, 3], -1],
  ['rem', [7, 0], UNDEF],
  ['rem', [7.5, 2], UNDEF],
  ['abs', [-3], 3],
  ['abs', [-2.5], 2.5],
  ['round', [2.5], 3],
  ['round', [-2.5], -3],
  ['ceil', [1.2], 2],
  ['floor', [-1.2], -2],
  ['equal', [1, 1.0], true],
  ['equal', [{ a: [1] }, { a: [1] }], true],
  ['neq', [1, '1'], true],
  ['lt', ['a', 'b'], true],
  ['lt', [null, false], true],
  ['lt', [false, 0], true],
  ['lt', [99, 'a'], true],
  ['lt', ['z', []], true],
  ['lt', [[], {}], true],
  ['lt', [{}, { set: [] }], true],
  ['lt', [1, 1.5], true],
  ['lte', [[1], [1]], true],
  ['gt', [{ a: 1 }, [1]], true],
  ['gte', [2, 3], false],
  ['count', ['héllo'], 5],
  ['count', [[1, 2]], 2],
  ['count', [{ a: 1 }], 1],
  ['count', [{ set: [1, 2, 2] }], 2],
  ['count', [1], UNDEF],
  ['sum', [[1, 2, 3.5]], 6.5],
  ['sum', [{ set: [1, 2] }], 3],
  ['sum', [[1, 'a']], UNDEF],
  ['product', [[2, 3]], 6],
  ['max', [[1, 3, 2]], 3],
  ['min', [['b', 'a']], 'a'],
  ['max', [[]], UNDEF],
  ['sort', [[3, 1, 2, 1]], [1, 1, 2, 3]],
  ['sort', [{ set: ['b', 'a'] }], ['a', 'b']],
  ['array.concat', [[1], [2, 3]], [1, 2, 3]],
  ['array.slice', [[1, 2, 3, 4], 1, 3], [2, 3]],
  ['array.slice', [[1, 2], -1, 10], [1, 2]],
  ['array.slice', [[1, 2], 2, 1], []],
  ['numbers.range', [1, 3], [1, 2, 3]],
  ['numbers.range', [3, 1], [3, 2, 1]],
  ['object.get', [{ a: { b: 1 } }, 'a', 0], { b: 1 }],
  ['object.get', [{ a: 1 }, 'x', 'd'], 'd'],
  ['object.get', [{ a: { b: 1 } }, ['a', 'b'], 0], 1],
  ['object.get', [{ a: {} }, ['a', 'c'], 'd'], 'd'],
  ['object.keys', [{ b: 1, a: 2 }], ['a', 'b']],
  ['object.union', [{ a: { x: 1 }, b: 1 }, { a: { y: 2 }, b: 2 }], { a: { x: 1, y: 2 }, b: 2 }],
  ['object.remove', [{ a: 1, b: 2, c: 3 }, ['a', 'c']], { b: 2 }],
  ['object.remove', [{ a: 1, b: 2 }, { set: ['b'] }], { a: 1 }],
  ['object.filter', [{ a: 1, b: 2 }, ['a', 'z']], { a: 1 }],
  ['is_number', [1], true],
  ['is_string', [1], false],
  ['is_boolean', [false], true],
  ['is_array', [[]], true],
  ['is_object', [{}], true],
  ['is_null', [null], true],
  ['is_set', [[]], false],
  ['is_set', [{ set: [] }], true],
  ['type_name', [null], 'null'],
  ['type_name', [[1]], 'array'],
  ['type_name', [{ set: [1] }], 'set'],
  ['type_name', [1.5], 'number'],
  ['concat', [',', ['a', 'b', 'c']], 'a,b,c'],
  ['concat', [',', []], ''],
  ['concat', ['-', { set: ['y', 'x'] }], 'x-y'],
  ['concat', [',', [1]], UNDEF],
  ['contains', ['abc', 'bc'], true],
  ['contains', ['abc', 'x'], false],
  ['startswith', ['abc', 'ab'], true],
  ['endswith', ['abc', 'bc'], true],
  ['endswith', ['c', 'abc'], false],
  ['lower', ['ABC'], 'abc'],
  ['upper', ['abc'], 'ABC'],
  ['internal.member_2', [2, [1, 2]], true],
  ['internal.member_2', [3, { a: 3 }], true],
  ['internal.member_2', ['x', [1]], false],
  ['internal.member_2', [1, { set: [1] }], true],
  ['internal.member_3', [0, 1, [1]], true],
  ['internal.member_3', ['a', 2, { a: 1 }], false],
  ['and', [{ set: [1, 2, 3] }, { set: [2, 3, 4] }], [2, 3]],
  ['or', [{ set: [1] }, { set: [2] }], [1, 2]],
  ['union', [{ setOfSets: [[1, 2], [2, 3]] }], [1, 2, 3]],
  ['intersection', [{ setOfSets: [[1, 2], [2, 3]] }], [2]],
];

/** Plan: args[i] = input.args[i] (converted to sets where asked); result = fn(args...). */
function planFor(str: Strings, name: string, args: Arg[]): ir.Plan {
  const stmts: ir.Stmt[] = [{ type: 'DotStmt', source: L(0), key: str.s('args'), target: 2 }];
  const argLocals: ir.Operand[] = [];
  args.forEach((a, i) => {
    const idx = 10 + i * 10;
    stmts.push({ type: 'MakeNumberIntStmt', value: BigInt(i), target: idx });
    stmts.push({ type: 'DotStmt', source: L(2), key: L(idx), target: idx + 1 });
    let out = idx + 1;
    const isSet = typeof a === 'object' && a !== null && ('set' in a || 'setOfSets' in a);
    if (isSet) {
      const nested = 'setOfSets' in (a as object);
      const inner: ir.Stmt[] = [];
      if (nested) {
        inner.push({ type: 'MakeSetStmt', target: idx + 5 });
        inner.push({
          type: 'ScanStmt',
          source: idx + 4,
          key: idx + 6,
          value: idx + 7,
          block: { stmts: [{ type: 'SetAddStmt', value: L(idx + 7), set: idx + 5 }] },
        });
        inner.push({ type: 'SetAddStmt', value: L(idx + 5), set: idx + 2 });
      } else {
        inner.push({ type: 'SetAddStmt', value: L(idx + 4), set: idx + 2 });
      }
      stmts.push({ type: 'MakeSetStmt', target: idx + 2 });
      stmts.push({ type: 'ScanStmt', source: idx + 1, key: idx + 3, value: idx + 4, block: { stmts: inner } });
      out = idx + 2;
    }
    argLocals.push(L(out));
  });
  stmts.push({ type: 'CallStmt', func: name, args: argLocals, result: 3 });
  return resultPlan(str, `t/${name}`, stmts, 3);
}

function wireArgs(args: Arg[]): string {
  // BigInt args are written as exact JSON integers.
  const conv = (a: Arg): unknown => {
    if (typeof a === 'object' && a !== null && 'set' in a) return (a as { set: unknown[] }).set;
    if (typeof a === 'object' && a !== null && 'setOfSets' in a) return (a as { setOfSets: unknown[] }).setOfSets;
    return a;
  };
  return JSON.stringify({ args: args.map(conv) }, (_k, v) => (typeof v === 'bigint' ? `@@${v}@@` : v)).replace(
    /"@@(-?\d+)@@"/g,
    '$1',
  );
}

describe('native built-ins', () => {
  let policy: LoadedPolicy;
  const planNames: string[] = [];

  beforeAll(async () => {
    const str = new Strings();
    const plans: ir.Plan[] = [];
    cases.forEach(([name, args], i) => {
      const p = planFor(str, name, args);
      p.name = `t/${i}`;
      plans.push(p);
      planNames.push(p.name);
    });
    policy = await load(policyOf(str, plans), {
      upper: (s: unknown) => String(s).toUpperCase(),
      lower: (s: unknown) => String(s).toLowerCase(),
    });
  });

  test.each(cases.map((c, i) => [i, ...c] as const))('#%i %s(%j)', (i, _name, args, expected) => {
    const buf = new TextEncoder().encode(wireArgs(args as Arg[]));
    const rs = policy.evaluate(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), planNames[i]);
    if (expected === UNDEF) expect(rs).toEqual([]);
    else expect(rs).toEqual([{ result: expected }]);
  });

  test('every listed native built-in has a test case', () => {
    const tested = new Set(cases.map((c) => c[0]));
    expect([...nativeBuiltins.keys()].filter((n) => !tested.has(n))).toEqual([]);
  });
});

describe('float arithmetic', () => {
  test('plus, minus, mul and div of doubles match IEEE results and print round-trippably', async () => {
    const str = new Strings();
    const p = await load(policyOf(str, [resultPlan(str, 'noop', [], 0)]));
    const ex = p.wasmInstance.exports as unknown as Record<string, (...a: number[]) => number>;
    const num = (x: number): number => {
      const enc = new TextEncoder().encode(JSON.stringify(x));
      const addr = ex.opa_malloc(enc.length);
      new Uint8Array(p.mem.buffer).set(enc, addr);
      return ex.opa_json_parse(addr, enc.length);
    };
    const out = (v: number): unknown => {
      if (!v) return undefined;
      const a = ex.opa_json_dump(v);
      const bytes = new Uint8Array(p.mem.buffer);
      let e = a;
      while (bytes[e] !== 0) e++;
      return JSON.parse(Buffer.from(bytes.subarray(a, e)).toString('utf8'));
    };
    const finite = (x: number) => (Number.isFinite(x) ? x : undefined);
    // Parsing is correctly rounded over the whole range, subnormals included: x + 0 prints x.
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        p.setData({});
        expect(out(ex.b_plus(num(x), num(0)))).toEqual(JSON.parse(JSON.stringify(x)));
      }),
      { numRuns: 3000 },
    );
    for (const x of [5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 0.30000000000000004, 9007199254740993]) {
      expect(out(ex.b_plus(num(x), num(0)))).toEqual(x);
    }
    const dbl = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e150, max: 1e150 });
    fc.assert(
      fc.property(dbl, dbl, (a, b) => {
        // Integers are exact (as OPA's big numbers), unlike doubles: compare only where both agree.
        const big = (x: number) => Number.isInteger(x) && !Number.isSafeInteger(x);
        fc.pre(!big(a) && !big(b) && !(Number.isInteger(a) && Number.isInteger(b) && (big(a + b) || big(a - b) || big(a * b))));
        p.setData({});
        const va = num(a);
        const vb = num(b);
        // JSON has no -0: compare as JSON would.
        const j = (x: number | undefined) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
        expect(out(ex.b_plus(va, vb))).toEqual(j(finite(a + b)));
        expect(out(ex.b_minus(va, vb))).toEqual(j(finite(a - b)));
        expect(out(ex.b_mul(va, vb))).toEqual(j(finite(a * b)));
        if (b !== 0) expect(out(ex.b_div(va, vb))).toEqual(j(finite(a / b)));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('sort', () => {
  test('sorts arrays of any size stably by the value order, keeping duplicates', async () => {
    const str = new Strings();
    const plan = resultPlan(str, 'sort', [{ type: 'DotStmt', source: L(0), key: str.s('xs'), target: 2 }, { type: 'CallStmt', func: 'sort', args: [L(2)], result: 3 }], 3);
    const p = await load(policyOf(str, [plan]));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom('a', 'b', null, true)), { maxLength: 60 }), (xs) => {
        const rank = (x: unknown) => (x === null ? 0 : typeof x === 'boolean' ? 1 : typeof x === 'number' ? 2 : 3);
        const want = [...xs].sort((a, b) => rank(a) - rank(b) || (a! < b! ? -1 : a! > b! ? 1 : 0));
        expect(p.evaluate({ xs }, 'sort')).toEqual([{ result: want }]);
      }),
      { numRuns: 300 },
    );
    const big = Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 20_000);
    expect(p.evaluate({ xs: big }, 'sort')).toEqual([{ result: Array.from({ length: 20_000 }, (_, i) => i) }]);
  });
});
