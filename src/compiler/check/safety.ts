// Variable safety (OPA's reorderBodyForSafety + checkSafetyRuleHeads): orders each body so every
// var is bound before it is read, and reports vars nothing can bind as rego_unsafe_var_error.
// Runs on bodies already rewritten by rewrite/locals.ts (declared vars have unique names).

import type { Body, Expr, Rule, Term } from '../ast';
import { refToPath } from '../ast';
import { diagnosticAt, type Diagnostic } from '../diagnostics';

/** What the check needs to know about calls and names. */
export interface SafetyOptions {
  /** Arity of a built-in or user function by dotted name (e.g. "count", "data.lib.f"). */
  arity(name: string): number | undefined;
  /** The name to show for a (possibly generated) var. */
  display?(name: string): string;
}

const ROOTS = ['input', 'data'];

/** Calls fn for each var in t, not entering closures (comprehensions); fnClosure gets each closure term. */
function visitVars(t: Term, fn: (name: string, t: Term) => void, fnClosure?: (t: Term) => void): void {
  const v = t.value;
  switch (v.type) {
    case 'var':
      fn(v.name, t);
      return;
    case 'ref':
      v.terms.forEach((x) => visitVars(x, fn, fnClosure));
      return;
    case 'array':
    case 'set':
      v.items.forEach((x) => visitVars(x, fn, fnClosure));
      return;
    case 'object':
      v.items.forEach(([k, x]) => (visitVars(k, fn, fnClosure), visitVars(x, fn, fnClosure)));
      return;
    case 'call':
      v.args.forEach((x) => visitVars(x, fn, fnClosure)); // the operator names a function, not a var
      return;
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp':
      fnClosure?.(t);
      return;
    default:
      return;
  }
}

/** Every var anywhere inside t, closures included. */
function allVarsDeep(t: Term, out: Set<string>): void {
  visitVars(
    t,
    (n) => out.add(n),
    (c) => {
      const v = c.value;
      if (v.type === 'arraycomp' || v.type === 'setcomp') allVarsDeep(v.term, out);
      if (v.type === 'objectcomp') (allVarsDeep(v.key, out), allVarsDeep(v.value, out));
      if (v.type === 'arraycomp' || v.type === 'setcomp' || v.type === 'objectcomp') bodyVarsDeep(v.body, out);
    },
  );
}

function bodyVarsDeep(b: Body, out: Set<string>): void {
  for (const e of b) {
    for (const t of exprTerms(e)) allVarsDeep(t, out);
    if (e.kind === 'every') {
      if (e.every.key) allVarsDeep(e.every.key, out);
      allVarsDeep(e.every.value, out);
      bodyVarsDeep(e.every.body, out);
    }
  }
}

/** The terms of an expression evaluated in its own scope (not the every body, not the operator). */
function exprTerms(e: Expr): Term[] {
  const ts: Term[] = [];
  if (e.kind === 'term') ts.push(e.term);
  else if (e.kind === 'call') ts.push(...e.args);
  else if (e.kind === 'some') ts.push(...e.decl.symbols);
  else if (e.kind === 'every') ts.push(e.every.domain);
  for (const w of e.with) if (!namesFunction(w.value)) ts.push(w.value);
  return ts;
}

/** A `with` value such as `count` or `object.get` names a replacement function, not vars. */
let functionNames: ((name: string) => boolean) | undefined;
function namesFunction(t: Term): boolean {
  if (t.value.type !== 'ref' && t.value.type !== 'var') return false;
  const terms = t.value.type === 'ref' ? t.value.terms : [t];
  const name = refToPath(terms)?.join('.');
  return !!name && !!functionNames?.(name);
}

/** Vars of an expression outside closures, with the first term each was seen at. */
function exprVars(e: Expr): Map<string, Term> {
  const out = new Map<string, Term>();
  for (const t of exprTerms(e)) visitVars(t, (n, at) => out.has(n) || out.set(n, at));
  return out;
}

