// Owns lowering IR statements to wasm instructions for one function, as OPA's wasm.go does:
// IR blocks become wasm blocks, BreakStmt a br, ScanStmt a loop, and an undefined statement a
// br_if out of the current block.
import type * as ir from '../ir/ir';
import { ByteWriter, Op, VOID_BLOCK } from './encoding';
import type { RuntimeInfo } from './linker';
import type { NativeBuiltin } from '../builtins/native';
import type { StaticData } from './static-data';

export class CodegenError extends Error {
  readonly code = 'wasm_codegen_error';
}

export const CONFLICT_OBJECT = 'eval_conflict_error: object keys must be unique';

/** What every function generator shares. */
export interface Env {
  rt: RuntimeInfo;
  data: StaticData;
  strings: number[];
  stringTexts: string[];
  trueAddr: number;
  falseAddr: number;
  nullAddr: number;
  funcIndex: Map<string, number>;
  funcs: ir.Func[];
  native: (name: string) => NativeBuiltin | undefined;
  hostIds: Map<string, number>;
  files: string[];
  messages: Map<string, number>;
  pathStrings: Map<string, number>;
  strict: boolean;
  /** Address of the u32 cell holding the current memo table (one u32 per memoized function). */
  memoCell: number;
  memoCount: number;
  /** Address of the u32 cell holding the "file:row" C string of the current host call (0 = none). */
  callLocCell: number;
}

export function rtFunc(env: Env, name: string): number {
  const idx = env.rt.exports.get(name) ?? env.rt.imports.get(name);
  if (idx === undefined) throw new CodegenError(`wasm_codegen_error: runtime lacks ${name}`);
  return idx;
}

function message(env: Env, text: string): number {
  let addr = env.messages.get(text);
  if (addr === undefined) {
    addr = env.data.cstring(text).addr;
    env.messages.set(text, addr);
  }
  return addr;
}

function pathString(env: Env, s: string): number {
  let addr = env.pathStrings.get(s);
  if (addr === undefined) {
    addr = env.data.stringValue(s);
    env.pathStrings.set(s, addr);
  }
  return addr;
}

/** Generates one function body. */
export class FnGen {
  readonly w = new ByteWriter();
  private locals = new Map<ir.Local, number>();
  private next: number;

  constructor(
    readonly env: Env,
    params: ir.Local[],
    readonly conflictMessage: string,
  ) {
    params.forEach((p, i) => this.locals.set(p, i));
    this.next = params.length;
    this.nParams = params.length;
  }
  readonly nParams: number;
  /** The result-set local in plan functions; -1 elsewhere. */
  resultSet = -1;
  /** This function's slot in the memo table; -1 when not memoized. */
  memoSlot = -1;

  get extraLocals(): number {
    return this.next - this.nParams;
  }

  local(l: ir.Local): number {
    let i = this.locals.get(l);
    if (i === undefined) {
      i = this.next++;
      this.locals.set(l, i);
    }
    return i;
  }

  gen(): number {
    return this.next++;
  }

  op(b: number): this {
    this.w.byte(b);
    return this;
  }
  get_(i: number): this {
    this.w.byte(Op.local_get).u32(i);
    return this;
  }
  set_(i: number): this {
    this.w.byte(Op.local_set).u32(i);
    return this;
  }
  tee(i: number): this {
    this.w.byte(Op.local_tee).u32(i);
    return this;
  }
  i32(v: number): this {
    this.w.byte(Op.i32_const).s32(v);
    return this;
  }
  call(f: number): this {
    this.w.byte(Op.call).u32(f);
    return this;
  }
  rt(name: string): this {
    return this.call(rtFunc(this.env, name));
  }
  /** Open wasm labels: a branch may not reach the function's own (result-typed) label. */
  private depth = 0;
  block(): this {
    this.w.byte(Op.block).byte(VOID_BLOCK);
    this.depth++;
    return this;
  }
  loop(): this {
    this.w.byte(Op.loop).byte(VOID_BLOCK);
    this.depth++;
    return this;
  }
  ifThen(): this {
    this.w.byte(Op.if).byte(VOID_BLOCK);
    this.depth++;
    return this;
  }
  end(): this {
    this.w.byte(Op.end);
    this.depth--;
    return this;
  }
  private checkDepth(d: number): void {
    if (d >= this.depth) throw new CodegenError(`wasm_codegen_error: break ${d} leaves the function (only ${this.depth} blocks open)`);
  }
  br(d: number): this {
    this.checkDepth(d);
    this.w.byte(Op.br).u32(d);
    return this;
  }
  brIf(d: number): this {
    this.checkDepth(d);
    this.w.byte(Op.br_if).u32(d);
    return this;
  }

