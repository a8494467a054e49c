// Comprehensions: the body runs in a nested block and scope; each solution adds to a collection
// made beforehand, so the comprehension itself is always defined (possibly empty).

import type { ArrayComprehensionValue, Body, ObjectComprehensionValue, SetComprehensionValue } from '../ast';
import type { Local } from '../ir/ir';
import { planQuery } from './exprs';
import type { Iter, Planner } from './state';
import { local } from './state';
import { planTerm } from './terms';

export function planSetComprehension(p: Planner, c: SetComprehensionValue, iter: Iter): void {
  const lset = p.newLocal();
  p.emit({ type: 'MakeSetStmt', target: lset });
  planComprehension(p, c.body, () => planTerm(p, c.term, () => p.emit({ type: 'SetAddStmt', value: p.ltarget, set: lset })), lset, iter);
}

export function planArrayComprehension(p: Planner, c: ArrayComprehensionValue, iter: Iter): void {
  const larr = p.newLocal();
  p.emit({ type: 'MakeArrayStmt', capacity: 0, target: larr });
  planComprehension(p, c.body, () => planTerm(p, c.term, () => p.emit({ type: 'ArrayAppendStmt', value: p.ltarget, array: larr })), larr, iter);
}

export function planObjectComprehension(p: Planner, c: ObjectComprehensionValue, iter: Iter): void {
  const lobj = p.newLocal();
  p.emit({ type: 'MakeObjectStmt', target: lobj });
  planComprehension(
    p,
    c.body,
    () =>
      planTerm(p, c.key, () => {
        const key = p.ltarget;
        planTerm(p, c.value, () => p.emit({ type: 'ObjectInsertOnceStmt', key, value: p.ltarget, object: lobj }));
      }),
    lobj,
    iter,
  );
}

function planComprehension(p: Planner, body: Body, each: Iter, target: Local, iter: Iter): void {
  const ploc = p.loc;
  p.vars.push();
  const block = p.nested(() => planQuery(p, body, 0, each));
  p.vars.pop();
  p.loc = ploc;
  p.emit({ type: 'BlockStmt', blocks: [block] });
  p.ltarget = local(target);
  iter();
}
