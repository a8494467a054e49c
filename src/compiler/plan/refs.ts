// References: dots and scans over locals, and the virtual document model under `data` (rules in the
// trie take precedence; enumerating a key merges rule children with base data; a full extent merges
// the objects built from rules with the base document, as OPA's planner does).

import type { Term } from '../ast';
import { forEachOuterVar, isGround } from '../ast';
import type { Block, Local } from '../ir/ir';
import { planRules } from './rules';
import type { TrieNode } from './rule-trie';
import type { Iter, Planner } from './state';
import { asLocal, local } from './state';
import { planSet, planTerm } from './terms';
import { planUnifyLocal } from './unify';

/** Where base data for a virtual node lives: a local plus a path of terms still to look up. */
interface BasePtr {
  local: Local;
  path: Term[];
}

export function planRef(p: Planner, ref: Term[], iter: Iter): void {
  const head = ref[0];
  if (head.value.type === 'var') {
    if (head.value.name === 'data' && p.vars.get('data') !== undefined) {
      const base: BasePtr = { local: p.vars.get('data')!, path: [] };
      // `with data as v` hides every rule: the whole document is then the replacement value.
      return planRefData(p, p.trie.root.isHidden() ? undefined : p.trie.root, base, ref, 1, iter);
    }
    const l = p.vars.get(head.value.name);
    if (l === undefined) p.fail('rego_unsafe_var_error', `var ${p.gen.display(head.value.name)} is unsafe`, head.loc);
    p.ltarget = local(l);
    return planRefRec(p, ref, 1, iter);
  }
  // A composite or call as the ref head: `[1, 2][i]`, `f(x).y`.
  planTerm(p, head, () => {
    p.ltarget = local(asLocal(p, p.ltarget));
    planRefRec(p, ref, 1, iter);
  });
}

export function planRefRec(p: Planner, ref: Term[], index: number, iter: Iter): void {
  if (index >= ref.length) return iter();
  if (!hasUnseenVars(p, ref[index])) return planDot(p, ref[index], () => planRefRec(p, ref, index + 1, iter));
  planScan(p, ref[index], () => planRefRec(p, ref, index + 1, iter));
}

function hasUnseenVars(p: Planner, t: Term): boolean {
  let unseen = false;
  forEachOuterVar(t, (name) => {
    if (p.vars.get(name) === undefined) unseen = true;
  });
  return unseen;
}

function planDot(p: Planner, key: Term, iter: Iter): void {
  const source = p.ltarget;
  planTerm(p, key, () => {
    const target = p.newLocal();
    p.emit({ type: 'DotStmt', source, key: p.ltarget, target });
    p.ltarget = local(target);
    iter();
  });
}

/** Iterates the collection in p.ltarget, unifying each key with `key`; p.ltarget = value inside. */
export function planScan(p: Planner, key: Term, iter: (lkey: Local) => void): void {
  const source = asLocal(p, p.ltarget);
  const lkey = p.newLocal();
  const lval = p.newLocal();
  const block = p.nested(() =>
    planUnifyLocal(p, local(lkey), key, () => {
      p.ltarget = local(lval);
      iter(lkey);
    }),
  );
  p.emit({ type: 'ScanStmt', source, key: lkey, value: lval, block });
}