  load32(offset: number): this {
    this.w.byte(Op.i32_load).u32(2).u32(offset);
    return this;
  }
  store32(offset: number): this {
    this.w.byte(Op.i32_store).u32(2).u32(offset);
    return this;
  }

  /** Rules (functions of input and data only) are evaluated once per evaluation, as OPA memoizes. */
  memoPrologue(): void {
    if (this.memoSlot < 0) return;
    const tmp = this.gen();
    this.block();
    this.i32(this.env.memoCell).load32(0).load32(this.memoSlot * 4).tee(tmp).op(Op.i32_eqz).brIf(0);
    // 1 records "computed, undefined" (no value lives at address 1).
    this.get_(tmp).i32(1).op(Op.i32_eq);
    this.ifThen().i32(0).op(Op.return).end();
    this.get_(tmp).op(Op.return);
    this.end();
  }

  /** Records the result in local v (0 = undefined) in the memo table. */
  memoStore(v: number): void {
    if (this.memoSlot < 0) return;
    this.i32(this.env.memoCell).load32(0);
    this.get_(v).get_(v).op(Op.i32_eqz).op(Op.i32_or);
    this.store32(this.memoSlot * 4);
  }

  /**
   * A comparison with an undefined operand is undefined, as in OPA's topdown: e.g. `p if input` when
   * no input was given (local 0 is then 0). Other locals are checked where they are assigned, so
   * this costs one test per local operand of a comparison.
   */
  private definedOperands(...ops: ir.Operand[]): void {
    for (const o of ops) if (o.type === 'local') this.read(o).op(Op.i32_eqz).brIf(0);
  }

  read(o: ir.Operand): this {
    switch (o.type) {
      case 'local':
        return this.get_(this.local(o.value));
      case 'bool':
        return this.i32(o.value ? this.env.trueAddr : this.env.falseAddr);
      case 'string_index': {
        const addr = this.env.strings[o.value];
        if (addr === undefined) throw new CodegenError(`wasm_codegen_error: no static string ${o.value}`);
        return this.i32(addr);
      }
    }
  }

  /** A constant operand's identity (kind + value), or undefined for locals. */
  constText(o: ir.Operand): string | undefined {
    if (o.type === 'bool') return `b:${o.value}`;
    if (o.type === 'string_index') return `s:${this.env.stringTexts[o.value]}`;
    return undefined;
  }

  abort(text: string, loc?: ir.Location): this {
    let msg = text;
    if (loc) msg += ` (${this.env.files[loc.file] ?? '?'}:${loc.row}:${loc.col})`;
    this.i32(message(this.env, msg)).rt('opa_abort').op(Op.unreachable);
    return this;
  }

  blockOf(b: ir.Block): void {
    this.block();
    this.stmts(b.stmts);
    this.end();
  }

  stmts(stmts: ir.Stmt[]): void {
    for (const s of stmts) this.stmt(s);
  }

  /** After a call: result in local, undefined leaves the current block. */
  private checkResult(target: ir.Local): void {
    this.tee(this.local(target)).op(Op.i32_eqz).brIf(0);
  }

