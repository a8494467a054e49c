// Rewrites rule and query bodies before safety checks and planning, as OPA's compiler stages
// ResolveRefs + RewriteLocalVars do: package rule names and import aliases become data refs,
// declared vars (`:=`, `some`, `every`) get unique generated names per scope, each `_` becomes its own
// var, `some x in xs` becomes `x = xs[k]`, and plain `some x` declarations are dropped.

import type { Body, Expr, Import, Module, Rule, Term, Value } from '../ast';
import { MEMBER_2, MEMBER_3, packagePath, refToPath, stringTerm, varTerm } from '../ast';
import { diagnosticAt, type Diagnostic } from '../diagnostics';

/** Generates unique var names for the whole compilation and remembers what they stood for. */
export class VarGen {
  private n = 0;
  /** generated name → the name written in the source */
  readonly original = new Map<string, string>();
  /** problems found while rewriting (e.g. a var declared twice in one scope) */
  readonly diagnostics: Diagnostic[] = [];

  local(orig: string): string {
    const name = `__local${this.n++}__`;
    this.original.set(name, orig);
    return name;
  }

  wildcard(): string {
    const name = `$${this.n++}`;
    this.original.set(name, '_');
    return name;
  }

  /** The name shown to users (diagnostics, query result keys). */
  display(name: string): string {
    return this.original.get(name) ?? name;
  }
}

/** True for names never reported as query outputs: wildcards and generated locals. */
export function isHiddenVar(name: string): boolean {
  return name.startsWith('_') || name.startsWith('$');
}

/** Global names of a package: rule names and import aliases, each mapped to the ref it stands for. */
export type Globals = Map<string, Term[]>;

/** Builds the globals visible in each package (keyed by dotted package path). */
export function buildGlobals(modules: Module[]): Map<Module, Globals> {
  const rulesByPkg = new Map<string, Set<string>>();
  for (const m of modules) {
    const key = packagePath(m).join('.');
    let s = rulesByPkg.get(key);
    if (!s) rulesByPkg.set(key, (s = new Set()));
    for (const r of m.rules) s.add(r.head.name);
  }
  const out = new Map<Module, Globals>();
  for (const m of modules) {
    const g: Globals = new Map();
    const pkg = m.package.path;
    for (const name of rulesByPkg.get(packagePath(m).join('.')) ?? []) {
      g.set(name, [...pkg, stringTerm(name)]);
    }
    for (const imp of m.imports) addImport(g, imp);
    out.set(m, g);
  }
  return out;
}

function addImport(g: Globals, imp: Import): void {
  const path = refToPath(imp.path);
  if (!path || (path[0] !== 'data' && path[0] !== 'input')) return; // rego.v1, future.keywords.*
  const terms = imp.path.value.type === 'ref' ? imp.path.value.terms : [imp.path];
  const alias = imp.alias ?? path[path.length - 1];
  if (path.length === 1) return; // `import input` / `import data` name the roots themselves
  g.set(alias, terms);
}

interface Scope {
  /** name → [generated name, index of the declaring expression] */
  declared: Map<string, [string, number]>;
  parent?: Scope;
  /** index of the expression being rewritten in this scope */
  at: number;
}

class Rewriter {
  constructor(
    readonly gen: VarGen,
    readonly globals: Globals,
    readonly args: Set<string>,
  ) {}

  /**
   * In its own scope a declared name means the declared var everywhere (so `x > 1; x := 2` can be
   * reordered); closures see an enclosing declaration only if it was written before them, as in OPA.
   */
  lookupLocal(name: string, scope: Scope | undefined): string | undefined {
    for (let s = scope; s; s = s.parent) {
      const v = s.declared.get(name);
      if (v !== undefined && (s === scope || v[1] < s.at)) return v[0];
    }
    return undefined;
  }

  /** A var that names a global (rule/import) rather than a local. */
  globalRef(name: string, scope: Scope | undefined): Term[] | undefined {
    if (name === 'input' || name === 'data') return undefined;
    if (this.lookupLocal(name, scope) !== undefined || this.args.has(name)) return undefined;
    return this.globals.get(name);
  }

