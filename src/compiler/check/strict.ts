// OPA's strict mode (`opa check --strict`) for what Rego v1 does not already reject: imports nothing uses
// ("import data.x unused") and vars assigned with := that nothing reads ("assigned var x unused").
import type { CallExpr, Module, Rule } from '../ast';
import { operatorName, refToPath, walker, walkRule, walkRuleTerms, walkTerms } from '../ast';
import { diagnosticAt, sortDiagnostics, type Diagnostic } from '../diagnostics';
import { rewriteModules, VarGen } from '../rewrite/locals';

/** Everything strict mode reports for these modules. */
export function strictDiagnostics(modules: Module[]): Diagnostic[] {
  const gen = new VarGen();
  const rewritten = rewriteModules(modules, gen);
  return sortDiagnostics([...unusedImports(modules), ...rewritten.flatMap((m) => unusedAssignments(m.rules, (n) => gen.display(n)))]);
}

/** How often each var name occurs in these rules (heads, bodies, comprehensions, with and every included). */
function varCounts(rules: Rule[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rules) {
    walkRuleTerms(r, (t) => {
      if (t.value.type === 'var') counts.set(t.value.name, (counts.get(t.value.name) ?? 0) + 1);
    });
  }
  return counts;
}

/** Imports whose name no rule mentions (rego.v1 and future.keywords imports are never unused). */
export function unusedImports(modules: Module[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of modules) {
    const used = varCounts(m.rules);
    for (const imp of m.imports) {
      const path = refToPath(imp.path);
      if (!path || path[0] === 'future' || path[0] === 'rego') continue;
      const name = imp.alias ?? path[path.length - 1];
      if (!used.has(name)) out.push(diagnosticAt('rego_compile_error', imp.loc, `import ${path.join('.')} unused`));
    }
  }
  return out;
}

/**
 * Vars assigned with := in rules whose locals are already renamed apart (rewrite/locals.ts), that occur
 * nowhere but in their own assignment. `display` maps a generated name back to the source's.
 */
export function unusedAssignments(rules: Rule[], display: (name: string) => string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rule of rules) {
    const counts = varCounts([rule]);
    // Every := of the rule, bodies nested in comprehensions and `every` included.
    const assigns: CallExpr[] = [];
    walkRule(rule, walker({ expr: (e) => void (e.kind === 'call' && operatorName(e.operator) === 'assign' && assigns.push(e)) }));
    for (const e of assigns) {
      walkTerms(e.args[0], (t) => {
        if (t.value.type !== 'var' || t.value.name.startsWith('$') || counts.get(t.value.name) !== 1) return;
        out.push(diagnosticAt('rego_compile_error', e.loc, `assigned var ${display(t.value.name)} unused`));
      });
    }
  }
  return out;
}