/** Vars used inside the expression's closures (comprehensions, every body), with a location. */
function closureVars(e: Expr): Map<string, Term> {
  const out = new Map<string, Term>();
  const add = (c: Term): void => {
    const s = new Set<string>();
    allVarsDeep(c, s);
    for (const n of s) if (!out.has(n)) out.set(n, c);
  };
  for (const t of exprTerms(e)) visitVars(t, () => undefined, add);
  if (e.kind === 'every') {
    const s = new Set<string>();
    bodyVarsDeep(e.every.body, s);
    const locals = new Set<string>();
    if (e.every.key) allVarsDeep(e.every.key, locals);
    allVarsDeep(e.every.value, locals);
    for (const n of s) if (!locals.has(n) && !out.has(n)) out.set(n, e.every.domain);
  }
  return out;
}

/** Pattern vars a term binds when unified with a known value: vars, array items, object values. */
function patternVars(t: Term, out: Set<string>): void {
  const v = t.value;
  if (v.type === 'var') out.add(v.name);
  else if (v.type === 'array') v.items.forEach((x) => patternVars(x, out));
  else if (v.type === 'object') v.items.forEach(([, x]) => patternVars(x, out));
}

class BodyContext {
  constructor(
    readonly opts: SafetyOptions,
    /** vars closures may capture: outer safe vars plus vars used outside closures in this body */
    readonly visible: Set<string>,
  ) {}

  /** Vars an expression needs before it can run (closure captures included). */
  needs(e: Expr): Map<string, Term> {
    const out = exprVars(e);
    for (const [n, t] of closureVars(e)) if (this.visible.has(n) && !out.has(n)) out.set(n, t);
    return out;
  }

  termSafe(t: Term, safe: Set<string>): boolean {
    let ok = true;
    visitVars(
      t,
      (n) => {
        if (!safe.has(n)) ok = false;
      },
      (c) => {
        const s = new Set<string>();
        allVarsDeep(c, s);
        for (const n of s) if (this.visible.has(n) && !safe.has(n)) ok = false;
      },
    );
    return ok;
  }

  /** Vars bound by iterating refs whose heads are known (x in input.a[x]). */
  refOutputs(terms: Term[], safe: Set<string>, out: Set<string>): void {
    let changed = true;
    while (changed) {
      changed = false;
      const walk = (t: Term): void => {
        const v = t.value;
        if (v.type === 'ref') {
          const head = v.terms[0];
          const headSafe =
            head.value.type === 'var'
              ? safe.has(head.value.name) || out.has(head.value.name) || ROOTS.includes(head.value.name)
              : this.termSafe(head, new Set([...safe, ...out]));
          if (headSafe) {
            for (const op of v.terms.slice(1)) {
              const before = out.size;
              patternVars(op, out);
              if (out.size !== before) changed = true;
            }
          }
          v.terms.forEach(walk);
        } else if (v.type === 'array' || v.type === 'set') v.items.forEach(walk);
        else if (v.type === 'object') v.items.forEach(([k, x]) => (walk(k), walk(x)));
        else if (v.type === 'call') v.args.forEach(walk);
      };
      terms.forEach(walk);
    }
  }

  unify(a: Term, b: Term, safe: Set<string>, out: Set<string>): void {
    const known = new Set([...safe, ...out]);
    if (this.termSafe(b, known)) return patternVars(a, out);
    if (this.termSafe(a, known)) return patternVars(b, out);
    const va = a.value;
    const vb = b.value;
    if (va.type === 'array' && vb.type === 'array' && va.items.length === vb.items.length) {
      for (let i = 0; i < va.items.length; i++) this.unify(va.items[i], vb.items[i], safe, out);
    } else if (va.type === 'object' && vb.type === 'object') {
      for (const [k, x] of va.items) {
        const other = vb.items.find(([k2]) => sameTerm(k, k2));
        if (other) this.unify(x, other[1], safe, out);
      }
    }
  }

