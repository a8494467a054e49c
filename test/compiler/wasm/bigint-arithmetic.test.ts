// Integer arithmetic beyond int64 is exact (as OPA's big numbers): checked against JS BigInt
// through the module's own exports, since JSON.parse in the SDK would round the results.
import fc from 'fast-check';
import { Strings, load, policyOf, resultPlan, type LoadedPolicy } from './ir-builders';

describe('big integer arithmetic', () => {
  let p: LoadedPolicy;
  let ex: Record<string, (...a: number[]) => number>;

  const num = (text: string): number => {
    const enc = new TextEncoder().encode(text);
    const addr = ex.opa_malloc(enc.length);
    new Uint8Array(p.mem.buffer).set(enc, addr);
    const v = ex.opa_json_parse(addr, enc.length);
    if (!v) throw new Error(`unparsable ${text}`);
    return v;
  };
  const text = (v: number): string => {
    if (!v) return 'undefined';
    const a = ex.opa_json_dump(v);
    const bytes = new Uint8Array(p.mem.buffer);
    let e = a;
    while (bytes[e] !== 0) e++;
    return Buffer.from(bytes.subarray(a, e)).toString('utf8');
  };

  beforeAll(async () => {
    const str = new Strings();
    p = await load(policyOf(str, [resultPlan(str, 'noop', [], 0)]));
    ex = p.wasmInstance.exports as unknown as Record<string, (...a: number[]) => number>;
  });
  afterEach(() => p.setData({}));

  // Mostly huge, sometimes int64-sized, sometimes tiny, both signs.
  const big = fc.oneof(
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.bigInt({ min: -1000n, max: 1000n }),
  );

  test('plus, minus and mul match BigInt exactly', () => {
    fc.assert(
      fc.property(big, big, (a, b) => {
        const va = num(String(a));
        const vb = num(String(b));
        expect(text(ex.b_plus(va, vb))).toBe(String(a + b));
        expect(text(ex.b_minus(va, vb))).toBe(String(a - b));
        expect(text(ex.b_mul(va, vb))).toBe(String(a * b));
      }),
      { numRuns: 400 },
    );
  });

  test('rem is truncated (sign of the dividend) and div is exact when it divides', () => {
    fc.assert(
      fc.property(big, big, (a, b) => {
        fc.pre(b !== 0n);
        const va = num(String(a));
        const vb = num(String(b));
        expect(text(ex.b_rem(va, vb))).toBe(String(a % b));
        const prod = num(String(a * b));
        expect(text(ex.b_div(prod, vb))).toBe(String(a));
      }),
      { numRuns: 400 },
    );
  });

  test("OPA's bignum modulo cases", () => {
    const cases: Array<[string, string, string]> = [
      ['10', '18446744073709551616', '10'],
      ['5', '55340232221128654848', '5'],
      ['7', '340282366920938463463374607431768211456', '7'],
      ['100', '-18446744073709551616', '100'],
      ['18446744073709551617', '18446744073709551616', '1'],
      ['10', '18446744073709551617', '10'],
    ];
    for (const [a, b, want] of cases) expect(text(ex.b_rem(num(a), num(b)))).toBe(want);
    expect(text(ex.b_rem(num('18446744073709551617'), num('0')))).toBe('undefined');
  });

  test('big results compare exactly against literals', () => {
    const sum = ex.b_plus(num('18446744073709551617'), num('1'));
    expect(ex.t_compare(sum, num('18446744073709551618'))).toBe(0);
    expect(ex.t_compare(sum, num('18446744073709551617'))).toBe(1);
    // Back within int64: an ordinary integer again.
    expect(text(ex.b_minus(num('9223372036854775808'), num('1')))).toBe('9223372036854775807');
  });
});
