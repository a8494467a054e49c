// Declaration checks that OPA reports as rego_compile_error: duplicate imports, shadowing of the
// root documents (input, data), and local-variable redeclaration (`var x assigned above`,
// `var x referenced above`, `var x declared above`, `arg x redeclared`).

import type { Body, Expr, Module, Rule, Term } from '../ast';
import { refToString, termToString } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';
import { importName } from './program';

type Occurrence = 'seen' | 'assigned' | 'declared' | 'arg';

/** Reports compile errors about imports and variable declarations in the given modules. */
export function checkDeclarations(modules: Module[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const m of modules) {
    const seen = new Map<string, Module['imports'][number]>();
    for (const imp of m.imports) {
      const name = importName(imp.path, imp.alias);
      const prev = seen.get(name);
      if (prev) {
        const prevText = `import ${termToString(prev.path)}${prev.alias ? ' as ' + prev.alias : ''}`;
        out.push(diagnosticAt('rego_compile_error', imp.loc, `import must not shadow ${prevText}`));
      } else {
        seen.set(name, imp);
      }
    }
    for (const r of m.rules) {
      if (r.head.name === 'input' || r.head.name === 'data') {
        out.push(diagnosticAt('rego_compile_error', r.loc, `rules must not shadow ${r.head.name} (use a different rule name)`));
      }
      for (let cur: Rule | undefined = r; cur; cur = cur.else) checkRuleVars(cur, out);
    }
  }
  return out;
}

/** Checks one rule clause's body the way OPA's rewriteLocalVars does. */
export function checkRuleVars(r: Rule, out: Diagnostic[]): void {
  const top = new Map<string, Occurrence>();
  for (const a of r.head.args ?? []) {
    if (a.value.type === 'ref' && a.value.terms.length === 1) {
      out.push(diagnosticAt('rego_compile_error', a.loc, `args must not shadow ${refToString(a.value.terms)} (use a different variable name)`));
    }
    eachVar(a, (v) => {
      if (!isWildcard(v.name)) top.set(v.name, 'arg');
    });
  }
  new Scopes(out).body(r.body, top);
}

class Scopes {
  private stack: Map<string, Occurrence>[] = [];
  constructor(private readonly out: Diagnostic[]) {}

  body(b: Body, scope = new Map<string, Occurrence>()): void {
    this.stack.push(scope);
    for (const e of b) this.expr(e);
    this.stack.pop();
  }

  private get inner(): Map<string, Occurrence> {
    return this.stack[this.stack.length - 1];
  }

  private declaredAnywhere(name: string): boolean {
    for (const s of this.stack) {
      const o = s.get(name);
      if (o && o !== 'seen') return true;
    }
    return false;
  }

  private see(t: Term): void {
    const v = t.value;
    switch (v.type) {
      case 'var':
        if (!isWildcard(v.name) && !this.declaredAnywhere(v.name) && !this.inner.has(v.name)) this.inner.set(v.name, 'seen');
        return;
      case 'ref':
        v.terms.forEach((x) => this.see(x));
        return;
      case 'call':
        v.args.forEach((x) => this.see(x));
        return;
      case 'array':
      case 'set':
        v.items.forEach((x) => this.see(x));
        return;
      case 'object':
        v.items.forEach(([k, x]) => {
          this.see(k);
          this.see(x);
        });
        return;
      case 'arraycomp':
      case 'setcomp':
        this.stack.push(new Map());
        v.body.forEach((e) => this.expr(e));
        this.see(v.term);
        this.stack.pop();
        return;
      case 'objectcomp':
        this.stack.push(new Map());
        v.body.forEach((e) => this.expr(e));
        this.see(v.key);
        this.see(v.value);
        this.stack.pop();
        return;
      default:
        return;
    }
  }

  private declare(t: Term, occ: Occurrence): void {
    eachVar(t, (v, at) => {
      if (isWildcard(v.name)) return;
      const prev = this.inner.get(v.name);
      if (prev) {
        const msg =
          prev === 'seen' ? `var ${v.name} referenced above`
          : prev === 'assigned' ? `var ${v.name} assigned above`
          : prev === 'declared' ? `var ${v.name} declared above`
          : `arg ${v.name} redeclared`;
        this.out.push(diagnosticAt('rego_compile_error', at.loc, msg));
        return;
      }
      this.inner.set(v.name, occ);
    });
  }

  private expr(e: Expr): void {
    switch (e.kind) {
      case 'call': {
        const op = e.operator.value;
        const isAssign = op.type === 'ref' && op.terms.length === 1 && op.terms[0].value.type === 'var' && op.terms[0].value.name === 'assign';
        if (isAssign && e.args.length === 2) {
          if (e.negated) {
            this.out.push(diagnosticAt('rego_compile_error', e.loc, 'cannot assign vars inside negated expression'));
            return;
          }
          this.see(e.args[1]);
          for (const w of e.with) this.see(w.value);
          const lhs = e.args[0];
          if (lhs.value.type === 'ref' && lhs.value.terms.length === 1 && lhs.value.terms[0].value.type === 'var') {
            const name = lhs.value.terms[0].value.name;
            if (name === 'input' || name === 'data') {
              this.out.push(diagnosticAt('rego_compile_error', e.loc, `variables must not shadow ${name} (use a different variable name)`));
              return;
            }
          }
          this.declare(lhs, 'assigned');
          return;
        }
        e.args.forEach((a) => this.see(a));
        break;
      }
      case 'term':
        this.see(e.term);
        break;
      case 'some':
        for (const s of e.decl.symbols) {
          if (s.value.type === 'call') {
            const args = s.value.args;
            this.see(args[args.length - 1]);
            args.slice(0, -1).forEach((a) => this.declare(a, 'declared'));
          } else {
            this.declare(s, 'declared');
          }
        }
        break;
      case 'every': {
        this.see(e.every.domain);
        const scope = new Map<string, Occurrence>();
        if (e.every.key) eachVar(e.every.key, (v) => scope.set(v.name, 'declared'));
        eachVar(e.every.value, (v) => scope.set(v.name, 'declared'));
        this.body(e.every.body, scope);
        break;
      }
    }
    for (const w of e.with) this.see(w.value);
  }
}

// Calls f for each var a pattern binds (array items, object values, nested), not ref internals.
function eachVar(t: Term, f: (v: { name: string }, at: Term) => void): void {
  const v = t.value;
  switch (v.type) {
    case 'var':
      f(v, t);
      return;
    case 'array':
      v.items.forEach((x) => eachVar(x, f));
      return;
    case 'object':
      v.items.forEach(([, x]) => eachVar(x, f));
      return;
    default:
      return;
  }
}

// `_` (as parsed) and `$N` (as OPA names them) are wildcards: never declared, never redeclared.
function isWildcard(name: string): boolean {
  return name === '_' || name.startsWith('$');
}
