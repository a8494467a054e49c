// The shared view the checks work on: every rule with its full path (package + head ref), and
// OPA's name resolution (imports and same-package rule names → data refs; locals left alone).

import type { Body, Module, Rule, Term, Walker } from '../ast';
import { refToString, stringTerm, walkTerms } from '../ast';

/** One rule (its first clause; else clauses hang off it) with its module and full path. */
export interface RuleInfo {
  module: Module;
  rule: Rule;
  /** data.<package>.<head ref...>, e.g. data.x.q[k]. */
  path: Term[];
  /** The leading plain part of path as names, e.g. ["data","x","q"]. */
  ground: string[];
  /** path rendered as OPA prints refs, e.g. "data.x.q[k]". */
  name: string;
}

/** All rules of a module set plus per-module name resolution. */
export interface Program {
  modules: Module[];
  rules: RuleInfo[];
  /** Rules grouped by their ground path ("data.x.p"), in source order. */
  byGround: Map<string, RuleInfo[]>;
  /** Per module: global names (imports, package rule names) → the ref they stand for. */
  globals: Map<Module, Map<string, Term[]>>;
}

/** Builds the program view; pure and linear in the size of the modules. */
export function buildProgram(modules: Module[]): Program {
  const rules: RuleInfo[] = [];
  const byGround = new Map<string, RuleInfo[]>();
  const exportsByPkg = new Map<string, Set<string>>();
  for (const m of modules) {
    const pkgKey = refToString(m.package.path);
    let ex = exportsByPkg.get(pkgKey);
    if (!ex) exportsByPkg.set(pkgKey, (ex = new Set()));
    for (const r of m.rules) {
      const path = [...m.package.path, stringTerm(r.head.name, r.head.ref[0]?.loc), ...r.head.ref.slice(1)];
      const ground = groundNames(path);
      const info: RuleInfo = { module: m, rule: r, path, ground, name: refToString(path) };
      rules.push(info);
      const key = ground.join('.');
      const list = byGround.get(key);
      if (list) list.push(info);
      else byGround.set(key, [info]);
      ex.add(r.head.name);
    }
  }
  const globals = new Map<Module, Map<string, Term[]>>();
  for (const m of modules) {
    const g = new Map<string, Term[]>();
    for (const name of exportsByPkg.get(refToString(m.package.path)) ?? []) {
      g.set(name, [...m.package.path, stringTerm(name)]);
    }
    for (const imp of m.imports) {
      const v = imp.path.value;
      if (v.type !== 'ref') continue;
      const root = v.terms[0].value;
      if (root.type !== 'var' || (root.name !== 'data' && root.name !== 'input')) continue;
      g.set(importName(imp.path, imp.alias), v.terms);
    }
    globals.set(m, g);
  }
  return { modules, rules, byGround, globals };
}

/** The name an import binds: its alias, or the last element of its path (OPA's Import.Name). */
export function importName(path: Term, alias?: string): string {
  if (alias) return alias;
  const v = path.value;
  if (v.type !== 'ref') return '';
  const last = v.terms[v.terms.length - 1].value;
  return last.type === 'var' ? last.name : last.type === 'string' ? last.value : '';
}

/** The leading plain names of a ref (head var + string parts). */
export function groundNames(ref: Term[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const v = ref[i].value;
    if (i === 0 && v.type === 'var') out.push(v.name);
    else if (i > 0 && v.type === 'string') out.push(v.value);
    else break;
  }
  return out;
}

/**
 * Vars a rule declares locally (function args, `:=` targets, `some`, `every` and comprehension
 * bodies' declarations): OPA does not resolve these against globals.
 */
export function ruleLocals(r: Rule): Set<string> {
  const out = new Set<string>();
  for (let cur: Rule | undefined = r; cur; cur = cur.else) {
    for (const a of cur.head.args ?? []) collectVars(a, out);
    declaredIn(cur.body, out);
    const visit = (t: Term) => {
      const v = t.value;
      if (v.type === 'arraycomp' || v.type === 'setcomp' || v.type === 'objectcomp') declaredIn(v.body, out);
    };
    if (cur.head.value) walkTerms(cur.head.value, visit);
    if (cur.head.key) walkTerms(cur.head.key, visit);
  }
  return out;
}