  stmt(s: ir.Stmt): void {
    switch (s.type) {
      case 'ReturnLocalStmt':
        this.memoStore(this.local(s.source));
        this.get_(this.local(s.source)).op(Op.return);
        return;
      case 'BlockStmt':
        for (const b of s.blocks) this.blockOf(b);
        return;
      case 'BreakStmt':
        this.br(s.index);
        return;
      case 'CallStmt':
        this.callStmt(s);
        return;
      case 'CallDynamicStmt':
        this.callDynamic(s);
        return;
      case 'WithStmt': {
        const save = this.gen();
        const undef = this.gen();
        this.get_(this.local(s.local)).set_(save);
        if (s.path.length === 0) {
          this.read(s.value).set_(this.local(s.local));
        } else {
          const path = s.path.map((i) => this.env.strings[i]);
          const arr = this.env.data.alloc(this.env.data.u32s(path), 4);
          this.get_(this.local(s.local)).i32(arr).i32(path.length).i32(0).read(s.value).rt('t_upsert');
          this.set_(this.local(s.local));
        }
        // Rule results computed under `with` must not leak out of it (nor earlier ones in).
        const saveMemo = this.gen();
        if (this.env.memoCount > 0) {
          this.i32(this.env.memoCell).i32(this.env.memoCell).load32(0).set_(saveMemo);
          this.i32(this.env.memoCount * 4).rt('t_calloc').store32(0);
        }
        this.i32(1).set_(undef);
        this.block();
        this.stmts(s.block.stmts);
        this.i32(0).set_(undef);
        this.end();
        if (this.env.memoCount > 0) this.i32(this.env.memoCell).get_(saveMemo).store32(0);
        this.get_(save).set_(this.local(s.local));
        this.get_(undef).brIf(0);
        return;
      }
      case 'AssignVarStmt':
        this.read(s.source).set_(this.local(s.target));
        return;
      case 'ResetLocalStmt':
        this.i32(0).set_(this.local(s.target));
        return;
      case 'AssignVarOnceStmt': {
        const t = this.local(s.target);
        this.block().block();
        this.get_(t).op(Op.i32_eqz).brIf(0);
        this.get_(t).read(s.source).rt('t_compare').op(Op.i32_eqz).brIf(1);
        this.abort(this.conflictMessage, s.loc);
        this.end();
        this.read(s.source).set_(t);
        this.end();
        return;
      }
      case 'AssignIntStmt':
        this.get_(this.local(s.target));
        this.w.byte(Op.i64_const).s64(s.value);
        this.rt('t_set_int');
        return;
      case 'ScanStmt': {
        const key = this.local(s.key);
        const src = this.local(s.source);
        this.i32(0).set_(key);
        this.block().loop();
        this.get_(src).get_(key).rt('t_iter').tee(key).op(Op.i32_eqz).brIf(1);
        this.get_(src).get_(key).rt('t_get').set_(this.local(s.value));
        this.stmts(s.block.stmts);
        this.br(0);
        this.end().end();
        return;
      }
      case 'NopStmt':
        return;
      case 'NotStmt': {
        const cond = this.gen();
        this.i32(1).set_(cond);
        this.block();
        this.stmts(s.block.stmts);
        this.i32(0).set_(cond);
        this.end();
        this.get_(cond).op(Op.i32_eqz).brIf(0);
        return;
      }
      case 'DotStmt':
        if (s.source.type !== 'local') {
          this.br(0);
          return;
        }
        // A constant string key can only find object members or set elements: skip the dispatch.
        this.read(s.source).read(s.key).rt(s.key.type === 'string_index' ? 't_get_str' : 't_get');
        this.checkResult(s.target);
        return;
      case 'LenStmt':
        this.read(s.source).rt('t_len').set_(this.local(s.target));
        return;
      case 'EqualStmt':
        this.definedOperands(s.a, s.b);
        if (sameOperand(s.a, s.b)) return;
        this.read(s.a).read(s.b).rt('t_compare').brIf(0);
        return;
      case 'NotEqualStmt': {
        this.definedOperands(s.a, s.b);
        if (sameOperand(s.a, s.b)) {
          this.br(0);
          return;
        }
        const ca = this.constText(s.a);
        const cb = this.constText(s.b);
        if (ca !== undefined && cb !== undefined) {
          // Both constants: decided at compile time (the string table may hold duplicates).
          if (ca === cb) this.br(0);
          return;
        }
        this.read(s.a).read(s.b).rt('t_compare').op(Op.i32_eqz).brIf(0);
        return;
      }
      case 'MakeNullStmt':
        this.i32(this.env.nullAddr).set_(this.local(s.target));
        return;
      case 'MakeNumberIntStmt':
        this.w.byte(Op.i64_const).s64(s.value);
        this.rt('t_int').set_(this.local(s.target));
        return;
      case 'MakeNumberRefStmt':
        this.i32(this.env.strings[s.index]).rt('t_number_ref').set_(this.local(s.target));
        return;
      case 'MakeArrayStmt':
        this.i32(s.capacity).rt('t_array').set_(this.local(s.target));
        return;
      case 'MakeObjectStmt':
        this.i32(4).rt('t_object').set_(this.local(s.target));
        return;
      case 'MakeSetStmt':
        this.i32(4).rt('t_set').set_(this.local(s.target));
        return;
      case 'IsArrayStmt':
      case 'IsObjectStmt':
      case 'IsSetStmt': {
        if (s.source.type !== 'local') {
          this.br(0);
          return;
        }
        const tag = s.type === 'IsArrayStmt' ? 5 : s.type === 'IsObjectStmt' ? 6 : 7;
        const l = this.local(s.source.value);
        this.get_(l).op(Op.i32_eqz).brIf(0);
        this.get_(l);
        this.w.byte(Op.i32_load8_u).u32(0).u32(0);
        this.i32(tag).op(Op.i32_ne).brIf(0);
        return;
      }
      case 'IsDefinedStmt':
        this.get_(this.local(s.source)).op(Op.i32_eqz).brIf(0);
        return;
      case 'IsUndefinedStmt':
        this.get_(this.local(s.source)).brIf(0);
        return;
      case 'ArrayAppendStmt':
        this.get_(this.local(s.array)).read(s.value).rt('t_array_append');
        return;
      case 'ObjectInsertStmt':
        this.get_(this.local(s.object)).read(s.key).read(s.value).rt('t_object_insert');
        return;
      case 'ObjectInsertOnceStmt': {
        const tmp = this.gen();
        const obj = this.local(s.object);
        this.block().block();
        this.get_(obj).read(s.key).rt('t_get').tee(tmp).op(Op.i32_eqz).brIf(0);
        this.get_(tmp).read(s.value).rt('t_compare').op(Op.i32_eqz).brIf(1);
        this.abort(CONFLICT_OBJECT, s.loc);
        this.end();
        this.get_(obj).read(s.key).read(s.value).rt('t_object_insert');
        this.end();
        return;
      }
      case 'ObjectMergeStmt':
        this.get_(this.local(s.a)).get_(this.local(s.b)).rt('t_merge').set_(this.local(s.target));
        return;
      case 'SetAddStmt':
        this.get_(this.local(s.set)).read(s.value).rt('t_set_add');
        return;
      case 'ResultSetAddStmt':
        if (this.resultSet < 0) throw new CodegenError('wasm_codegen_error: ResultSetAddStmt outside a plan');
        this.get_(this.resultSet).get_(this.local(s.value)).rt('t_set_add');
        return;
      default: {
        const never: never = s;
        throw new CodegenError(`wasm_codegen_error: illegal statement ${(never as ir.Stmt).type}`);
      }
    }
  }

