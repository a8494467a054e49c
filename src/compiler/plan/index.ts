// planPolicy: parsed modules + entrypoints/queries → ir.Policy. Runs the rewrite (globals, locals),
// the safety check/reordering, then the planner; any diagnostic means no policy.

import type { Body, Module } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt, sortDiagnostics } from '../diagnostics';
import type { Policy } from '../ir/ir';
import { checkRuleSafety, reorderBodyForSafety, type SafetyOptions } from '../check/safety';
import { rewriteModules, rewriteQuery, VarGen } from '../rewrite/locals';
import { entrypointQuery, planQueryPlan } from './queries';
import { RuleTrie } from './rule-trie';
import { PlanError, Planner } from './state';
import { checkUndefinedFuncs } from './undefined-funcs';

export interface PlanOptions {
  /** Slash paths such as "app/rbac/allow" (meaning data.app.rbac.allow); each becomes a Plan of that name. */
  entrypoints: string[];
  /** Extra named queries (parsed bodies); each becomes a Plan adding {var: value} objects. */
  queries?: Array<{ name: string; body: Body }>;
  /** Arity of a built-in by Rego name; undefined = unknown built-in. */
  builtins: (name: string) => number | undefined;
  /** Plan print(...) as internal.print (see CompileInput.printStatements); default: drop it. */
  print?: boolean;
}

export interface PlanResult {
  policy?: Policy;
  diagnostics: Diagnostic[];
}

export function planPolicy(modules: Module[], opts: PlanOptions): PlanResult {
  const gen = new VarGen();
  const diagnostics: Diagnostic[] = [];
  const rewritten = rewriteModules(modules, gen);

  const shapeTrie = RuleTrie.build(rewritten);
  const safetyOpts: SafetyOptions = {
    arity: (name) => {
      if (name.startsWith('data.')) {
        const n = shapeTrie.lookup(name.split('.'));
        return n && n.hasRules() && n.arity() > 0 ? n.arity() : undefined;
      }
      return opts.builtins(name);
    },
    display: (n) => gen.display(n),
  };

  const isFunction = (name: string): boolean => {
    const n = shapeTrie.lookup(name.split('.'));
    return !!n && n.hasRules() && n.arity() > 0;
  };
  const rewrittenQueries = (opts.queries ?? []).map((q) => ({ name: q.name, body: rewriteQuery(q.body, gen) }));
  if (gen.diagnostics.length > 0) return { diagnostics: sortDiagnostics(gen.diagnostics) };
  const undefinedFuncs = checkUndefinedFuncs(rewritten, rewrittenQueries.map((q) => q.body), isFunction, opts.builtins);
  if (undefinedFuncs.length > 0) return { diagnostics: sortDiagnostics(undefinedFuncs) };

  const checked: Module[] = rewritten.map((m) => ({
    ...m,
    rules: m.rules.map((r) => {
      const res = checkRuleSafety(r, safetyOpts);
      diagnostics.push(...res.diagnostics);
      return res.rule;
    }),
  }));

  const queries = rewrittenQueries.map((q) => {
    const res = reorderBodyForSafety(q.body, [], safetyOpts);
    diagnostics.push(...res.diagnostics);
    return { name: q.name, body: res.body };
  });
  if (diagnostics.length > 0) return { diagnostics: sortDiagnostics(dedupe(diagnostics)) };

  const p = new Planner(RuleTrie.build(checked), opts.builtins, gen);
  p.print = opts.print ?? false;
  try {
    for (const ep of opts.entrypoints) p.plans.push(planQueryPlan(p, ep, entrypointQuery(ep)));
    for (const q of queries) p.plans.push(planQueryPlan(p, q.name, q.body));
  } catch (err) {
    if (err instanceof PlanError) return { diagnostics: [err.diagnostic] };
    // A planner bug must not take the caller down: report it like any other compile failure.
    const where = p.loc ?? { file: '', row: 0, col: 0, offset: 0, text: '' };
    return { diagnostics: [diagnosticAt('rego_compile_error', where, `planner: internal error: ${(err as Error).message}`)] };
  }
  const builtinFuncs = [...p.builtinsUsed.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, arity]) => ({ name, arity }));
  return {
    policy: { static: { strings: p.strings, builtinFuncs, files: p.files }, plans: p.plans, funcs: p.funcs },
    diagnostics: [],
  };
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.file}:${d.row}:${d.col}:${d.code}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
