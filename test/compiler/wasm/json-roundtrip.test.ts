// Property tests of the runtime's JSON parser and dumper, through the module's own
// opa_json_parse / opa_json_dump exports and through evaluate() as the SDK calls them.
import fc from 'fast-check';
import type * as ir from '../../../src/compiler/ir/ir';
import { L, Strings, load, policyOf, resultPlan, type LoadedPolicy } from './ir-builders';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** JSON.stringify with object keys sorted (by UTF-8 bytes, as OPA orders strings). */
function sortedStringify(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(sortedStringify).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedStringify(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** JSON text with every non-ASCII UTF-16 unit written as a \u escape (surrogate pairs as two). */
function asciiStringify(v: Json): string {
  return JSON.stringify(v, null, '\t').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

describe('runtime JSON', () => {
  let p: LoadedPolicy;
  let ex: Record<string, (...a: number[]) => number>;

  const parseText = (text: string): number => {
    const enc = new TextEncoder().encode(text);
    const addr = ex.opa_malloc(enc.length);
    new Uint8Array(p.mem.buffer).set(enc, addr);
    return ex.opa_json_parse(addr, enc.length);
  };
  const dump = (v: number): string => {
    const a = ex.opa_json_dump(v);
    const bytes = new Uint8Array(p.mem.buffer);
    let e = a;
    while (bytes[e] !== 0) e++;
    return Buffer.from(bytes.subarray(a, e)).toString('utf8');
  };

  beforeAll(async () => {
    const str = new Strings();
    const echo: ir.Plan = resultPlan(
      str,
      'echo',
      [
        { type: 'IsDefinedStmt', source: 0 },
        { type: 'AssignVarStmt', source: L(0), target: 2 },
      ],
      2,
    );
    p = await load(policyOf(str, [echo]));
    ex = p.wasmInstance.exports as unknown as Record<string, (...a: number[]) => number>;
  });

  afterEach(() => {
    // Each property run allocates: give the heap back between tests.
    p.setData({});
  });

  const json = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' }) as fc.Arbitrary<Json>;

  test('parse then dump equals JSON.stringify with sorted keys', () => {
    fc.assert(
      fc.property(json, (v) => {
        ex.opa_heap_ptr_set(ex.opa_heap_ptr_get());
        const addr = parseText(JSON.stringify(v));
        expect(addr).not.toBe(0);
        expect(dump(addr)).toBe(sortedStringify(v));
      }),
      { numRuns: 300 },
    );
  });

  test('\\u escapes, surrogate pairs and whitespace parse to the same value', () => {
    fc.assert(
      fc.property(json, (v) => {
        const text = asciiStringify(v);
        const addr = parseText(text);
        expect(addr).not.toBe(0);
        expect(JSON.parse(dump(addr))).toEqual(JSON.parse(JSON.stringify(v))); // -0 is 0 in JSON
      }),
      { numRuns: 300 },
    );
  });

  test('evaluate() echoes any JSON input unchanged (modulo key order)', () => {
    fc.assert(
      fc.property(json, (v) => {
        // The SDK passes no input at all for falsy values (null, false, 0, "").
        expect(p.evaluate(v, 'echo')).toEqual(v ? [{ result: JSON.parse(JSON.stringify(v)) }] : []);
      }),
      { numRuns: 300 },
    );
  });

  test('big and exotic numbers keep their exact text; ints and floats compare numerically', () => {
    for (const text of ['123456789012345678901234567890', '-0.000001e-300', '1E+400', '9007199254740993', '-9223372036854775808']) {
      expect(dump(parseText(text))).toBe(text);
    }
    expect(dump(parseText('{"b":1,"a":2,"a":3}'))).toBe('{"a":3,"b":1}');
    const one = parseText('1');
    const oneFloat = parseText('1.0');
    expect(ex.t_compare(one, oneFloat)).toBe(0);
    expect(ex.t_compare(parseText('2'), parseText('1.5'))).toBe(1);
  });

  test('malformed JSON is rejected with 0', () => {
    for (const bad of ['', '{', '[1,]', '{"a" 1}', '01', '1.', '"\\x"', 'tru', 'nul', '"a', '[1] 2', '{"a":1,}', '-', '"\u0001"']) {
      expect(parseText(bad)).toBe(0);
    }
  });
});