  callStmt(s: ir.CallStmt): void {
    const fidx = this.env.funcIndex.get(s.func);
    if (fidx !== undefined) {
      for (const a of s.args) this.read(a);
      this.call(fidx);
      this.checkResult(s.result);
      return;
    }
    const nat = this.env.native(s.func);
    if (nat) {
      if (nat.arity !== s.args.length) {
        throw new CodegenError(`wasm_codegen_error: ${s.func} takes ${nat.arity} arguments, got ${s.args.length}`);
      }
      for (const a of s.args) this.read(a);
      this.rt(nat.export);
      if (nat.hostFallback) {
        // The runtime answers 1 when only the host can compute the result (e.g. Unicode case mapping).
        const r = this.local(s.result);
        this.tee(r).i32(1).op(Op.i32_eq);
        this.ifThen();
        this.hostCall(s);
        this.set_(r);
        this.end();
        this.get_(r);
      }
      if (this.env.strict) {
        // Undefined from a native built-in may be an error: abort with it, else leave the block.
        this.tee(this.local(s.result)).op(Op.i32_eqz);
        this.ifThen();
        this.rt('t_check_error').br(1);
        this.end();
        return;
      }
      this.checkResult(s.result);
      return;
    }
    this.hostCall(s);
    this.checkResult(s.result);
  }

  /** Pushes the host built-in's result. */
  hostCall(s: ir.CallStmt): void {
    if (s.args.length > 4) {
      throw new CodegenError(`wasm_codegen_error: too many built-in call arguments: ${s.func}`);
    }
    let id = this.env.hostIds.get(s.func);
    if (id === undefined) {
      id = this.env.hostIds.size;
      this.env.hostIds.set(s.func, id);
    }
    // Record where the call is, so the engine can place a host built-in's error ("file:row").
    const where = s.loc ? message(this.env, `${this.env.files[s.loc.file] ?? '?'}:${s.loc.row}`) : 0;
    this.i32(this.env.callLocCell).i32(where).store32(0);
    this.i32(id).i32(0);
    for (const a of s.args) this.read(a);
    this.rt(`opa_builtin${s.args.length}`);
  }

  /**
   * As OPA: looks the path up among functions with a path; not found leaves the current block
   * (so the planner's following block can check data), found-but-undefined leaves three.
   */
  callDynamic(s: ir.CallDynamicStmt): void {
    const cands = this.env.funcs.filter((f) => f.path && f.path.length === s.path.length);
    this.block();
    for (const f of cands) {
      this.block();
      f.path!.forEach((seg, j) => {
        this.read(s.path[j]).i32(pathString(this.env, seg)).rt('t_compare').brIf(0);
      });
      for (const a of s.args) this.get_(this.local(a));
      this.call(this.env.funcIndex.get(f.name)!);
      this.tee(this.local(s.result)).op(Op.i32_eqz).brIf(4);
      this.br(1);
      this.end();
    }
    this.br(1);
    this.end();
  }
}

function sameOperand(a: ir.Operand, b: ir.Operand): boolean {
  return a.type === b.type && a.value === b.value;
}
