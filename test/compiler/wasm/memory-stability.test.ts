// Memory behaviour under load: the bump heap is reset per evaluation and per setData, so wasm
// memory must not keep growing over many calls.
import type * as ir from '../../../src/compiler/ir/ir';
import { B, L, Strings, load, policyOf, resultPlan } from './ir-builders';

/** allow if input.user.role is one of data.roles; plus a set of the user's groups matching data. */
function policy(): ir.Policy {
  const str = new Strings();
  const plan = resultPlan(
    str,
    'p/decide',
    [
      { type: 'MakeObjectStmt', target: 20 },
      { type: 'DotStmt', source: L(0), key: str.s('user'), target: 2 },
      { type: 'DotStmt', source: L(2), key: str.s('role'), target: 3 },
      { type: 'DotStmt', source: L(1), key: str.s('roles'), target: 4 },
      { type: 'CallStmt', func: 'internal.member_2', args: [L(3), L(4)], result: 5 },
      { type: 'ObjectInsertStmt', key: str.s('allow'), value: L(5), object: 20 },
      { type: 'MakeSetStmt', target: 6 },
      {
        type: 'BlockStmt',
        blocks: [
          {
            stmts: [
              { type: 'DotStmt', source: L(2), key: str.s('groups'), target: 7 },
              {
                type: 'ScanStmt',
                source: 7,
                key: 8,
                value: 9,
                block: {
                  stmts: [
                    { type: 'CallStmt', func: 'internal.member_2', args: [L(9), L(4)], result: 10 },
                    { type: 'EqualStmt', a: L(10), b: B(true) },
                    { type: 'SetAddStmt', value: L(9), set: 6 },
                  ],
                },
              },
            ],
          },
        ],
      },
      { type: 'ObjectInsertStmt', key: str.s('matched'), value: L(6), object: 20 },
    ],
    20,
  );
  return policyOf(str, [plan]);
}

function input(i: number) {
  return {
    user: {
      id: `user-${i}`,
      role: i % 3 === 0 ? 'admin' : 'viewer',
      groups: Array.from({ length: 20 }, (_, g) => `group-${(i + g) % 40}`),
      attributes: { department: 'engineering', location: 'remote', tenure: i % 10, tags: ['a', 'b', 'c'] },
    },
    request: { method: 'GET', path: `/api/v1/items/${i}`, headers: { 'x-request-id': `req-${i}`, accept: 'application/json' } },
  };
}

describe('wasm memory stability', () => {
  test('100,000 evaluate() calls grow wasm memory by at most 5%', async () => {
    const p = await load(policy());
    p.setData({ roles: ['admin', 'group-1', 'group-2', 'group-30'] });
    expect(p.evaluate(input(0), 'p/decide')).toEqual([{ result: { allow: true, matched: ['group-1', 'group-2'] } }]);
    for (let i = 0; i < 1000; i++) p.evaluate(input(i), 'p/decide');
    const before = p.mem.buffer.byteLength;
    for (let i = 0; i < 100_000; i++) p.evaluate(input(i), 'p/decide');
    expect(p.mem.buffer.byteLength).toBeLessThanOrEqual(before * 1.05);
  }, 120_000);

  test('1,000 setData swaps grow wasm memory by at most 5%', async () => {
    const p = await load(policy());
    const dataset = (n: number) => ({ roles: Array.from({ length: n }, (_, k) => `group-${k}`), blob: 'x'.repeat(n * 10) });
    p.setData(dataset(2000));
    p.evaluate(input(1), 'p/decide');
    const before = p.mem.buffer.byteLength;
    for (let i = 0; i < 1000; i++) {
      p.setData(dataset(i % 2 === 0 ? 2000 : 50));
      p.evaluate(input(i), 'p/decide');
    }
    expect(p.mem.buffer.byteLength).toBeLessThanOrEqual(before * 1.05);
    p.setData({ roles: ['viewer'] });
    expect(p.evaluate(input(1), 'p/decide')).toEqual([{ result: { allow: true, matched: [] } }]);
  }, 120_000);
});
