// The wasm engine: compiled policies evaluated through the SDK with host built-ins and EngineError codes.
import { compile } from '../../src/compiler';
import { loadEngine } from '../../src/engine/engine';
import { EngineError, toEngineError } from '../../src/engine/errors';

// The first compile may build the wasm runtime (asc in a child process): allow for it.
jest.setTimeout(180_000);

async function build(text: string, entrypoints: string[], queries?: Array<{ name: string; text: string }>): Promise<Uint8Array> {
  const r = await compile({ files: [{ name: 'p.rego', text }], entrypoints, queries });
  if (!r.ok || !r.wasm) throw new Error(JSON.stringify(r.diagnostics));
  return r.wasm;
}

const POLICY = `package app

default allow := false

allow if {
	some role in data.roles[input.user]
	role == "admin"
}

shout := upper(input.user)

stamp := [time.now_ns(), time.now_ns()]

bad_number := to_number(input.n)

label := sprintf("%v", [input.v])

conflict := input.a
conflict := input.b
`;

describe('WasmEngine', () => {
  let wasm: Uint8Array;
  beforeAll(async () => {
    wasm = await build(POLICY, ['app/allow', 'app/shout', 'app/stamp', 'app/bad_number', 'app/label', 'app/conflict']);
  });

  test('evaluates entrypoints against input and data, and setData swaps the data', () => {
    const e = loadEngine(wasm, { data: { roles: { alice: ['admin'] } } });
    expect(e.entrypoints).toEqual(expect.arrayContaining(['app/allow', 'app/shout']));
    expect(e.evaluate('app/allow', { user: 'alice' })).toEqual([{ result: true }]);
    expect(e.evaluate('app/allow', { user: 'bob' })).toEqual([{ result: false }]);
    e.setData({ roles: { bob: ['admin'] } });
    expect(e.evaluate('app/allow', { user: 'bob' })).toEqual([{ result: true }]);
    expect(e.revision).toMatch(/^[0-9a-f]{16}$/);
  });

  test('host built-ins run, with non-ASCII strings', () => {
    const e = loadEngine(wasm);
    expect(e.evaluate('app/shout', { user: 'zoë' })).toEqual([{ result: 'ZOË' }]);
    expect(e.evaluate('app/label', { v: { b: [1, 'x'], a: null } })).toEqual([{ result: '{"a": null, "b": [1, "x"]}' }]);
  });

  test('time.now_ns is read once per evaluation', () => {
    const e = loadEngine(wasm);
    const [{ result }] = e.evaluate('app/stamp', {}) as Array<{ result: number[] }>;
    expect(result[0]).toBe(result[1]);
  });

  test('built-in errors are undefined by default and eval_builtin_error in strict mode', () => {
    expect(loadEngine(wasm).evaluate('app/bad_number', { n: 'abc' })).toEqual([]);
    const strict = loadEngine(wasm, { strictBuiltinErrors: true });
    expect(() => strict.evaluate('app/bad_number', { n: 'abc' })).toThrow(expect.objectContaining({ code: 'eval_builtin_error' }));
    expect(strict.evaluate('app/bad_number', { n: '12' })).toEqual([{ result: 12 }]);
  });

  test('strict built-in errors carry the call site as OPA prints it', () => {
    const strict = loadEngine(wasm, { strictBuiltinErrors: true });
    expect(() => strict.evaluate('app/bad_number', { n: 'abc' })).toThrow(/^p\.rego:14: eval_builtin_error: to_number: /);
  });

  test('complete-rule conflicts surface as eval_conflict_error', () => {
    const e = loadEngine(wasm);
    expect(e.evaluate('app/conflict', { a: 1, b: 1 })).toEqual([{ result: 1 }]);
    expect(() => e.evaluate('app/conflict', { a: 1, b: 2 })).toThrow(expect.objectContaining({ code: 'eval_conflict_error' }));
  });

  test('an unknown entrypoint is entrypoint_not_found; bad wasm is policy_load_error', () => {
    expect(() => loadEngine(wasm).evaluate('nope', {})).toThrow(expect.objectContaining({ code: 'entrypoint_not_found' }));
    expect(() => loadEngine(new Uint8Array([0, 1, 2, 3]))).toThrow(expect.objectContaining({ code: 'policy_load_error' }));
  });

  test('falsy inputs (false, 0, null) reach the policy as values, not as "no input"', async () => {
    const w = await build('package t\n\nis_false if input == false\nis_zero if input == 0\nis_null if input == null\nhas_input if input\n', ['t/is_false', 't/is_zero', 't/is_null', 't/has_input']);
    const e = loadEngine(w);
    expect(e.evaluate('t/is_false', false)).toEqual([{ result: true }]);
    expect(e.evaluate('t/is_zero', 0)).toEqual([{ result: true }]);
    expect(e.evaluate('t/is_null', null)).toEqual([{ result: true }]);
    expect(e.evaluate('t/has_input', 1)).toEqual([{ result: true }]);
  });

  test('without input, `input` is undefined: comparisons with it are undefined and `not input` holds', async () => {
    const w = await build('package t\n\nhas_input if input\nsame if input == input\nno_input if not input\n', ['t/has_input', 't/same', 't/no_input']);
    const e = loadEngine(w);
    expect(e.evaluate('t/has_input', undefined)).toEqual([]);
    expect(e.evaluate('t/same', undefined)).toEqual([]);
    expect(e.evaluate('t/no_input', undefined)).toEqual([{ result: true }]);
    expect(e.evaluate('t/has_input', { x: 1 })).toEqual([{ result: true }]);
    expect(e.evaluate('t/no_input', { x: 1 })).toEqual([]);
  });

  test('queries return variable bindings', async () => {
    const w = await build('package t\n\nxs := [1, 2, 3]\n', [], [{ name: 'q', text: 'x := data.t.xs[_]; x > 1' }]);
    expect(loadEngine(w).evaluate('q', {})).toEqual([{ x: 2 }, { x: 3 }]);
  });

  test('SDK abort strings are classified by code or wording', () => {
    expect(toEngineError('p.rego:3:1: eval_conflict_error: complete rules must not produce multiple outputs').code).toBe('eval_conflict_error');
    expect(toEngineError('object insert conflict').code).toBe('eval_conflict_error');
    expect(toEngineError(new Error('boom')).code).toBe('eval_internal_error');
    expect(toEngineError(new EngineError('data_invalid', 'x')).code).toBe('data_invalid');
  });
});
