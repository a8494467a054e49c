// A walk over every term and expression of a rule's head or body, shared by the checks. A hook that
// returns true has handled the node, children included; otherwise the walk descends as usual. `with`
// values are always walked.

import type { Body, Expr, Term } from '../ast';

/** Visits terms and bodies. */
export interface Walker {
  term(t: Term): void;
  body(b: Body): void;
}

/** What a check does at a node before (or instead of) the default descent. */
export interface WalkHooks {
  term?(t: Term, walk: Walker): boolean | void;
  expr?(e: Expr, walk: Walker): boolean | void;
}

export function walker(hooks: WalkHooks): Walker {
  const term = (t: Term): void => {
    if (hooks.term?.(t, walk)) return;
    const v = t.value;
    switch (v.type) {
      case 'call':
        term(v.operator);
        v.args.forEach(term);
        return;
      case 'ref':
        v.terms.forEach(term);
        return;
      case 'array':
      case 'set':
        v.items.forEach(term);
        return;
      case 'object':
        v.items.forEach(([k, x]) => {
          term(k);
          term(x);
        });
        return;
      case 'arraycomp':
      case 'setcomp':
        term(v.term);
        body(v.body);
        return;
      case 'objectcomp':
        term(v.key);
        term(v.value);
        body(v.body);
        return;
      default:
        return;
    }
  };
  const body = (b: Body): void => {
    for (const e of b) {
      if (!hooks.expr?.(e, walk)) {
        switch (e.kind) {
          case 'term':
            term(e.term);
            break;
          case 'call':
            term(e.operator);
            e.args.forEach(term);
            break;
          case 'some':
            e.decl.symbols.forEach(term);
            break;
          case 'every':
            term(e.every.domain);
            body(e.every.body);
            break;
        }
      }
      for (const w of e.with) term(w.value);
    }
  };
  const walk: Walker = { term, body };
  return walk;
}
