// Owns module-level code generation: one wasm function per ir.Func and ir.Plan (bodies lowered by
// fn-gen.ts), plus the ABI glue (opa_eval, eval, builtins, entrypoints, start) and static data.
import type * as ir from '../ir/ir';
import { I32, Op } from './encoding';
import { CodegenError, FnGen, type Env } from './fn-gen';
export { CodegenError } from './fn-gen';
import { StaticData } from './static-data';
import type { NewFunc, RuntimeInfo } from './linker';
import { nativeBuiltins } from '../builtins/native';

/** Options for code generation. */
export interface CodegenOptions {
  /** Decides whether a built-in runs natively (default: listed in nativeBuiltins). */
  isNative?: (name: string) => boolean;
  /**
   * OPA's strict built-in errors for NATIVE built-ins: a type error or div/rem by zero aborts
   * ("eval_type_error: ...", "eval_builtin_error: ...") instead of being undefined.
   */
  strictBuiltinErrors?: boolean;
}

/** The generated part of a module. */
export interface Generated {
  funcs: NewFunc[];
  data: { addr: number; bytes: Uint8Array };
  startFunc: number;
  /** Host built-in name -> id, as reported by the builtins() export. */
  hostBuiltins: Record<string, number>;
}

const CONFLICT_RULE = 'eval_conflict_error: complete rules must not produce multiple outputs';
const CONFLICT_FUNC = 'eval_conflict_error: functions must not produce multiple outputs for same inputs';
const BAD_ENTRYPOINT = 'internal_error: illegal entrypoint id';

