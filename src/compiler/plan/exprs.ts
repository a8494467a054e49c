// Bodies and expressions: each expression is planned with the rest of the body as its
// continuation; `not` plans its expression in a NotStmt; `every` is "no domain element fails".

import type { Body, EveryExpr, Expr } from '../ast';
import type { Block, Stmt } from '../ir/ir';
import { planExprCall } from './calls';
import type { Iter, Planner } from './state';
import { planScan } from './refs';
import { planTerm } from './terms';
import { planUnifyLocal } from './unify';
import { planWith } from './with';

export function planQuery(p: Planner, body: Body, index: number, iter: Iter): void {
  if (index >= body.length) return iter();
  const old = p.loc;
  p.loc = body[index].loc;
  planExpr(p, body[index], () =>
    planQuery(p, body, index + 1, () => {
      const curr = p.loc;
      p.loc = old;
      iter();
      p.loc = curr;
    }),
  );
  p.loc = old;
}

export function planExpr(p: Planner, e: Expr, iter: Iter): void {
  if (e.negated) return planNot(p, e, iter);
  if (e.with.length > 0) return planWith(p, e, iter);
  switch (e.kind) {
    case 'call':
      return planExprCall(p, e, iter);
    case 'every':
      return planExprEvery(p, e, iter);
    case 'some':
      return iter(); // declarations only (rewritten away before planning)
    case 'term':
      return planTerm(p, e.term, () => {
        p.emit({ type: 'NotEqualStmt', a: p.ltarget, b: { type: 'bool', value: false } });
        iter();
      });
  }
}

/**
 * `not e`. A NotStmt is undefined when its block runs to the end, which is right for expressions that
 * do not iterate. When e iterates (a scan, or alternative blocks), the block ends normally even when
 * no element matched, so the match is recorded in a flag instead and the flag must stay unset.
 */
function planNot(p: Planner, e: Expr, iter: Iter): void {
  const found = p.newLocal();
  const mark: Stmt = { type: 'AssignVarStmt', source: { type: 'bool', value: true }, target: found };
  p.vars.push(); // bindings inside `not` (wildcards) must not leak out
  const block = p.nested(() => planExpr(p, { ...e, negated: false }, () => p.emit(mark)));
  p.vars.pop();
  if (iterates(block)) {
    p.emit({ type: 'ResetLocalStmt', target: found });
    p.emit({ type: 'BlockStmt', blocks: [block] });
    p.emit({ type: 'IsUndefinedStmt', source: found });
  } else {
    removeStmt(block, mark);
    p.emit({ type: 'NotStmt', block });
  }
  iter();
}

function iterates(b: Block): boolean {
  return b.stmts.some(
    (s) =>
      s.type === 'ScanStmt' ||
      (s.type === 'BlockStmt' && (s.blocks.length > 1 || s.blocks.some(iterates))) ||
      ((s.type === 'WithStmt' || s.type === 'NotStmt') && iterates(s.block)),
  );
}

function removeStmt(b: Block, target: Stmt): boolean {
  const i = b.stmts.indexOf(target);
  if (i >= 0) {
    b.stmts.splice(i, 1);
    return true;
  }
  for (const s of b.stmts) {
    if (s.type === 'BlockStmt' && s.blocks.some((x) => removeStmt(x, target))) return true;
    if ((s.type === 'WithStmt' || s.type === 'NotStmt' || s.type === 'ScanStmt') && removeStmt(s.block, target)) return true;
  }
  return false;
}

/**
 * every k, v in xs { body } ≡ not (some k, v in xs; not body). cond1 records that the body held for
 * the current element; cond0 records that some element failed it.
 */
function planExprEvery(p: Planner, e: EveryExpr, iter: Iter): void {
  const ev = e.every;
  const cond0 = p.newLocal();
  const cond1 = p.newLocal();
  p.emit({ type: 'ResetLocalStmt', target: cond0 });
  p.vars.push();
  planTerm(p, ev.domain, () => {
    // The domain must be a collection, else `every` is undefined (as OPA's planner asserts).
    const d = p.ltarget;
    const isColl = (type: 'IsArrayStmt' | 'IsObjectStmt' | 'IsSetStmt'): Stmt => ({
      type: 'BlockStmt',
      blocks: [p.blockWith({ type, source: d }, { type: 'BreakStmt', index: 1 })],
    });
    p.emit({
      type: 'BlockStmt',
      blocks: [p.blockWith(isColl('IsArrayStmt'), isColl('IsObjectStmt'), isColl('IsSetStmt'), { type: 'BreakStmt', index: 1 })],
    });
    const keyTerm = ev.key ?? { value: { type: 'var', name: `$every${cond0}` }, loc: ev.loc };
    planScan(p, keyTerm, () => {
      p.emit({ type: 'ResetLocalStmt', target: cond1 });
      const lval = p.ltarget;
      const inner = p.nested(() =>
        planUnifyLocal(p, lval, ev.value, () =>
          planQuery(p, ev.body, 0, () => p.emit({ type: 'AssignVarStmt', source: { type: 'bool', value: true }, target: cond1 })),
        ),
      );
      p.emit({ type: 'BlockStmt', blocks: [inner] });
      p.emit({ type: 'IsUndefinedStmt', source: cond1 });
      p.emit({ type: 'AssignVarStmt', source: { type: 'bool', value: true }, target: cond0 });
    });
  });
  p.vars.pop();
  p.emit({ type: 'IsUndefinedStmt', source: cond0 });
  iter();
}