  outputs(e: Expr, safe: Set<string>): Set<string> {
    const out = new Set<string>();
    if (e.negated || e.kind === 'every' || e.kind === 'some') return out;
    const terms = exprTerms(e);
    this.refOutputs(terms, safe, out);
    if (e.kind !== 'call') return out;
    const op = refToPath(e.operator)?.join('.');
    if (op === 'assign' && e.args.length === 2) {
      // `:=` binds only its left side, from a right side that must be known.
      if (this.termSafe(e.args[1], new Set([...safe, ...out]))) patternVars(e.args[0], out);
      return out;
    }
    if (op === 'eq') {
      if (e.args.length === 2) {
        // Iterate: binding one side may make refs on the other side iterable.
        for (let i = 0; i < 3; i++) {
          this.unify(e.args[0], e.args[1], safe, out);
          this.refOutputs(terms, new Set([...safe, ...out]), out);
        }
      }
      return out;
    }
    const arity = op ? this.opts.arity(op) : undefined;
    if (arity !== undefined && e.args.length === arity + 1) {
      const known = new Set([...safe, ...out]);
      if (e.args.slice(0, arity).every((a) => this.termSafe(a, known))) patternVars(e.args[arity], out);
    }
    return out;
  }
}

function sameTerm(a: Term, b: Term): boolean {
  return JSON.stringify(a.value, (k, v) => (k === 'loc' ? undefined : v)) === JSON.stringify(b.value, (k, v) => (k === 'loc' ? undefined : v));
}

/** The result of ordering one body. */
export interface SafetyResult {
  body: Body;
  /** Vars known after the whole body ran (initial safe vars included). */
  safe: Set<string>;
  diagnostics: Diagnostic[];
}

/**
 * Reorders a body so each expression runs once the vars it reads are bound (stable: expressions keep
 * their written order unless they must wait), recursing into comprehensions and `every` bodies.
 */
export function reorderBodyForSafety(body: Body, initial: Iterable<string>, opts: SafetyOptions): SafetyResult {
  functionNames = (name) => !ROOTS.includes(name.split('.')[0]) && opts.arity(name) !== undefined;
  const safe = new Set<string>(initial);
  for (const r of ROOTS) safe.add(r);
  const visible = new Set<string>(safe);
  for (const e of body) for (const n of exprVars(e).keys()) visible.add(n);
  const ctx = new BodyContext(opts, visible);

  const placed: boolean[] = body.map(() => false);
  const order: Expr[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (let i = 0; i < body.length; i++) {
      if (placed[i]) continue;
      const e = body[i];
      const outs = ctx.outputs(e, safe);
      let ok = true;
      for (const n of ctx.needs(e).keys()) {
        if (safe.has(n) || outs.has(n)) continue;
        // A wildcard only inside `not` is existential: `not input.deny[_]`.
        if (e.negated && n.startsWith('$')) continue;
        ok = false;
        break;
      }
      if (!ok) continue;
      placed[i] = true;
      order.push(e);
      for (const n of outs) safe.add(n);
      progress = true;
      // Restart so earlier (written-first) expressions get the first chance to run.
      break;
    }
  }

  const diagnostics: Diagnostic[] = [];
  const reported = new Set<string>();
  const display = (n: string): string => opts.display?.(n) ?? n;
  for (let i = 0; i < body.length; i++) {
    if (placed[i]) continue;
    const e = body[i];
    const missing = [...ctx.needs(e)].filter(([n]) => !safe.has(n) && !(e.negated && n.startsWith('$')));
    // Report the root causes: vars this expression could not bind even if all the others were known
    // (in `v := w + 1` that is w, not v); if every var depends on another, report them all.
    const roots = missing.filter(([n]) => {
      const assumed = new Set(safe);
      for (const [m] of missing) if (m !== n) assumed.add(m);
      return !ctx.outputs(e, assumed).has(n);
    });
    for (const [n, t] of roots.length > 0 ? roots : missing) {
      if (reported.has(n)) continue;
      reported.add(n);
      diagnostics.push(diagnosticAt('rego_unsafe_var_error', t.loc, `var ${display(n)} is unsafe`));
    }
    order.push(e); // keep it so later stages see the whole body; planning is refused on diagnostics
  }

  // Now that the order is fixed, order the closures with the vars known where they run.
  const running = new Set<string>(initial);
  for (const r of ROOTS) running.add(r);
  const out: Body = [];
  for (const e of order) {
    const fixed = reorderClosures(e, running, opts, diagnostics);
    out.push(fixed);
    for (const n of ctx.outputs(e, running)) running.add(n);
  }
  return { body: out, safe, diagnostics };
}

