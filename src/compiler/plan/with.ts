// `with` modifiers. Replacing input/data upserts the value into the input/data local for the
// expression (WithStmt) and restores it for the rest of the body. Replacing data that rules define,
// or replacing a function/built-in, re-plans the rules the expression reaches in a fresh cache frame
// (new Func names), so no rule result computed under `with` is shared with unmodified evaluation.

import type { Expr, Term } from '../ast';
import { operatorName, refToPath } from '../ast';
import type { Local, Operand } from '../ir/ir';
import { planExpr } from './exprs';
import type { TrieNode } from './rule-trie';
import type { Iter, MockFrame, Planner } from './state';
import { local } from './state';
import { planTermSlice } from './terms';

interface DocTarget {
  head: 'input' | 'data';
  path: number[];
  ref: string[];
}

function isFunctionTarget(p: Planner, name: string): boolean {
  if (name.startsWith('data.')) {
    const node = p.trie.lookup(name.split('.'));
    return !!node && node.hasRules() && node.arity() > 0;
  }
  return name !== 'input' && !name.startsWith('input.') && name !== 'data' && p.builtinArity(name) !== undefined;
}

export function planWith(p: Planner, e: Expr, iter: Iter): void {
  const values: Term[] = [];
  const targets: DocTarget[] = [];
  const mocks: MockFrame = new Map();
  for (const w of e.with) {
    const name = operatorName(w.target);
    if (name && isFunctionTarget(p, name)) {
      mocks.set(name, w.value);
      continue;
    }
    const path = refToPath(w.target);
    if (!path || (path[0] !== 'input' && path[0] !== 'data')) {
      p.fail('rego_compile_error', `with keyword target must reference existing input, data, or a function`, w.target.loc);
    }
    values.push(w.value);
    targets.push({ head: path[0] as 'input' | 'data', path: path.slice(1).map((s) => p.stringConst(s)), ref: path });
  }

  planTermSlice(p, values, (locals) => {
    // Save the documents being replaced, to restore them for the rest of the body.
    const heads = [...new Set(targets.map((t) => t.head))].sort();
    const restore: Array<[Local, Local]> = heads.map((h) => {
      const orig = p.vars.get(h)!;
      const save = p.newLocal();
      p.emit({ type: 'AssignVarStmt', source: local(orig), target: save });
      return [orig, save];
    });

    const hidden: TrieNode[] = [];
    for (const t of targets) {
      if (t.head !== 'data') continue;
      const node = p.trie.lookup(t.ref);
      if (node) hidden.push(node);
    }
    const shadowing = hidden.length > 0 || mocks.size > 0;
    const enter = (): void => {
      if (mocks.size > 0) p.mocks.push(mocks);
      if (shadowing) {
        p.pushFuncs();
        hidden.forEach((n) => n.hide());
      }
    };
    const leave = (): void => {
      if (mocks.size > 0) p.mocks.pop();
      if (shadowing) {
        p.popFuncs();
        hidden.forEach((n) => n.unhide());
      }
    };

    enter();
    planWithRec(p, e, targets, locals, 0, () => {
      leave();
      planUndoRec(p, restore, 0, () => {
        iter();
        enter();
      });
    });
    leave();
  });
}

function planWithRec(p: Planner, e: Expr, targets: DocTarget[], values: Operand[], index: number, iter: Iter): void {
  if (index >= targets.length) return planExpr(p, { ...e, with: [] }, iter);
  const block = p.nested(() => planWithRec(p, e, targets, values, index + 1, iter));
  const t = targets[index];
  p.emit({ type: 'WithStmt', local: p.vars.get(t.head)!, path: t.path, value: values[index], block });
}

function planUndoRec(p: Planner, restore: Array<[Local, Local]>, index: number, iter: Iter): void {
  if (index >= restore.length) return iter();
  const block = p.nested(() => planUndoRec(p, restore, index + 1, iter));
  const [orig, save] = restore[index];
  p.emit({ type: 'WithStmt', local: orig, path: [], value: local(save), block });
}