function declaredIn(body: Body, out: Set<string>): void {
  for (const e of body) {
    if (e.kind === 'call' && e.operator.value.type === 'ref' && e.operator.value.terms.length === 1) {
      const op = e.operator.value.terms[0].value;
      if (op.type === 'var' && op.name === 'assign' && e.args[0]) collectVars(e.args[0], out);
    } else if (e.kind === 'some') {
      for (const s of e.decl.symbols) {
        if (s.value.type === 'var') out.add(s.value.name);
        else if (s.value.type === 'call') s.value.args.slice(0, -1).forEach((a) => collectVars(a, out));
      }
    } else if (e.kind === 'every') {
      if (e.every.key) collectVars(e.every.key, out);
      collectVars(e.every.value, out);
      declaredIn(e.every.body, out);
    }
    const visit = (t: Term) => {
      const v = t.value;
      if (v.type === 'arraycomp' || v.type === 'setcomp' || v.type === 'objectcomp') declaredIn(v.body, out);
    };
    if (e.kind === 'call') e.args.forEach((a) => walkTerms(a, visit));
    else if (e.kind === 'term') walkTerms(e.term, visit);
  }
}

/** Adds every var in a pattern term (arrays, object values, refs' vars) to out. */
export function collectVars(t: Term, out: Set<string>): void {
  walkTerms(t, (x) => {
    if (x.value.type === 'var') out.add(x.value.name);
  });
}

/**
 * Resolves a ref (or a bare var) the way OPA's compiler does: data/input stay, a global name
 * (import or same-package rule) is replaced by its full ref; locals and unknown names give undefined.
 */
export function resolveRef(p: Program, m: Module, terms: Term[], locals: Set<string>): Term[] | undefined {
  if (terms.length === 0) return undefined;
  const h = terms[0].value;
  if (h.type !== 'var') return undefined;
  if (h.name === 'data' || h.name === 'input') return terms;
  if (locals.has(h.name)) return undefined;
  const g = p.globals.get(m)?.get(h.name);
  if (!g) return undefined;
  return [...g, ...terms.slice(1)];
}

/**
 * True when a (resolved, data-rooted) ref may read the document a rule defines: every position
 * both have must agree where both are plain strings (a var on either side matches anything).
 */
export function refReaches(ref: Term[], rulePath: Term[]): boolean {
  const n = Math.min(ref.length, rulePath.length);
  for (let i = 0; i < n; i++) {
    const a = ref[i].value;
    const b = rulePath[i].value;
    if (i === 0) {
      if (a.type !== 'var' || b.type !== 'var' || a.name !== b.name) return false;
      continue;
    }
    if (isScalarValue(a) && isScalarValue(b)) {
      if (!scalarEq(a, b)) return false;
    }
  }
  return true;
}

type Scalar = Extract<Term['value'], { type: 'string' | 'number' | 'boolean' | 'null' }>;

function isScalarValue(v: Term['value']): v is Scalar {
  return v.type === 'string' || v.type === 'number' || v.type === 'boolean' || v.type === 'null';
}

function scalarEq(a: Scalar, b: Scalar): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'string':
      return a.value === (b as typeof a).value;
    case 'number':
      return Number(a.text) === Number((b as typeof a).text);
    case 'boolean':
      return a.value === (b as typeof a).value;
    default:
      return true;
  }
}

/** Walks every term a rule evaluates, else clauses included: its head ref after the name, key, value and body. */
export function walkRule(rule: Rule, walk: Walker): void {
  for (let r: Rule | undefined = rule; r; r = r.else) {
    for (let i = 1; i < r.head.ref.length; i++) walk.term(r.head.ref[i]);
    if (r.head.key) walk.term(r.head.key);
    if (r.head.value) walk.term(r.head.value);
    walk.body(r.body);
  }
}
