// Test-only reference interpreter for ir.Policy, following the execution model documented in
// src/compiler/ir/ir.ts, so plans can be checked before the wasm emitter exists.

import type { Block, Func, Operand, Policy, Stmt } from '../../../src/compiler/ir/ir';
import { BUILTINS, BuiltinError } from './ir-builtins';
import type { RValue } from './ir-values';
import { equal, RObject, RSet } from './ir-values';

/** An evaluation error with OPA's code (eval_conflict_error, eval_builtin_error, ...). */
export class EvalError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

type Locals = Array<RValue | undefined>;
/** How a block ended: ran to its end, stopped on an undefined statement, broke out, or returned. */
type Exit = { kind: 'done' } | { kind: 'undef' } | { kind: 'break'; n: number } | { kind: 'return'; value: RValue | undefined };

const DONE: Exit = { kind: 'done' };
const UNDEF: Exit = { kind: 'undef' };

export interface EvalOptions {
  /** Raise built-in errors instead of making the call undefined (OPA's strict-builtin-errors). */
  strictBuiltinErrors?: boolean;
  maxSteps?: number;
}

export class IRInterpreter {
  private readonly funcs = new Map<string, Func>();
  private steps = 0;

  constructor(
    readonly policy: Policy,
    readonly opts: EvalOptions = {},
  ) {
    for (const f of policy.funcs) this.funcs.set(f.name, f);
  }

  /** Runs a plan; returns its result set. */
  evalPlan(name: string, input: RValue | undefined, data: RValue): RValue[] {
    const plan = this.policy.plans.find((p) => p.name === name);
    if (!plan) throw new Error(`no plan ${name}`);
    const results: RValue[] = [];
    const locals: Locals = [input, data];
    this.steps = 0;
    for (const b of plan.blocks) this.block(b, locals, results);
    return results;
  }

  private op(o: Operand, locals: Locals): RValue | undefined {
    if (o.type === 'local') return locals[o.value];
    if (o.type === 'bool') return o.value;
    return this.policy.static.strings[o.value];
  }

  private block(b: Block, locals: Locals, results: RValue[]): Exit {
    for (const s of b.stmts) {
      const r = this.stmt(s, locals, results);
      if (r.kind === 'done') continue;
      if (r.kind === 'undef') return UNDEF;
      return r;
    }
    return DONE;
  }

  /** Runs a nested block; maps a break that leaves it into the effect on the enclosing block. */
  private child(b: Block, locals: Locals, results: RValue[]): Exit {
    const r = this.block(b, locals, results);
    if (r.kind === 'break') return r.n === 0 ? DONE : { kind: 'break', n: r.n - 1 };
    if (r.kind === 'return') return r;
    return DONE;
  }

  callFunc(f: Func, args: Array<RValue | undefined>, results: RValue[]): RValue | undefined {
    const locals: Locals = [];
    f.params.forEach((p, i) => (locals[p] = args[i]));
    for (const b of f.blocks) {
      const r = this.block(b, locals, results);
      if (r.kind === 'return') return r.value;
    }
    return undefined;
  }

