// Planning of terms into locals/operands: scalars, vars, composite literals and nested calls.
// After planTerm's continuation runs, p.ltarget holds the term's value.

import { isLiteral, type ArrayValue, type ObjectValue, type SetValue, type Term } from '../ast';
import type { Local, Operand } from '../ir/ir';
import { planArrayComprehension, planObjectComprehension, planSetComprehension } from './comprehensions';
import { planCallTerm } from './calls';
import { planRef } from './refs';
import type { Iter, Planner } from './state';
import { local } from './state';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function planTerm(p: Planner, t: Term, iter: Iter): void {
  const v = t.value;
  switch (v.type) {
    case 'null': {
      const l = p.newLocal();
      p.emit({ type: 'MakeNullStmt', target: l });
      p.ltarget = local(l);
      return iter();
    }
    case 'boolean':
      p.ltarget = { type: 'bool', value: v.value };
      return iter();
    case 'number':
      p.ltarget = local(planNumber(p, v.text));
      return iter();
    case 'string':
      p.ltarget = p.str(v.value);
      return iter();
    case 'var': {
      let l = p.vars.get(v.name);
      if (l === undefined) l = p.newLocal(); // unbound: stays undefined, like OPA's planner
      p.ltarget = local(l);
      return iter();
    }
    case 'ref':
      return planRef(p, v.terms, iter);
    case 'array':
      return planArray(p, v, iter);
    case 'object':
      return planObject(p, v, iter);
    case 'set':
      return planSet(p, v, iter);
    case 'arraycomp':
      p.loc = t.loc;
      return planArrayComprehension(p, v, iter);
    case 'setcomp':
      p.loc = t.loc;
      return planSetComprehension(p, v, iter);
    case 'objectcomp':
      p.loc = t.loc;
      return planObjectComprehension(p, v, iter);
    case 'call':
      return planCallTerm(p, v, t.loc, iter);
  }
}

/** Integers that fit int64 are made directly; anything else keeps its source text. */
export function planNumber(p: Planner, text: string): Local {
  const l = p.newLocal();
  if (/^-?\d+$/.test(text)) {
    const n = BigInt(text);
    if (n >= INT64_MIN && n <= INT64_MAX) {
      p.emit({ type: 'MakeNumberIntStmt', value: n, target: l });
      return l;
    }
  }
  p.emit({ type: 'MakeNumberRefStmt', index: p.stringConst(text), target: l });
  return l;
}

/**
 * Plans terms in order, calling each(i, operand) after each and done() after the last. Literal items
 * are planned in a loop (their continuation runs exactly once, synchronously), so large literal
 * collections do not deepen the continuation stack; other items nest as usual.
 */
function planItems(p: Planner, terms: Term[], each: (i: number, op: Operand) => void, done: Iter): void {
  const rec = (start: number): void => {
    let i = start;
    for (; i < terms.length && isLiteral(terms[i]); i++) {
      planTerm(p, terms[i], () => undefined);
      each(i, p.ltarget);
    }
    if (i === terms.length) return done();
    planTerm(p, terms[i], () => {
      each(i, p.ltarget);
      rec(i + 1);
    });
  };
  rec(0);
}

function planArray(p: Planner, arr: ArrayValue, iter: Iter): void {
  const larr = p.newLocal();
  p.emit({ type: 'MakeArrayStmt', capacity: arr.items.length, target: larr });
  planItems(
    p,
    arr.items,
    (_, op) => p.emit({ type: 'ArrayAppendStmt', value: op, array: larr }),
    () => {
      p.ltarget = local(larr);
      iter();
    },
  );
}

export function planObject(p: Planner, obj: ObjectValue, iter: Iter): void {
  const lobj = p.newLocal();
  p.emit({ type: 'MakeObjectStmt', target: lobj });
  const terms = obj.items.flat();
  let key: Operand | undefined;
  planItems(
    p,
    terms,
    (i, op) => {
      if (i % 2 === 0) key = op;
      else p.emit({ type: 'ObjectInsertStmt', key: key!, value: op, object: lobj });
    },
    () => {
      p.ltarget = local(lobj);
      iter();
    },
  );
}

export function planSet(p: Planner, set: SetValue, iter: Iter): void {
  const lset = p.newLocal();
  p.emit({ type: 'MakeSetStmt', target: lset });
  planItems(
    p,
    set.items,
    (_, op) => p.emit({ type: 'SetAddStmt', value: op, set: lset }),
    () => {
      p.ltarget = local(lset);
      iter();
    },
  );
}

/** Plans several terms in order and hands their operands to iter. */
export function planTermSlice(p: Planner, terms: Term[], iter: (ops: Operand[]) => void): void {
  const ops: Operand[] = [];
  planItems(
    p,
    terms,
    (i, op) => (ops[i] = op),
    () => iter(ops),
  );
}
