// The compiler driver: Rego files (+ entrypoints, ad-hoc queries) → one wasm module, running
// parse → check → plan → emit and collecting the diagnostics of every stage that ran.
import type { Body, Module } from './ast';
import { diagnosticAt, sortDiagnostics, type Diagnostic } from './diagnostics';
import type { Policy } from './ir/ir';
import { parseModule, parseQuery } from './parser';
import { checkModules, checkQuery } from './check';
import { strictDiagnostics } from './check/strict';
import { planPolicy } from './plan';
import { emitWasm, type EmitOptions } from './wasm';
import { builtinArity } from './builtins/catalog';
import { HOST_ALIASES } from './builtins/host-decls';
import type { Block, Stmt } from './ir/ir';

export type { Diagnostic } from './diagnostics';
export { formatDiagnostic, formatDiagnostics } from './diagnostics';

/** A named ad-hoc query: Rego text, or an already parsed body (e.g. with an added `with`). */
export interface QuerySource {
  name: string;
  text?: string;
  body?: Body;
}

export interface CompileInput {
  files: Array<{ name: string; text: string }>;
  /** OPA-style slash paths ("app/rbac/allow"), each exported as a wasm entrypoint of that name. */
  entrypoints: string[];
  /** Queries exported as entrypoints returning variable bindings (as `opa eval`). */
  queries?: QuerySource[];
  /**
   * OPA's strict built-in errors for natively implemented built-ins (div by zero, operand types):
   * forwarded to the wasm back end as `strictBuiltinErrors` (host built-ins get it from the engine).
   */
  strictBuiltinErrors?: boolean;
  /**
   * Compile `print(...)` calls into calls of the host built-in `internal.print` (as OPA with print
   * statements enabled); otherwise they are dropped, so decisions pay nothing for them.
   */
  printStatements?: boolean;
  /** OPA's strict mode: unused imports and unused `:=` vars are compile errors (check/strict.ts). */
  strict?: boolean;
}

/** The stage that stopped compilation (absent when ok). */
export type CompileStage = 'parse' | 'check' | 'plan' | 'emit';

export interface CompileResult {
  ok: boolean;
  wasm?: Uint8Array;
  diagnostics: Diagnostic[];
  /** Entrypoint names the module exports (entrypoints, then query names). */
  entrypoints: string[];
  stage?: CompileStage;
  /** Parsed modules (for callers that inspect rules, e.g. `tether test`). */
  modules?: Module[];
  policy?: Policy;
}

const NOWHERE = { file: '', row: 0, col: 0, offset: 0, text: '' };

/** Parses every file and query, collecting all parse diagnostics. */
export function parseAll(input: CompileInput): { modules: Module[]; queries: Array<{ name: string; body: Body }>; diagnostics: Diagnostic[] } {
  const modules: Module[] = [];
  const queries: Array<{ name: string; body: Body }> = [];
  const diagnostics: Diagnostic[] = [];
  for (const f of input.files) {
    const r = parseModule(f);
    diagnostics.push(...r.diagnostics);
    if (r.module) modules.push(r.module);
  }
  for (const q of input.queries ?? []) {
    if (q.body) {
      queries.push({ name: q.name, body: q.body });
      continue;
    }
    const r = parseQuery(q.text ?? '', q.name);
    diagnostics.push(...r.diagnostics);
    if (r.body) queries.push({ name: q.name, body: r.body });
  }
  return { modules, queries, diagnostics };
}

/** Runs one stage; an exception inside the compiler becomes a diagnostic of that stage, never a throw. */
function guarded<T>(stage: CompileStage, fn: () => T): T | Diagnostic {
  try {
    return fn();
  } catch (e) {
    const where = e instanceof Error && e.stack ? ` (${e.stack.split('\n')[1]?.trim() ?? ''})` : '';
    return diagnosticAt('rego_compile_error', NOWHERE, `internal error in ${stage} stage: ${e instanceof Error ? e.message : String(e)}${where}`);
  }
}

const isDiagnostic = (x: unknown): x is Diagnostic => typeof x === 'object' && x !== null && 'code' in x && 'message' in x && 'row' in x;

/** Compiles Rego sources to a wasm module. Never throws for a bad policy: see diagnostics. */
export async function compile(input: CompileInput): Promise<CompileResult> {
  const entrypoints = [...input.entrypoints, ...(input.queries ?? []).map((q) => q.name)];
  const fail = (stage: CompileStage, diagnostics: Diagnostic[], modules?: Module[]): CompileResult => ({ ok: false, diagnostics, entrypoints, stage, modules });

  const parsed = guarded('parse', () => parseAll(input));
  if (isDiagnostic(parsed)) return fail('parse', [parsed]);
  if (parsed.diagnostics.length) return fail('parse', sortDiagnostics(parsed.diagnostics), parsed.modules);

  const checked = guarded('check', () => [
    ...checkModules(parsed.modules, builtinArity),
    ...parsed.queries.flatMap((q) => checkQuery(q.body, parsed.modules, builtinArity)),
    ...(input.strict ? strictDiagnostics(parsed.modules) : []),
  ]);
  if (isDiagnostic(checked)) return fail('check', [checked], parsed.modules);
  if (checked.length) return fail('check', sortDiagnostics(checked), parsed.modules);

  const planned = guarded('plan', () => planPolicy(parsed.modules, { entrypoints: input.entrypoints, queries: parsed.queries, builtins: builtinArity, print: input.printStatements }));
  if (isDiagnostic(planned)) return fail('plan', [planned], parsed.modules);
  if (!planned.policy || planned.diagnostics.length) return fail('plan', planned.diagnostics, parsed.modules);
  aliasHostBuiltins(planned.policy);

  let wasm: Uint8Array;
  try {
    const emitOpts: EmitOptions & { strictBuiltinErrors?: boolean } = {};
    if (input.strictBuiltinErrors) emitOpts.strictBuiltinErrors = true;
    wasm = await emitWasm(planned.policy, emitOpts);
  } catch (e) {
    const d = diagnosticAt('rego_compile_error', NOWHERE, `wasm back end: ${(e as Error).message ?? String(e)}`);
    return { ...fail('emit', [d], parsed.modules), policy: planned.policy };
  }
  return { ok: true, wasm, diagnostics: [], entrypoints, modules: parsed.modules, policy: planned.policy };
}

/** Renames calls to host built-ins the SDK would otherwise shadow (see HOST_ALIASES). */
export function aliasHostBuiltins(policy: Policy): void {
  const used = new Set(policy.static.builtinFuncs.map((b) => b.name));
  const renames = Object.entries(HOST_ALIASES).filter(([name]) => used.has(name));
  if (!renames.length) return;
  const map = new Map(renames);
  policy.static.builtinFuncs = policy.static.builtinFuncs.map((b) => (map.has(b.name) ? { ...b, name: map.get(b.name)! } : b));
  const visitBlock = (b: Block): void => b.stmts.forEach(visit);
  const visit = (s: Stmt): void => {
    switch (s.type) {
      case 'CallStmt':
        if (map.has(s.func)) s.func = map.get(s.func)!;
        break;
      case 'BlockStmt':
        s.blocks.forEach(visitBlock);
        break;
      case 'ScanStmt':
      case 'NotStmt':
      case 'WithStmt':
        visitBlock(s.block);
        break;
      default:
        break;
    }
  };
  for (const p of policy.plans) p.blocks.forEach(visitBlock);
  for (const f of policy.funcs) f.blocks.forEach(visitBlock);
}
