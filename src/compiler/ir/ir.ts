// The intermediate representation between the planner and the wasm emitter: a TypeScript port of
// OPA's internal IR (v1/ir/ir.go), so that planner and emitter meet only here and OPA's documented
// execution model applies unchanged.
//
// Execution model (as OPA's): a Block runs its statements in order; a statement that is "undefined"
// (a failed EqualStmt, a DotStmt on a missing key, IsDefinedStmt on an unset local, ...) stops the
// block, and execution continues after the innermost enclosing BlockStmt/ScanStmt iteration/NotStmt.
// BreakStmt{index: n} leaves n+1 enclosing blocks (0 = the current block). A Plan's blocks add to the
// result set with ResultSetAddStmt. Locals 0 and 1 are always the input and data documents; every
// Func takes them as its first two params. Local values of 0 mean "undefined".

/** Index of a plan-scoped variable. */
export type Local = number;

/** Local 0 is the input document in every plan and function. */
export const INPUT: Local = 0;
/** Local 1 is the data document in every plan and function. */
export const DATA: Local = 1;
/** First local a planner may allocate. */
export const FIRST_FREE_LOCAL: Local = 2;

/** An operand: a local, a constant string (index into static.strings) or a constant boolean. */
export type Operand =
  | { type: 'local'; value: Local }
  | { type: 'string_index'; value: number }
  | { type: 'bool'; value: boolean };

/** Where a statement came from in the Rego source (file is an index into static.files). */
export interface Location {
  file: number;
  row: number;
  col: number;
}

interface StmtBase {
  loc?: Location;
}

export interface ReturnLocalStmt extends StmtBase { type: 'ReturnLocalStmt'; source: Local }
/** Calls a planned Func (by its name) or a built-in (by its Rego name, e.g. "count", "object.get"). */
export interface CallStmt extends StmtBase { type: 'CallStmt'; func: string; args: Operand[]; result: Local }
export interface CallDynamicStmt extends StmtBase { type: 'CallDynamicStmt'; args: Local[]; path: Operand[]; result: Local }
export interface BlockStmt extends StmtBase { type: 'BlockStmt'; blocks: Block[] }
export interface BreakStmt extends StmtBase { type: 'BreakStmt'; index: number }
export interface DotStmt extends StmtBase { type: 'DotStmt'; source: Operand; key: Operand; target: Local }
export interface LenStmt extends StmtBase { type: 'LenStmt'; source: Operand; target: Local }
export interface ScanStmt extends StmtBase { type: 'ScanStmt'; source: Local; key: Local; value: Local; block: Block }
export interface NotStmt extends StmtBase { type: 'NotStmt'; block: Block }
export interface AssignIntStmt extends StmtBase { type: 'AssignIntStmt'; value: bigint; target: Local }
export interface AssignVarStmt extends StmtBase { type: 'AssignVarStmt'; source: Operand; target: Local }
/** Assigns; if the target is already defined with a different value, aborts with eval_conflict_error. */
export interface AssignVarOnceStmt extends StmtBase { type: 'AssignVarOnceStmt'; source: Operand; target: Local }
export interface ResetLocalStmt extends StmtBase { type: 'ResetLocalStmt'; target: Local }
export interface MakeNullStmt extends StmtBase { type: 'MakeNullStmt'; target: Local }
export interface MakeNumberIntStmt extends StmtBase { type: 'MakeNumberIntStmt'; value: bigint; target: Local }
/** A number kept as its source text (floats, big integers): index into static.strings. */
export interface MakeNumberRefStmt extends StmtBase { type: 'MakeNumberRefStmt'; index: number; target: Local }
export interface MakeArrayStmt extends StmtBase { type: 'MakeArrayStmt'; capacity: number; target: Local }
export interface MakeObjectStmt extends StmtBase { type: 'MakeObjectStmt'; target: Local }
export interface MakeSetStmt extends StmtBase { type: 'MakeSetStmt'; target: Local }
export interface EqualStmt extends StmtBase { type: 'EqualStmt'; a: Operand; b: Operand }
export interface NotEqualStmt extends StmtBase { type: 'NotEqualStmt'; a: Operand; b: Operand }
export interface IsArrayStmt extends StmtBase { type: 'IsArrayStmt'; source: Operand }
export interface IsObjectStmt extends StmtBase { type: 'IsObjectStmt'; source: Operand }
export interface IsSetStmt extends StmtBase { type: 'IsSetStmt'; source: Operand }
export interface IsDefinedStmt extends StmtBase { type: 'IsDefinedStmt'; source: Local }
export interface IsUndefinedStmt extends StmtBase { type: 'IsUndefinedStmt'; source: Local }
export interface ArrayAppendStmt extends StmtBase { type: 'ArrayAppendStmt'; value: Operand; array: Local }
export interface ObjectInsertStmt extends StmtBase { type: 'ObjectInsertStmt'; key: Operand; value: Operand; object: Local }
/** Inserts; if the key exists with a different value, aborts with eval_conflict_error. */
export interface ObjectInsertOnceStmt extends StmtBase { type: 'ObjectInsertOnceStmt'; key: Operand; value: Operand; object: Local }
/** Recursive merge of two objects (a wins on scalar conflicts, as OPA's opa_value_merge). */
export interface ObjectMergeStmt extends StmtBase { type: 'ObjectMergeStmt'; a: Local; b: Local; target: Local }
export interface SetAddStmt extends StmtBase { type: 'SetAddStmt'; value: Operand; set: Local }
/** Upserts value at path (indexes into static.strings) inside local, runs block, restores local. */
export interface WithStmt extends StmtBase { type: 'WithStmt'; local: Local; path: number[]; value: Operand; block: Block }
export interface NopStmt extends StmtBase { type: 'NopStmt' }
export interface ResultSetAddStmt extends StmtBase { type: 'ResultSetAddStmt'; value: Local }

/** One IR statement. */
export type Stmt =
  | ReturnLocalStmt | CallStmt | CallDynamicStmt | BlockStmt | BreakStmt | DotStmt | LenStmt | ScanStmt
  | NotStmt | AssignIntStmt | AssignVarStmt | AssignVarOnceStmt | ResetLocalStmt | MakeNullStmt
  | MakeNumberIntStmt | MakeNumberRefStmt | MakeArrayStmt | MakeObjectStmt | MakeSetStmt | EqualStmt
  | NotEqualStmt | IsArrayStmt | IsObjectStmt | IsSetStmt | IsDefinedStmt | IsUndefinedStmt
  | ArrayAppendStmt | ObjectInsertStmt | ObjectInsertOnceStmt | ObjectMergeStmt | SetAddStmt | WithStmt
  | NopStmt | ResultSetAddStmt;

/** An ordered sequence of statements. */
export interface Block { stmts: Stmt[] }

/** A named query plan, exposed as a wasm entrypoint. */
export interface Plan { name: string; blocks: Block[] }

/** A planned function (rule or Rego function). params[0] = input, params[1] = data. */
export interface Func { name: string; params: Local[]; return: Local; blocks: Block[]; path?: string[] }

/** A built-in function the policy calls: its Rego name and arity. */
export interface BuiltinFunc { name: string; arity: number }

/** Constants the plans index into. */
export interface Static { strings: string[]; builtinFuncs: BuiltinFunc[]; files: string[] }

/** A whole planned policy: the emitter's only input. */
export interface Policy { static: Static; plans: Plan[]; funcs: Func[] }