  term(t: Term, scope: Scope | undefined): Term {
    const v = t.value;
    switch (v.type) {
      case 'var': {
        if (v.name === '_') return varTerm(this.gen.wildcard(), t.loc);
        const local = this.lookupLocal(v.name, scope);
        if (local !== undefined) return varTerm(local, t.loc);
        const g = this.globalRef(v.name, scope);
        if (g) return { value: { type: 'ref', terms: g.map((x) => ({ value: x.value, loc: t.loc })) }, loc: t.loc };
        return t;
      }
      case 'ref':
        return { value: { type: 'ref', terms: this.refTerms(v.terms, scope) }, loc: t.loc };
      case 'array':
        return { value: { type: 'array', items: v.items.map((x) => this.term(x, scope)) }, loc: t.loc };
      case 'set':
        return { value: { type: 'set', items: v.items.map((x) => this.term(x, scope)) }, loc: t.loc };
      case 'object':
        return {
          value: { type: 'object', items: v.items.map(([k, x]) => [this.term(k, scope), this.term(x, scope)] as [Term, Term]) },
          loc: t.loc,
        };
      case 'call':
        return {
          value: { type: 'call', operator: this.operator(v.operator, scope), args: v.args.map((x) => this.term(x, scope)) },
          loc: t.loc,
        };
      case 'arraycomp':
      case 'setcomp': {
        const [body, inner] = this.body(v.body, scope);
        const value: Value = { type: v.type, term: this.term(v.term, inner), body };
        return { value, loc: t.loc };
      }
      case 'objectcomp': {
        const [body, inner] = this.body(v.body, scope);
        return { value: { type: 'objectcomp', key: this.term(v.key, inner), value: this.term(v.value, inner), body }, loc: t.loc };
      }
      default:
        return t;
    }
  }

  refTerms(terms: Term[], scope: Scope | undefined): Term[] {
    const head = terms[0];
    const rest = terms.slice(1).map((x) => this.term(x, scope));
    if (head.value.type === 'var') {
      const name = head.value.name;
      const local = this.lookupLocal(name, scope);
      if (local !== undefined) return [varTerm(local, head.loc), ...rest];
      const g = this.globalRef(name, scope);
      if (g) return [...g.map((x) => ({ value: x.value, loc: head.loc })), ...rest];
      if (name === '_') return [varTerm(this.gen.wildcard(), head.loc), ...rest];
      return [head, ...rest];
    }
    return [this.term(head, scope), ...rest];
  }

  /** Operators are resolved like refs, but a builtin name (count, object.get) stays as written. */
  operator(op: Term, scope: Scope | undefined): Term {
    if (op.value.type === 'ref') return { value: { type: 'ref', terms: this.refTerms(op.value.terms, scope) }, loc: op.loc };
    if (op.value.type === 'var') {
      const g = this.globalRef(op.value.name, scope);
      if (g) return { value: { type: 'ref', terms: g.map((x) => ({ value: x.value, loc: op.loc })) }, loc: op.loc };
    }
    return op;
  }

  /** Rewrites a body in a new scope; returns it and the scope (for head terms / comprehension terms). */
  body(body: Body, parent: Scope | undefined, predeclared: string[] = []): [Body, Scope] {
    const scope: Scope = { declared: new Map(), parent, at: 0 };
    for (const name of predeclared) if (name !== '_') scope.declared.set(name, [this.gen.local(name), -1]);
    body.forEach((e, i) => {
      for (const name of declaredBy(e)) {
        if (name === '_') continue;
        const prev = scope.declared.get(name);
        if (!prev) scope.declared.set(name, [this.gen.local(name), i]);
        else if (isAssign(e)) this.gen.diagnostics.push(diagnosticAt('rego_compile_error', e.loc, `var ${name} assigned above`));
      }
    });
    const out: Body = [];
    body.forEach((e, i) => {
      scope.at = i;
      const r = this.expr(e, scope);
      if (r) out.push(r);
    });
    scope.at = body.length; // head terms and comprehension terms see every declaration
    return [out, scope];
  }

  expr(e: Expr, scope: Scope): Expr | undefined {
    const withs = e.with.map((w) => ({ target: this.operator(w.target, scope), value: this.term(w.value, scope), loc: w.loc }));
    const base = { negated: e.negated, with: withs, loc: e.loc };
    switch (e.kind) {
      case 'term':
        return { ...base, kind: 'term', term: this.term(e.term, scope) };
      case 'call':
        return { ...base, kind: 'call', operator: this.operator(e.operator, scope), args: e.args.map((a) => this.term(a, scope)) };
      case 'some': {
        const sym = e.decl.symbols;
        if (sym.length === 1 && sym[0].value.type === 'call') {
          const call = sym[0].value;
          const name = refToPath(call.operator)?.join('.');
          const args = call.args.map((a) => this.term(a, scope));
          let key: Term;
          let val: Term;
          let coll: Term;
          if (name === MEMBER_3 && args.length === 3) [key, val, coll] = args;
          else if (name === MEMBER_2 && args.length === 2) {
            key = varTerm(this.gen.wildcard(), e.loc);
            [val, coll] = args;
          } else return undefined;
          const refTerms = coll.value.type === 'ref' ? [...coll.value.terms, key] : [coll, key];
          const rhs: Term = { value: { type: 'ref', terms: refTerms }, loc: coll.loc };
          const eq: Term = { value: { type: 'ref', terms: [varTerm('eq', e.loc)] }, loc: e.loc };
          return { ...base, kind: 'call', operator: eq, args: [val, rhs] };
        }
        return undefined; // `some x, y` only declares
      }
      case 'every': {
        const ev = e.every;
        const domain = this.term(ev.domain, scope);
        const names = [...(ev.key ? termVars(ev.key) : []), ...termVars(ev.value)];
        const [body, inner] = this.body(ev.body, scope, names);
        return {
          ...base,
          kind: 'every',
          every: {
            key: ev.key ? this.term(ev.key, inner) : undefined,
            value: this.term(ev.value, inner),
            domain,
            body,
            loc: ev.loc,
          },
        };
      }
    }
  }
}