/** Plans a data ref against the trie node `virtual` (undefined = base data only) from ref[index]. */
function planRefData(p: Planner, virtual: TrieNode | undefined, base: BasePtr, ref: Term[], index: number, iter: Iter): void {
  if (index >= ref.length) return planRefDataExtent(p, virtual, base, iter);
  const t = ref[index];

  if (isGround(t) && t.value.type !== 'ref' && t.value.type !== 'call') {
    const child = virtual && t.value.type === 'string' ? virtual.child(t.value.value) : undefined;
    if (child && child.hasRules()) {
      const name = planRules(p, child);
      const result = p.newLocal();
      p.emit({ type: 'CallStmt', func: name, args: [p.inputOp(), p.dataOp()], result });
      p.ltarget = local(result);
      return planRefRec(p, ref, index + 1, iter);
    }
    return planRefData(p, child, { local: base.local, path: [...base.path, t] }, ref, index + 1, iter);
  }

  // A var (or a ref/call operand) at this position: enumerate rule children, then base keys.
  const exclude: string[] = [];
  if (virtual) {
    const blocks: Block[] = [];
    for (const key of virtual.childKeys()) {
      const child = virtual.child(key)!;
      if (child.arity() > 0) continue; // functions are not documents
      exclude.push(key);
      p.vars.push();
      const keyTerm: Term = { value: { type: 'string', value: key }, loc: t.loc };
      blocks.push(
        p.nested(() =>
          planUnifyLocal(p, p.str(key), t, () => {
            const plugged = [...ref];
            plugged[index] = keyTerm;
            planRefData(p, virtual, base, plugged, index, iter);
          }),
        ),
      );
      p.vars.pop();
    }
    if (blocks.length > 0) p.emit({ type: 'BlockStmt', blocks });
  }

  if (exclude.length > 0) {
    const setTerm: Term = { value: { type: 'set', items: exclude.map((k) => ({ value: { type: 'string', value: k }, loc: t.loc }) as Term) }, loc: t.loc };
    planSet(p, setTerm.value as { type: 'set'; items: Term[] }, () => {
      const lexclude = asLocal(p, p.ltarget);
      p.ltarget = local(base.local);
      planRefRec(p, base.path, 0, () =>
        planScan(p, t, (lkey) => {
          const ignore = p.newLocal();
          p.emit({ type: 'NotStmt', block: p.blockWith({ type: 'DotStmt', source: local(lexclude), key: local(lkey), target: ignore }) });
          planRefData(p, undefined, { local: asLocal(p, p.ltarget), path: [] }, ref, index + 1, iter);
        }),
      );
    });
    return;
  }

  p.ltarget = local(base.local);
  planRefRec(p, [...base.path, t], 0, () => planRefData(p, undefined, { local: asLocal(p, p.ltarget), path: [] }, ref, index + 1, iter));
}

/** Materializes the whole document at a node: rule values (recursively) merged over base data. */
function planRefDataExtent(p: Planner, virtual: TrieNode | undefined, base: BasePtr | undefined, iter: Iter): void {
  const vtarget = p.newLocal();
  if (virtual) {
    p.emit({ type: 'MakeObjectStmt', target: vtarget });
    for (const key of virtual.childKeys()) {
      const child = virtual.child(key)!;
      if (child.arity() > 0) continue;
      const lkey = p.str(key);
      if (!child.hasRules()) {
        planRefDataExtent(p, child, undefined, () => {
          p.emit({ type: 'ObjectInsertStmt', object: vtarget, key: lkey, value: p.ltarget });
        });
        continue;
      }
      const name = planRules(p, child);
      const lvalue = p.newLocal();
      const b = p.blockWith(
        { type: 'CallStmt', func: name, args: [p.inputOp(), p.dataOp()], result: lvalue },
        { type: 'ObjectInsertStmt', object: vtarget, key: lkey, value: local(lvalue) },
      );
      p.emit({ type: 'BlockStmt', blocks: [b] });
    }
    if (!base) {
      p.ltarget = local(vtarget);
      return iter();
    }
  }
  if (!base) {
    p.ltarget = local(vtarget);
    return iter();
  }

  // Base document at the path, merged with the virtual one when both exist.
  const target = p.newLocal();
  const inner = p.nested(() => {
    p.ltarget = local(base.local);
    planRefRec(p, base.path, 0, () => {
      if (!virtual) {
        p.emit({ type: 'AssignVarStmt', source: p.ltarget, target });
      } else {
        p.emit({ type: 'ObjectMergeStmt', a: asLocal(p, p.ltarget), b: vtarget, target });
      }
      p.emit({ type: 'BreakStmt', index: 1 });
    });
  });
  const outer = p.nested(() => {
    p.emit({ type: 'BlockStmt', blocks: [inner] });
    if (virtual) p.emit({ type: 'AssignVarStmt', source: local(vtarget), target });
    else p.emit({ type: 'BreakStmt', index: 1 });
  });
  p.emit({ type: 'ResetLocalStmt', target });
  p.emit({ type: 'BlockStmt', blocks: [outer] });
  if (!virtual) p.emit({ type: 'IsDefinedStmt', source: target });
  p.ltarget = local(target);
  iter();
}