  private stmt(s: Stmt, L: Locals, results: RValue[]): Exit {
    if (++this.steps > (this.opts.maxSteps ?? 5_000_000)) throw new Error('step limit');
    const val = (o: Operand): RValue | undefined => this.op(o, L);
    switch (s.type) {
      case 'ReturnLocalStmt':
        return { kind: 'return', value: L[s.source] };
      case 'CallStmt': {
        const args = s.args.map(val);
        let out: RValue | undefined;
        const f = this.funcs.get(s.func);
        if (f) out = this.callFunc(f, args, results);
        else {
          const impl = BUILTINS[s.func];
          if (!impl) throw new Error(`interpreter has no built-in ${s.func}`);
          if (args.some((a) => a === undefined)) return UNDEF;
          try {
            out = impl.fn(...(args as RValue[]));
          } catch (err) {
            if (err instanceof BuiltinError) {
              if (this.opts.strictBuiltinErrors || err.always) throw new EvalError(err.code, err.message);
              return UNDEF;
            }
            throw err;
          }
        }
        L[s.result] = out;
        return out === undefined ? UNDEF : DONE;
      }
      case 'CallDynamicStmt':
        throw new Error('CallDynamicStmt not supported');
      case 'BlockStmt':
        for (const b of s.blocks) {
          const r = this.child(b, L, results);
          if (r.kind !== 'done') return r;
        }
        return DONE;
      case 'BreakStmt':
        return { kind: 'break', n: s.index };
      case 'DotStmt': {
        const src = val(s.source);
        const key = val(s.key);
        let out: RValue | undefined;
        if (Array.isArray(src) && typeof key === 'number' && Number.isInteger(key)) out = src[key];
        else if (src instanceof RObject && key !== undefined) out = src.get(key);
        else if (src instanceof RSet && key !== undefined) out = src.has(key) ? key : undefined;
        L[s.target] = out;
        return out === undefined ? UNDEF : DONE;
      }
      case 'LenStmt': {
        const src = val(s.source);
        let n: number | undefined;
        if (Array.isArray(src)) n = src.length;
        else if (src instanceof RObject || src instanceof RSet) n = src.size;
        else if (typeof src === 'string') n = [...src].length;
        if (n === undefined) return UNDEF;
        L[s.target] = n;
        return DONE;
      }
      case 'ScanStmt': {
        const src = L[s.source];
        let pairs: Array<[RValue, RValue]> = [];
        if (Array.isArray(src)) pairs = src.map((v, i) => [i, v]);
        else if (src instanceof RObject) pairs = src.entries();
        else if (src instanceof RSet) pairs = src.values().map((v) => [v, v]);
        for (const [k, v] of pairs) {
          L[s.key] = k;
          L[s.value] = v;
          const r = this.child(s.block, L, results);
          if (r.kind !== 'done') return r;
        }
        return DONE;
      }
      case 'NotStmt': {
        const r = this.block(s.block, L, results);
        if (r.kind === 'return') return r;
        return r.kind === 'done' ? UNDEF : DONE;
      }
      case 'AssignIntStmt':
        L[s.target] = Number(s.value);
        return DONE;
      case 'AssignVarStmt':
        L[s.target] = val(s.source);
        return DONE;
      case 'AssignVarOnceStmt': {
        const v = val(s.source);
        const cur = L[s.target];
        if (cur !== undefined && v !== undefined && !equal(cur, v)) {
          throw new EvalError('eval_conflict_error', 'complete rules must not produce multiple outputs');
        }
        L[s.target] = v;
        return DONE;
      }
      case 'ResetLocalStmt':
        L[s.target] = undefined;
        return DONE;
      case 'MakeNullStmt':
        L[s.target] = null;
        return DONE;
      case 'MakeNumberIntStmt':
        L[s.target] = Number(s.value);
        return DONE;
      case 'MakeNumberRefStmt':
        L[s.target] = Number(this.policy.static.strings[s.index]);
        return DONE;
      case 'MakeArrayStmt':
        L[s.target] = [];
        return DONE;
      case 'MakeObjectStmt':
        L[s.target] = new RObject();
        return DONE;
      case 'MakeSetStmt':
        L[s.target] = new RSet();
        return DONE;
      case 'EqualStmt':
      case 'NotEqualStmt': {
        const a = val(s.a);
        const b = val(s.b);
        if (a === undefined || b === undefined) return UNDEF;
        return equal(a, b) === (s.type === 'EqualStmt') ? DONE : UNDEF;
      }
      case 'IsArrayStmt':
        return Array.isArray(val(s.source)) ? DONE : UNDEF;
      case 'IsObjectStmt':
        return val(s.source) instanceof RObject ? DONE : UNDEF;
      case 'IsSetStmt':
        return val(s.source) instanceof RSet ? DONE : UNDEF;
      case 'IsDefinedStmt':
        return L[s.source] !== undefined ? DONE : UNDEF;
      case 'IsUndefinedStmt':
        return L[s.source] === undefined ? DONE : UNDEF;
      case 'ArrayAppendStmt': {
        const arr = L[s.array];
        const v = val(s.value);
        if (!Array.isArray(arr) || v === undefined) return UNDEF;
        arr.push(v);
        return DONE;
      }
      case 'ObjectInsertStmt':
      case 'ObjectInsertOnceStmt': {
        const obj = L[s.object];
        const k = val(s.key);
        const v = val(s.value);
        if (!(obj instanceof RObject) || k === undefined || v === undefined) return UNDEF;
        if (s.type === 'ObjectInsertOnceStmt') {
          const cur = obj.get(k);
          if (cur !== undefined && !equal(cur, v)) throw new EvalError('eval_conflict_error', 'object keys must be unique');
        }
        obj.set(k, v);
        return DONE;
      }
      case 'ObjectMergeStmt': {
        const a = L[s.a];
        const b = L[s.b];
        if (!(a instanceof RObject) || !(b instanceof RObject)) return UNDEF;
        L[s.target] = merge(a, b);
        return DONE;
      }
      case 'SetAddStmt': {
        const set = L[s.set];
        const v = val(s.value);
        if (!(set instanceof RSet) || v === undefined) return UNDEF;
        set.add(v);
        return DONE;
      }
      case 'WithStmt': {
        const saved = L[s.local];
        const v = val(s.value);
        L[s.local] = upsert(saved, s.path.map((i) => this.policy.static.strings[i]), v);
        try {
          // As OPA's wasm backend: the WithStmt is undefined unless its block ran to the end.
          const r = this.block(s.block, L, results);
          if (r.kind === 'done' || r.kind === 'return') return r;
          if (r.kind === 'break' && r.n > 0) return { kind: 'break', n: r.n - 1 };
          return UNDEF;
        } finally {
          L[s.local] = saved;
        }
      }
      case 'NopStmt':
        return DONE;
      case 'ResultSetAddStmt': {
        const v = L[s.value];
        if (v !== undefined) results.push(v);
        return DONE;
      }
    }
  }
}

function merge(a: RObject, b: RObject): RObject {
  const out = a.copy();
  for (const [k, bv] of b.entries()) {
    const av = out.get(k);
    if (av === undefined) out.set(k, bv);
    else if (av instanceof RObject && bv instanceof RObject) out.set(k, merge(av, bv));
  }
  return out;
}

function upsert(doc: RValue | undefined, path: string[], value: RValue | undefined): RValue | undefined {
  if (path.length === 0) return value;
  const obj = doc instanceof RObject ? doc.copy() : new RObject();
  const [head, ...rest] = path;
  obj.set(head, upsert(obj.get(head), rest, value) as RValue);
  return obj;
}