function isAssign(e: Expr): boolean {
  return e.kind === 'call' && refToPath(e.operator)?.join('.') === 'assign';
}

/** Names a body expression declares in its own scope (`x := ...`, `some x`, `some x in xs`). */
function declaredBy(e: Expr): string[] {
  if (e.kind === 'call') {
    const op = refToPath(e.operator)?.join('.');
    if (op === 'assign' && e.args.length === 2) return termVars(e.args[0]);
    return [];
  }
  if (e.kind === 'some') {
    const out: string[] = [];
    for (const s of e.decl.symbols) {
      if (s.value.type === 'var') out.push(s.value.name);
      else if (s.value.type === 'call') {
        const args = s.value.args;
        for (const a of args.slice(0, args.length - 1)) out.push(...termVars(a));
      }
    }
    return out;
  }
  return [];
}

/** Vars of a pattern term (var, array, object values); refs and calls contribute none. */
export function termVars(t: Term): string[] {
  const v = t.value;
  switch (v.type) {
    case 'var':
      return [v.name];
    case 'array':
    case 'set':
      return v.items.flatMap(termVars);
    case 'object':
      return v.items.flatMap(([, x]) => termVars(x));
    default:
      return [];
  }
}

/** Vars appearing anywhere in head args (function parameters). */
function argNames(args: Term[] | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (t: Term): void => {
    const v = t.value;
    if (v.type === 'var') out.add(v.name);
    else if (v.type === 'array' || v.type === 'set') v.items.forEach(walk);
    else if (v.type === 'object') v.items.forEach(([k, x]) => (walk(k), walk(x)));
  };
  (args ?? []).forEach(walk);
  return out;
}

/** Rewrites one rule (and its else chain). */
export function rewriteRule(rule: Rule, globals: Globals, gen: VarGen): Rule {
  const args = argNames(rule.head.args);
  const rw = new Rewriter(gen, globals, args);
  const one = (r: Rule): Rule => {
    const [body, scope] = rw.body(r.body, undefined);
    const h = r.head;
    const head = {
      ...h,
      ref: [h.ref[0], ...h.ref.slice(1).map((t) => rw.term(t, scope))],
      args: h.args?.map((t) => rewriteArg(t, gen)),
      key: h.key ? rw.term(h.key, scope) : undefined,
      value: h.value ? rw.term(h.value, scope) : undefined,
    };
    return { ...r, head, body, else: r.else ? one(r.else) : undefined };
  };
  return one(rule);
}

/** Function args keep their names (so the body sees them) except wildcards, which get their own. */
function rewriteArg(t: Term, gen: VarGen): Term {
  const v = t.value;
  switch (v.type) {
    case 'var':
      return v.name === '_' ? varTerm(gen.wildcard(), t.loc) : t;
    case 'array':
      return { value: { type: 'array', items: v.items.map((x) => rewriteArg(x, gen)) }, loc: t.loc };
    case 'object':
      return { value: { type: 'object', items: v.items.map(([k, x]) => [k, rewriteArg(x, gen)] as [Term, Term]) }, loc: t.loc };
    default:
      return t;
  }
}

/** Rewrites every module's rules; modules keep their identity fields. */
export function rewriteModules(modules: Module[], gen: VarGen): Module[] {
  const globals = buildGlobals(modules);
  return modules.map((m) => ({ ...m, rules: m.rules.map((r) => rewriteRule(r, globals.get(m) ?? new Map(), gen)) }));
}

/** Rewrites a query body (no package globals: refs must start at data or input). */
export function rewriteQuery(body: Body, gen: VarGen, globals: Globals = new Map()): Body {
  const rw = new Rewriter(gen, globals, new Set());
  return rw.body(body, undefined)[0];
}