function reorderClosures(e: Expr, safe: Set<string>, opts: SafetyOptions, diags: Diagnostic[]): Expr {
  const fixTerm = (t: Term): Term => mapClosures(t, safe, opts, diags);
  const withs = e.with.map((w) => ({ ...w, value: fixTerm(w.value) }));
  switch (e.kind) {
    case 'term':
      return { ...e, with: withs, term: fixTerm(e.term) };
    case 'call':
      return { ...e, with: withs, args: e.args.map(fixTerm) };
    case 'some':
      return e;
    case 'every': {
      const ev = e.every;
      const inner = new Set(safe);
      const pv = new Set<string>();
      if (ev.key) patternVars(ev.key, pv);
      patternVars(ev.value, pv);
      for (const n of pv) inner.add(n);
      const r = reorderBodyForSafety(ev.body, inner, opts);
      diags.push(...r.diagnostics);
      return { ...e, with: withs, every: { ...ev, domain: fixTerm(ev.domain), body: r.body } };
    }
  }
}

function mapClosures(t: Term, safe: Set<string>, opts: SafetyOptions, diags: Diagnostic[]): Term {
  const v = t.value;
  const rec = (x: Term): Term => mapClosures(x, safe, opts, diags);
  switch (v.type) {
    case 'ref':
      return { ...t, value: { type: 'ref', terms: v.terms.map(rec) } };
    case 'array':
      return { ...t, value: { type: 'array', items: v.items.map(rec) } };
    case 'set':
      return { ...t, value: { type: 'set', items: v.items.map(rec) } };
    case 'object':
      return { ...t, value: { type: 'object', items: v.items.map(([k, x]) => [rec(k), rec(x)] as [Term, Term]) } };
    case 'call':
      return { ...t, value: { type: 'call', operator: v.operator, args: v.args.map(rec) } };
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp': {
      const r = reorderBodyForSafety(v.body, safe, opts);
      diags.push(...r.diagnostics);
      const heads = v.type === 'objectcomp' ? [v.key, v.value] : [v.term];
      if (r.diagnostics.length === 0) checkHeadVars(heads, r.safe, opts, diags);
      const fixHead = (x: Term): Term => mapClosures(x, r.safe, opts, diags);
      if (v.type === 'objectcomp') return { ...t, value: { ...v, key: fixHead(v.key), value: fixHead(v.value), body: r.body } };
      return { ...t, value: { ...v, term: fixHead(v.term), body: r.body } };
    }
    default:
      return t;
  }
}

function checkHeadVars(terms: Term[], safe: Set<string>, opts: SafetyOptions, diags: Diagnostic[], seen = new Set<string>()): void {
  for (const t of terms) {
    visitVars(t, (n, at) => {
      if (safe.has(n) || ROOTS.includes(n) || seen.has(n)) return;
      seen.add(n);
      diags.push(diagnosticAt('rego_unsafe_var_error', at.loc, `var ${opts.display?.(n) ?? n} is unsafe`));
    });
  }
}

/** Vars of function args (parameters are known when the body starts). */
function argVars(args: Term[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const a of args ?? []) allVarsDeep(a, out);
  return out;
}

/** Orders one rule's bodies (else chain included) and checks that head vars are bound by them. */
export function checkRuleSafety(rule: Rule, opts: SafetyOptions): { rule: Rule; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const one = (r: Rule): Rule => {
    const args = argVars(r.head.args);
    const res = reorderBodyForSafety(r.body, args, opts);
    diagnostics.push(...res.diagnostics);
    const h = r.head;
    const heads = [...h.ref.slice(1), ...(h.key ? [h.key] : []), ...(h.value ? [h.value] : [])];
    // Refs in the head iterate like body refs do (`q(_) := xs[_]`).
    const headSafe = new Set(res.safe);
    new BodyContext(opts, headSafe).refOutputs(heads, res.safe, headSafe);
    if (res.diagnostics.length === 0) checkHeadVars(heads, headSafe, opts, diagnostics);
    const fix = (t: Term): Term => mapClosures(t, headSafe, opts, diagnostics);
    const head = { ...h, ref: [h.ref[0], ...h.ref.slice(1).map(fix)], key: h.key && fix(h.key), value: h.value && fix(h.value) };
    return { ...r, head, body: res.body, else: r.else ? one(r.else) : undefined };
  };
  const out = one(rule);
  return { rule: out, diagnostics };
}
