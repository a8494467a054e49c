// Reports calls to functions that neither a rule nor a known built-in defines (OPA's
// CheckUndefinedFuncs), before safety: an unknown callee's output args cannot be judged.

import type { Body, Module, Term } from '../ast';
import { operatorName, walkBodyTerms, walkRuleTerms } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';

/** Names handled by the planner itself rather than a callee. */
const PLANNER_OPERATORS = new Set(['eq', 'assign', 'print', 'internal.print', 'trace']);

export function checkUndefinedFuncs(
  modules: Module[],
  queries: Body[],
  isFunction: (name: string) => boolean,
  builtinArity: (name: string) => number | undefined,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (op: Term): void => {
    const name = operatorName(op);
    if (!name || PLANNER_OPERATORS.has(name)) return;
    if (name.startsWith('data.') ? isFunction(name) : builtinArity(name) !== undefined) return;
    out.push(diagnosticAt('rego_type_error', op.loc, `undefined function ${name}`));
  };
  // Call expressions of one body (nested bodies are reached through the term walk below).
  const onExprs = (b: Body): void => {
    for (const e of b) {
      if (e.kind === 'call') check(e.operator);
      if (e.kind === 'every') onExprs(e.every.body);
      for (const w of e.with) {
        const name = operatorName(w.target);
        if (name && name !== 'input' && name !== 'data' && !name.startsWith('input.') && !name.startsWith('data.')) check(w.target);
      }
    }
  };
  const onTerm = (t: Term): void => {
    const v = t.value;
    if (v.type === 'call') check(v.operator);
    if (v.type === 'arraycomp' || v.type === 'setcomp' || v.type === 'objectcomp') onExprs(v.body);
  };
  const onBody = (b: Body): void => {
    onExprs(b);
    walkBodyTerms(b, onTerm);
  };
  for (const m of modules) {
    for (const r of m.rules) {
      walkRuleTerms(r, onTerm);
      for (let cur: typeof r | undefined = r; cur; cur = cur.else) onExprs(cur.body);
    }
  }
  queries.forEach(onBody);
  const seen = new Set<string>();
  return out.filter((d) => {
    const k = `${d.file}:${d.row}:${d.col}:${d.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
