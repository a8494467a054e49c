// Many evaluations and data swaps must not grow wasm memory (the SDK resets the heap each call).
import { compile } from '../../src/compiler';
import { loadEngine } from '../../src/engine/engine';

jest.setTimeout(180_000);

test('30k evaluations and 500 setData swaps keep wasm memory flat', async () => {
  const r = await compile({
    files: [{ name: 'p.rego', text: 'package app\n\nallow if {\n\tsome g in input.groups\n\tg in data.admins\n\tstartswith(input.path, "/api/")\n}\n' }],
    entrypoints: ['app/allow'],
  });
  const e = loadEngine(r.wasm!);
  const input = { groups: Array.from({ length: 20 }, (_, i) => `group-${i}`), path: '/api/users/' + 'x'.repeat(600) };
  e.setData({ admins: ['group-19'] });
  for (let i = 0; i < 2000; i++) e.evaluate('app/allow', input);
  const before = e.memoryBytes();
  for (let i = 0; i < 30_000; i++) e.evaluate('app/allow', input);
  for (let i = 0; i < 500; i++) e.setData({ admins: [`group-${i % 20}`], pad: 'y'.repeat(i % 50) });
  e.setData({ admins: ['group-19'] });
  expect(e.evaluate('app/allow', input)).toEqual([{ result: true }]);
  const after = e.memoryBytes();
  console.log(`wasm memory before ${before} bytes, after 30k evaluations + 500 swaps ${after} bytes`);
  expect(after).toBeLessThanOrEqual(before * 1.05);
});
