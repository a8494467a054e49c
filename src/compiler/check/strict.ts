// OPA's strict mode (`opa check --strict`) for what Rego v1 does not already reject: imports nothing uses
// ("import data.x unused") and vars assigned with := that nothing reads ("assigned var x unused").
import type { Expr, Module, Rule, Term } from '../ast';
import { refToPath } from '../ast';
import { diagnosticAt, sortDiagnostics, type Diagnostic } from '../diagnostics';
import { rewriteModules, VarGen } from '../rewrite/locals';

/** Everything strict mode reports for these modules. */
export function strictDiagnostics(modules: Module[]): Diagnostic[] {
  const gen = new VarGen();
  const rewritten = rewriteModules(modules, gen);
  return sortDiagnostics([...unusedImports(modules), ...rewritten.flatMap((m) => unusedAssignments(m.rules, (n) => gen.display(n)))]);
}

/** Calls fn on every object in a parsed or rewritten tree (terms, exprs, bodies, heads). */
function eachNode(x: unknown, fn: (node: Record<string, unknown>) => void): void {
  if (Array.isArray(x)) {
    for (const y of x) eachNode(y, fn);
  } else if (x !== null && typeof x === 'object') {
    fn(x as Record<string, unknown>);
    for (const [k, y] of Object.entries(x)) if (k !== 'loc') eachNode(y, fn);
  }
}

/** How often each var name occurs anywhere in the tree. */
function varCounts(x: unknown): Map<string, number> {
  const counts = new Map<string, number>();
  eachNode(x, (n) => {
    if (n.type === 'var' && typeof n.name === 'string') counts.set(n.name, (counts.get(n.name) ?? 0) + 1);
  });
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

/** The `:=` expressions in a tree, bodies nested in comprehensions and `every` included. */
function assignments(tree: unknown, out: Expr[] = []): Expr[] {
  eachNode(tree, (n) => {
    if (n.kind === 'call' && refToPath(n.operator as Term)?.join('.') === 'assign') out.push(n as unknown as Expr);
  });
  return out;
}

/**
 * Vars assigned with := in rules whose locals are already renamed apart (rewrite/locals.ts), that occur
 * nowhere but in their own assignment. `display` maps a generated name back to the source's.
 */
export function unusedAssignments(rules: Rule[], display: (name: string) => string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rule of rules) {
    for (let r: Rule | undefined = rule; r; r = r.else) {
      const counts = varCounts([r.head, r.body]);
      for (const e of assignments([r.head, r.body])) {
        if (e.kind !== 'call') continue;
        for (const [name] of varCounts(e.args[0])) {
          if (name.startsWith('$') || counts.get(name) !== 1) continue;
          out.push(diagnosticAt('rego_compile_error', e.loc, `assigned var ${display(name)} unused`));
        }
      }
    }
  }
  return out;
}
