// The planner's working state: the policy being built (strings, files, funcs, plans), the block
// statements are appended to, the var scopes, the next free local, the rule trie and the cache of
// planned rule functions. Planning is continuation-passing as in OPA: each step plans its
// statements, then calls `iter` to plan everything after it inside the same (possibly nested) block.

import type { Location as AstLocation, Term } from '../ast';
import type { Diagnostic, DiagnosticCode } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';
import type { Block, Func, Local, Operand, Plan, Stmt } from '../ir/ir';
import { DATA, FIRST_FREE_LOCAL, INPUT } from '../ir/ir';
import type { VarGen } from '../rewrite/locals';
import { VarStack } from './scope';
import type { RuleTrie } from './rule-trie';

/** A planning step's continuation. */
export type Iter = () => void;

/** Thrown to stop planning with a diagnostic. */
export class PlanError extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}

/** A `with` replacement for a function or built-in, visible while planning the modified expression. */
export type MockFrame = Map<string, Term>;

export class Planner {
  readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();
  readonly files: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  readonly funcs: Func[] = [];
  readonly plans: Plan[] = [];
  readonly builtinsUsed = new Map<string, number>();

  /** Cache frames path → planned func name; `with` on data/functions pushes a fresh frame. */
  private funcFrames: Array<{ gen: number; funcs: Map<string, string> }> = [{ gen: 0, funcs: new Map() }];
  private funcGen = 0;
  /** Paths whose rules are being planned right now (recursion guard). */
  readonly inProgress = new Set<string>();
  /** Plan print(...) as a host call (PlanOptions.print); false drops it. */
  print = false;
  /** Function/built-in replacements from enclosing `with` modifiers. */
  mocks: MockFrame[] = [];

  curr: Block = { stmts: [] };
  vars: VarStack = new VarStack(new Map([['input', INPUT], ['data', DATA]]));
  ltarget: Operand = { type: 'bool', value: false };
  lnext: Local = FIRST_FREE_LOCAL;
  loc: AstLocation | undefined;

  constructor(
    readonly trie: RuleTrie,
    readonly builtinArity: (name: string) => number | undefined,
    readonly gen: VarGen,
  ) {}

  fail(code: DiagnosticCode, message: string, loc?: AstLocation): never {
    const l = loc ?? this.loc ?? { file: '', row: 0, col: 0, offset: 0, text: '' };
    throw new PlanError(diagnosticAt(code, l, message));
  }

  newLocal(): Local {
    return this.lnext++;
  }

  stringConst(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  str(s: string): Operand {
    return { type: 'string_index', value: this.stringConst(s) };
  }

  fileConst(s: string): number {
    let i = this.fileIndex.get(s);
    if (i === undefined) {
      i = this.files.length;
      this.files.push(s);
      this.fileIndex.set(s, i);
    }
    return i;
  }

  /** Appends a statement to the current block, stamped with the location being planned. */
  emit(s: Stmt): void {
    this.emitTo(this.curr, s);
  }

  emitTo(b: Block, s: Stmt): void {
    if (this.loc && this.loc.row > 0) {
      s.loc = { file: this.fileConst(this.loc.file || '<query>'), row: this.loc.row, col: this.loc.col };
    }
    b.stmts.push(s);
  }

  blockWith(...stmts: Stmt[]): Block {
    const b: Block = { stmts: [] };
    for (const s of stmts) this.emitTo(b, s);
    return b;
  }

  /** Plans into a fresh block and returns it, restoring the current block afterwards. */
  nested(fn: () => void): Block {
    const prev = this.curr;
    const b: Block = { stmts: [] };
    this.curr = b;
    try {
      fn();
    } finally {
      this.curr = prev;
    }
    return b;
  }

  inputOp(): Operand {
    return local(this.vars.get('input') ?? INPUT);
  }

  dataOp(): Operand {
    return local(this.vars.get('data') ?? DATA);
  }

  getFunc(path: string): string | undefined {
    return this.funcFrames[this.funcFrames.length - 1].funcs.get(path);
  }

  addFunc(path: string, name: string): void {
    this.funcFrames[this.funcFrames.length - 1].funcs.set(path, name);
  }

  /** A generation number for naming funcs, distinct for every cache frame. */
  funcGeneration(): number {
    return this.funcFrames[this.funcFrames.length - 1].gen;
  }

  pushFuncs(): void {
    this.funcFrames.push({ gen: ++this.funcGen, funcs: new Map() });
  }

  popFuncs(): void {
    this.funcFrames.pop();
  }

  /** The replacement a `with` installed for a function/built-in name, if any. */
  mockFor(name: string): Term | undefined {
    for (let i = this.mocks.length - 1; i >= 0; i--) {
      const t = this.mocks[i].get(name);
      if (t) return t;
    }
    return undefined;
  }
}

/** Operand for a local. */
export function local(l: Local): Operand {
  return { type: 'local', value: l };
}

/** The local behind an operand (constants are first copied into a fresh local). */
export function asLocal(p: Planner, o: Operand): Local {
  if (o.type === 'local') return o.value;
  const l = p.newLocal();
  p.emit({ type: 'AssignVarStmt', source: o, target: l });
  return l;
}
