// Calls: built-ins (CallStmt func = the Rego name, resolved by the emitter), user functions
// (CallStmt func = the planned Func name, input and data passed first) and `with` replacements of
// either. A call used as an expression must not be false; with one extra argument the result is
// unified with it instead.

import type { CallExpr, CallValue, Location, Term } from '../ast';
import { operatorName, refFromPath, valuesOf } from '../ast';
import type { Operand } from '../ir/ir';
import { planRules } from './rules';
import type { Iter, Planner } from './state';
import { local } from './state';
import { planTerm, planTermSlice } from './terms';
import { planUnify, planUnifyLocal } from './unify';

/** What a call's operator resolves to. */
type Callee =
  | { kind: 'func'; name: string; arity: number }
  | { kind: 'builtin'; name: string; arity: number }
  | { kind: 'value'; value: Term; arity: number };

/** Built-ins whose calls are dropped (printing has no effect on decisions, unless Planner.print). */
const NOOP_CALLS = new Set(['trace']);
const PRINT_CALLS = new Set(['print', 'internal.print']);

function resolveCallee(p: Planner, op: Term, loc: Location): Callee {
  const name = operatorName(op);
  if (!name) p.fail('rego_type_error', 'illegal call: operator is not a name', loc);
  const arity = calleeArity(p, name, loc);
  const mock = p.mockFor(name);
  if (mock) {
    const mname = mock.value.type === 'ref' || mock.value.type === 'var' ? operatorName(mock) : undefined;
    if (mname && !mname.startsWith('data.') && !mname.startsWith('input.') && mname !== 'input' && p.builtinArity(mname) !== undefined) {
      p.builtinsUsed.set(mname, p.builtinArity(mname)!);
      return { kind: 'builtin', name: mname, arity };
    }
    if (mname && mname.startsWith('data.')) {
      const node = p.trie.lookup(mname.split('.'));
      if (node && node.hasRules() && node.arity() > 0) {
        // The replacement function itself runs without the enclosing replacements.
        const saved = p.mocks;
        p.mocks = [];
        try {
          return { kind: 'func', name: planRules(p, node), arity };
        } finally {
          p.mocks = saved;
        }
      }
    }
    return { kind: 'value', value: mock, arity };
  }
  return resolveUnmocked(p, name, loc);
}

function resolveUnmocked(p: Planner, name: string, loc: Location): Callee {
  if (name.startsWith('data.')) {
    const node = p.trie.lookup(name.split('.'));
    if (node && node.hasRules() && node.arity() > 0) return { kind: 'func', name: planRules(p, node), arity: node.arity() };
    p.fail('rego_type_error', `undefined function ${name}`, loc);
  }
  const arity = p.builtinArity(name);
  if (arity === undefined) p.fail('rego_type_error', `undefined function ${name}`, loc);
  p.builtinsUsed.set(name, arity);
  return { kind: 'builtin', name, arity };
}

/** Arity of a user function or built-in by name (undefined when unknown). */
export function calleeArity(p: Planner, name: string, loc: Location): number {
  if (name.startsWith('data.')) {
    const node = p.trie.lookup(name.split('.'));
    if (node && node.hasRules() && node.arity() > 0) return node.arity();
    p.fail('rego_type_error', `undefined function ${name}`, loc);
  }
  const a = p.builtinArity(name);
  if (a === undefined) p.fail('rego_type_error', `undefined function ${name}`, loc);
  return a;
}

/** Emits the call of a resolved callee on planned args; iter sees the result in p.ltarget. */
function emitCall(p: Planner, callee: Callee, args: Operand[], iter: Iter): void {
  if (callee.kind === 'value') {
    // The replaced call still needs its arguments to be defined.
    for (const a of args) if (a.type === 'local') p.emit({ type: 'IsDefinedStmt', source: a.value });
    return planTerm(p, callee.value, iter);
  }
  const result = p.newLocal();
  const all = callee.kind === 'func' ? [p.inputOp(), p.dataOp(), ...args] : args;
  p.emit({ type: 'CallStmt', func: callee.name, args: all, result });
  p.ltarget = local(result);
  iter();
}

/** A call nested in a term: `count(x)` in `n := count(x) + 1`. */
export function planCallTerm(p: Planner, c: CallValue, loc: Location, iter: Iter): void {
  const callee = resolveCallee(p, c.operator, loc);
  if (c.args.length !== callee.arity) {
    p.fail('rego_type_error', `${operatorName(c.operator)}: arity mismatch: ${c.args.length} arguments given, ${callee.arity} expected`, loc);
  }
  planCallArgs(p, c.args, (ops) => emitCall(p, callee, ops, iter));
}

/** A call as a body expression: `count(x) > 1`, `f(x)`, `x = y`, `x := y`, `count(xs, n)`. */
export function planExprCall(p: Planner, e: CallExpr, iter: Iter): void {
  const name = operatorName(e.operator);
  if ((name === 'eq' || name === 'assign') && e.args.length === 2) return planUnify(p, e.args[0], e.args[1], iter);
  if (name && NOOP_CALLS.has(name)) return iter();
  if (name && PRINT_CALLS.has(name)) {
    if (!p.print) return iter();
    if (name === 'print') return planExprCall(p, printCall(p, e), iter);
  }
  if (name && !p.mockFor(name) && e.args.length === 2 && (name === 'equal' || name === 'neq')) {
    // Comparisons as expressions need no call: compare the values directly.
    return planCallArgs(p, e.args, ([a, b]) => {
      p.emit({ type: name === 'equal' ? 'EqualStmt' : 'NotEqualStmt', a, b });
      iter();
    });
  }
  const callee = resolveCallee(p, e.operator, e.loc);
  const n = e.args.length;
  if (n === callee.arity) {
    return planCallArgs(p, e.args, (ops) =>
      emitCall(p, callee, ops, () => {
        p.emit({ type: 'NotEqualStmt', a: p.ltarget, b: { type: 'bool', value: false } });
        iter();
      }),
    );
  }
  if (n === callee.arity + 1) {
    return planCallArgs(p, e.args.slice(0, n - 1), (ops) =>
      emitCall(p, callee, ops, () => planUnifyLocal(p, p.ltarget, e.args[n - 1], iter)),
    );
  }
  p.fail('rego_type_error', `${name}: arity mismatch: ${n} arguments given, ${callee.arity} expected`, e.loc);
}

/**
 * OPA's rewrite of print(a, b): internal.print([{x | x = a}, {y | y = b}]). Each operand becomes the
 * set of its values, so an undefined one is an empty set (printed as <undefined>) instead of making
 * the whole expression, and the rule, undefined.
 */
function printCall(p: Planner, e: CallExpr): CallExpr {
  const operands = e.args.map((arg) => valuesOf(arg, p.gen.local('print')));
  return { ...e, operator: refFromPath('internal.print', e.loc), args: [{ value: { type: 'array', items: operands }, loc: e.loc }] };
}

/**
 * Plans call arguments, refs first: a ref may bind a var another argument reads, as in
 * `foo == input.foos[foo]` (OPA's compiler hoists such refs out of calls for the same reason).
 */
function planCallArgs(p: Planner, args: Term[], iter: (ops: Operand[]) => void): void {
  const order = args.map((_, i) => i).sort((a, b) => rank(args[a]) - rank(args[b]) || a - b);
  planTermSlice(
    p,
    order.map((i) => args[i]),
    (ops) => {
      const out: Operand[] = [];
      order.forEach((argIndex, k) => (out[argIndex] = ops[k]));
      iter(out);
    },
  );
}

function rank(t: Term): number {
  return t.value.type === 'ref' ? 0 : 1;
}
