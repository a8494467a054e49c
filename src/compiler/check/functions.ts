// Function-call checks: every call (expression-level or nested) must name a user function (after
// import/package resolution) or a built-in from the catalog, with the right number of arguments.
// An expression-level call may pass one extra argument: OPA's output-argument form `count(x, n)`.

import { walker, type Body, type Module, type Term, type Walker } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';
import type { Program, RuleInfo } from './program';
import { groundNames, resolveRef, ruleLocals, walkRule } from './program';

/** The built-in catalog: a built-in's number of declared arguments, or undefined if unknown. */
export type BuiltinArity = (name: string) => number | undefined;

// Operators the parser emits and OPA's internal calls; accepted even if a catalog omits them.
const CORE_ARITY: Readonly<Record<string, number>> = {
  eq: 2, assign: 2, equal: 2, neq: 2, lt: 2, lte: 2, gt: 2, gte: 2,
  plus: 2, minus: 2, mul: 2, div: 2, rem: 2, and: 2, or: 2,
  'internal.member_2': 2, 'internal.member_3': 3,
};

type Callee = { kind: 'builtin'; name: string; arity: number } | { kind: 'user'; name: string; arity: number } | { kind: 'variadic' };

/** Reports undefined functions and arity mismatches (rego_type_error, OPA's messages). */
export function checkFunctions(p: Program, builtins: BuiltinArity): Diagnostic[] {
  const out: Diagnostic[] = [];
  const funcs = functionsByPath(p);
  for (const info of p.rules) {
    const v = callVisitor(p, info.module, ruleLocals(info.rule), funcs, builtins, out);
    walkRule(info.rule, v);
  }
  return out;
}

/**
 * Checks the calls of an ad-hoc query (e.g. `data.lib.f(1)`, `count(x, n)`) against the modules'
 * functions and the built-in catalog. Queries have no package or imports: only data refs resolve.
 */
export function checkQueryFunctions(p: Program, body: Body, builtins: BuiltinArity): Diagnostic[] {
  const out: Diagnostic[] = [];
  callVisitor(p, undefined, new Set(), functionsByPath(p), builtins, out).body(body);
  return out;
}

function functionsByPath(p: Program): Map<string, RuleInfo[]> {
  const funcsByPath = new Map<string, RuleInfo[]>();
  for (const info of p.rules) {
    if (info.rule.head.kind !== 'function') continue;
    const key = info.ground.join('.');
    const list = funcsByPath.get(key);
    if (list) list.push(info);
    else funcsByPath.set(key, [info]);
  }
  return funcsByPath;
}

function callVisitor(
  p: Program,
  module: Module | undefined,
  locals: Set<string>,
  funcsByPath: Map<string, RuleInfo[]>,
  builtins: BuiltinArity,
  out: Diagnostic[],
): Walker {
  const lookup = (op: Term): Callee | { kind: 'undefined'; name: string } => {
    const terms = op.value.type === 'ref' ? op.value.terms : [op];
    const resolved = module ? resolveRef(p, module, terms, locals) : isDataRef(terms) ? terms : undefined;
    if (resolved && resolved[0].value.type === 'var' && resolved[0].value.name === 'data') {
      const names = groundNames(resolved);
      const fns = names.length === resolved.length ? funcsByPath.get(names.join('.')) : undefined;
      if (fns) return { kind: 'user', name: names.join('.'), arity: fns[0].rule.head.args?.length ?? 0 };
      return { kind: 'undefined', name: names.length === resolved.length ? names.join('.') : '' };
    }
    const names = groundNames(terms);
    const name = names.length === terms.length ? names.join('.') : '';
    if (name === 'print') return { kind: 'variadic' };
    const a = builtins(name) ?? CORE_ARITY[name];
    if (a !== undefined) return { kind: 'builtin', name, arity: a };
    return { kind: 'undefined', name };
  };
  const check = (op: Term, nargs: number, exprLevel: boolean, loc: Term['loc']) => {
    const c = lookup(op);
    if (c.kind === 'variadic') return;
    if (c.kind === 'undefined') {
      out.push(diagnosticAt('rego_type_error', loc, `undefined function ${c.name || opText(op)}`));
      return;
    }
    const ok = nargs === c.arity || (exprLevel && nargs === c.arity + 1);
    if (ok) return;
    if (c.kind === 'builtin') {
      out.push(diagnosticAt('rego_type_error', loc, `${c.name}: arity mismatch`));
    } else {
      out.push(
        diagnosticAt('rego_type_error', loc, `function ${c.name} has arity ${c.arity}, got ${nargs} argument${nargs === 1 ? '' : 's'}`),
      );
    }
  };
  return walker({
    bindings: false,
    term: (t, walk) => {
      if (t.value.type !== 'call') return false;
      check(t.value.operator, t.value.args.length, false, t.loc);
      t.value.args.forEach(walk.term);
      return true;
    },
    expr: (e, walk) => {
      if (e.kind === 'call') {
        check(e.operator, e.args.length, true, e.loc);
        e.args.forEach(walk.term);
        return true;
      }
      if (e.kind === 'some') {
        // `some x in xs` is an internal.member call term: its operator is not a call to check.
        e.decl.symbols.forEach((s) => (s.value.type === 'call' ? s.value.args.forEach(walk.term) : walk.term(s)));
        return true;
      }
      return false;
    },
  });
}

function isDataRef(terms: Term[]): boolean {
  const h = terms[0]?.value;
  return h?.type === 'var' && h.name === 'data';
}

function opText(op: Term): string {
  return op.loc.text || 'unknown';
}