/** Generates all functions and static data for a policy against a runtime. */
export function generate(policy: ir.Policy, rt: RuntimeInfo, opts: CodegenOptions = {}): Generated {
  const data = new StaticData((rt.heapBase + 15) & ~15);
  const falseAddr = data.alloc([2, 0, 0, 0, 0, 0, 0, 0]);
  const trueAddr = data.alloc([2, 0, 0, 0, 1, 0, 0, 0]);
  const nullAddr = data.alloc([1, 0, 0, 0, 0, 0, 0, 0]);
  const strings = policy.static.strings.map((s) => data.stringValue(s));

  const isNative = opts.isNative ?? ((n: string) => nativeBuiltins.has(n));
  const env: Env = {
    rt,
    data,
    strings,
    stringTexts: policy.static.strings,
    trueAddr,
    falseAddr,
    nullAddr,
    funcIndex: new Map(),
    funcs: policy.funcs,
    native: (n) => (isNative(n) ? nativeBuiltins.get(n) : undefined),
    hostIds: new Map(),
    files: policy.static.files,
    messages: new Map(),
    pathStrings: new Map(),
    strict: opts.strictBuiltinErrors === true,
    memoCell: data.alloc([0, 0, 0, 0], 4),
    memoCount: 0,
    callLocCell: data.alloc([0, 0, 0, 0], 4),
  };

  // Function index layout: funcs, plans, dispatch, opa_eval, eval, builtins, tether_call_location,
  // entrypoints, init (the start function).
  let next = rt.funcCount;
  for (const f of policy.funcs) {
    if (env.funcIndex.has(f.name)) throw new CodegenError(`wasm_codegen_error: duplicate function ${f.name}`);
    env.funcIndex.set(f.name, next++);
  }
  const planBase = next;
  next += policy.plans.length;
  const dispatchIdx = next++;
  next += 5; // opa_eval, eval, builtins, tether_call_location, entrypoints
  const initIdx = next++;

  const out: NewFunc[] = [];
  const memoSlots = new Map<string, number>();
  for (const f of policy.funcs) if (f.params.length === 2) memoSlots.set(f.name, memoSlots.size);
  env.memoCount = memoSlots.size;
  const i32s = (n: number) => new Array<number>(n).fill(I32);

  for (const f of policy.funcs) {
    // Functions with arguments beyond input and data are Rego functions; the rest are rules.
    let conflict = f.params.length > 2 ? CONFLICT_FUNC : CONFLICT_RULE;
    if (f.params.length <= 2 && f.path && f.path.length > 1) {
      // Name the rule too, as OPA's newer message does ("rule data.x.p produced conflicting values").
      conflict += `: rule ${ruleName(f.path.slice(1))} produced conflicting values`;
    }
    const g = new FnGen(env, f.params, conflict);
    g.memoSlot = memoSlots.get(f.name) ?? -1;
    const ret = g.local(f.return);
    g.memoPrologue();
    for (const b of f.blocks) g.blockOf(b);
    g.memoStore(ret);
    g.get_(ret);
    out.push({ type: { params: i32s(f.params.length), results: [I32] }, localsI32: g.extraLocals, body: g.w.finish() });
  }

  for (const p of policy.plans) {
    const g = new FnGen(env, [0, 1], CONFLICT_RULE);
    const rs = g.gen();
    g.resultSet = rs;
    g.i32(4).rt('t_set').set_(rs);
    for (const b of p.blocks) g.blockOf(b);
    g.get_(rs);
    out.push({ type: { params: [I32, I32], results: [I32] }, localsI32: g.extraLocals, body: g.w.finish() });
  }

  // dispatch(ep, input, data) -> result set
  {
    const g = new FnGen(env, [0, 1, 2], CONFLICT_RULE);
    if (env.memoCount > 0) g.i32(env.memoCell).i32(env.memoCount * 4).rt('t_calloc').store32(0);
    policy.plans.forEach((_, i) => {
      g.get_(0).i32(i).op(Op.i32_eq);
      g.ifThen();
      g.get_(1).get_(2).call(planBase + i).op(Op.return);
      g.end();
    });
    g.abort(BAD_ENTRYPOINT);
    g.i32(0);
    out.push({ type: { params: [I32, I32, I32], results: [I32] }, localsI32: g.extraLocals, body: g.w.finish() });
  }

  // opa_eval(reserved, entrypoint, data, inputAddr, inputLen, heapPtr, format) -> json address
  {
    const g = new FnGen(env, [0, 1, 2, 3, 4, 5, 6], CONFLICT_RULE);
    g.get_(1);
    g.get_(3).get_(4).get_(5).rt('t_eval_input');
    g.get_(2);
    g.call(dispatchIdx).rt('t_dump');
    out.push({
      type: { params: i32s(7), results: [I32] },
      localsI32: 0,
      body: g.w.finish(),
      exportName: 'opa_eval',
    });
  }

  // eval(ctx) for ABI minor < 2: ctx = {input, data, entrypoint, result}
  {
    const g = new FnGen(env, [0], CONFLICT_RULE);
    g.get_(0);
    g.get_(0).w.byte(Op.i32_load).u32(2).u32(8);
    g.get_(0).w.byte(Op.i32_load).u32(2).u32(0);
    g.get_(0).w.byte(Op.i32_load).u32(2).u32(4);
    g.call(dispatchIdx);
    g.w.byte(Op.i32_store).u32(2).u32(12);
    g.i32(0);
    out.push({ type: { params: [I32], results: [I32] }, localsI32: 0, body: g.w.finish(), exportName: 'eval' });
  }

  // builtins() and entrypoints(): parse JSON kept in static data (strings point into it).
  const hostBuiltins = (): Record<string, number> => Object.fromEntries(env.hostIds);
  // Host ids are final here: every CallStmt was compiled above.
  const jsonFn = (json: string, exportName: string) => {
    const { addr, len } = data.cstring(json);
    const g = new FnGen(env, [], CONFLICT_RULE);
    g.i32(addr).i32(len).rt('opa_json_parse');
    out.push({ type: { params: [], results: [I32] }, localsI32: 0, body: g.w.finish(), exportName });
  };
  jsonFn(JSON.stringify(hostBuiltins()), 'builtins');
  // tether_call_location(): address of the "file:row" C string of the last host built-in call.
  {
    const g = new FnGen(env, [], CONFLICT_RULE);
    g.i32(env.callLocCell).load32(0);
    out.push({ type: { params: [], results: [I32] }, localsI32: 0, body: g.w.finish(), exportName: 'tether_call_location' });
  }
  jsonFn(JSON.stringify(Object.fromEntries(policy.plans.map((p, i) => [p.name, i]))), 'entrypoints');

  // init: copy our (passive) static data into place, then start the heap after it.
  const heapStart = (data.end + 7) & ~7;
  {
    const g = new FnGen(env, [], CONFLICT_RULE);
    const len = data.end - data.base;
    const seg = rt.dataSegments;
    g.i32(heapStart).rt('t_ensure_memory');
    g.i32(data.base).i32(0).i32(len);
    g.w.byte(0xfc).u32(8).u32(seg).byte(0); // memory.init
    g.w.byte(0xfc).u32(9).u32(seg); // data.drop
    g.i32(heapStart).rt('t_set_heap');
    out.push({ type: { params: [], results: [] }, localsI32: 0, body: g.w.finish() });
  }
  if (out.length !== initIdx - rt.funcCount + 1) throw new CodegenError('wasm_codegen_error: function layout mismatch');

  return { funcs: out, data: { addr: data.base, bytes: data.finish() }, startFunc: initIdx, hostBuiltins: hostBuiltins() };
}

/** data.a.b["c-d"]: a rule's path as Rego prints it. */
function ruleName(path: string[]): string {
  return ['data', ...path].map((seg, i) => (i === 0 || /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg) ? (i ? `.${seg}` : seg) : `[${JSON.stringify(seg)}]`)).join('');
}
