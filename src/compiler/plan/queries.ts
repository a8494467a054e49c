// Query plans: one Plan per entrypoint (adds {"result": value} per solution) or named query (adds
// an object of the query's user-visible vars per solution).

import type { Body, Term } from '../ast';
import { forEachOuterVar, refTerm, stringTerm, varTerm } from '../ast';
import type { Block, Plan } from '../ir/ir';
import { DATA, FIRST_FREE_LOCAL, INPUT } from '../ir/ir';
import { isHiddenVar } from '../rewrite/locals';
import { planQuery } from './exprs';
import { VarStack } from './scope';
import type { Planner } from './state';
import { local } from './state';

/** The query OPA's wasm target plans for an entrypoint: `result = data.a.b.c`. */
export function entrypointQuery(path: string): Body {
  const parts = path.split('/').filter((s) => s.length > 0);
  const ref = refTerm([varTerm('data'), ...parts.map((s) => stringTerm(s))]);
  const eq = refTerm([varTerm('eq')]);
  return [{ kind: 'call', operator: eq, args: [varTerm('result'), ref], negated: false, with: [], loc: ref.loc }];
}

/** Vars a query binds that belong in its result objects (not inside closures, not call operators). */
export function queryVars(body: Body): string[] {
  const out = new Set<string>();
  const walk = (t: Term): void => forEachOuterVar(t, (name) => out.add(name));
  for (const e of body) {
    if (e.kind === 'term') walk(e.term);
    else if (e.kind === 'call') e.args.forEach(walk);
    else if (e.kind === 'every') walk(e.every.domain);
    for (const w of e.with) walk(w.value);
  }
  out.delete('input');
  out.delete('data');
  return [...out].sort();
}

export function planQueryPlan(p: Planner, name: string, body: Body): Plan {
  const plan: Plan = { name, blocks: [] };
  p.lnext = FIRST_FREE_LOCAL;
  p.vars = new VarStack(new Map([['input', INPUT], ['data', DATA]]));
  const block: Block = { stmts: [] };
  p.curr = block;
  p.loc = body[0]?.loc;
  const vars = queryVars(body).filter((v) => !isHiddenVar(p.gen.display(v)));
  let defined = false;
  planQuery(p, body, 0, () => {
    const lr = p.newLocal();
    p.emit({ type: 'MakeObjectStmt', target: lr });
    for (const v of vars) {
      const l = p.vars.get(v) ?? p.newLocal();
      p.emit({ type: 'ObjectInsertStmt', object: lr, key: p.str(p.gen.display(v)), value: local(l) });
    }
    p.emit({ type: 'ResultSetAddStmt', value: lr });
    defined = true;
  });
  if (defined) plan.blocks.push(block);
  return plan;
}
