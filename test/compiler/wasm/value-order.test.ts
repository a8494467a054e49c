// The runtime's total order (t_compare) agrees with OPA's ordering of JSON values:
// null < boolean < number < string < array < object, numbers numerically, strings by bytes,
// arrays element-wise then by length, objects by sorted keys (key, then value), then by size.
import fc from 'fast-check';
import { Strings, load, policyOf, resultPlan, type LoadedPolicy } from './ir-builders';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const rank = (v: Json): number =>
  v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : typeof v === 'string' ? 3 : Array.isArray(v) ? 4 : 5;
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

function opaCompare(a: Json, b: Json): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return sign(ra - rb);
  if (a === null) return 0;
  if (typeof a === 'boolean') return sign(Number(a) - Number(b));
  if (typeof a === 'number') return a === b ? 0 : a < (b as number) ? -1 : 1;
  if (typeof a === 'string') return sign(Buffer.compare(Buffer.from(a), Buffer.from(b as string)));
  if (Array.isArray(a)) {
    const bb = b as Json[];
    for (let i = 0; i < Math.min(a.length, bb.length); i++) {
      const c = opaCompare(a[i], bb[i]);
      if (c) return c;
    }
    return sign(a.length - bb.length);
  }
  const bo = b as { [k: string]: Json };
  const byBytes = (x: string, y: string) => Buffer.compare(Buffer.from(x), Buffer.from(y));
  const ka = Object.keys(a).sort(byBytes);
  const kb = Object.keys(bo).sort(byBytes);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const c = sign(byBytes(ka[i], kb[i])) || opaCompare(a[ka[i]], bo[kb[i]]);
    if (c) return c;
  }
  return sign(ka.length - kb.length);
}

describe('runtime value order', () => {
  let p: LoadedPolicy;
  let ex: Record<string, (...a: number[]) => number>;
  const parse = (v: Json): number => {
    const enc = new TextEncoder().encode(JSON.stringify(v));
    const addr = ex.opa_malloc(enc.length);
    new Uint8Array(p.mem.buffer).set(enc, addr);
    return ex.opa_json_parse(addr, enc.length);
  };

  beforeAll(async () => {
    const str = new Strings();
    p = await load(policyOf(str, [resultPlan(str, 'noop', [], 0)]));
    ex = p.wasmInstance.exports as unknown as Record<string, (...a: number[]) => number>;
  });
  afterEach(() => p.setData({}));

  // Small domains so that equal and near-equal values come up often.
  const scalar = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(0.5, -1.5, 2.25, 1e21, -0),
    fc.constantFrom('', 'a', 'b', 'ab', 'é', '\u{1F600}', 'Z'),
  );
  const json: fc.Arbitrary<Json> = fc.letrec<{ v: Json }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('v'), { maxKeys: 3 }),
    ),
  })).v;

  test('t_compare matches the reference order on random JSON pairs', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        const va = parse(a);
        const vb = parse(b);
        expect(ex.t_compare(va, vb)).toBe(opaCompare(a, b));
        expect(ex.t_compare(vb, va)).toBe(opaCompare(b, a));
        expect(ex.t_compare(va, parse(a))).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});
