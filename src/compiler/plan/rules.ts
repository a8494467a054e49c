// Rules and functions: every trie node with rules becomes one Func (input, data, args...) that
// returns the node's document. Complete rules and functions assign once (a different second value is
// eval_conflict_error), `else` chains run only while no earlier clause produced a value, `default`
// applies when nothing else did; partial sets add to a set; rules with variable parts in their head
// ref (p[k] := v, a.b[c].d := 1) build an object that also holds the node's descendant rules.

import type { Rule, Term } from '../ast';
import { refGroundPrefix } from '../ast';
import type { Block, Func, Local, Operand } from '../ir/ir';
import { DATA, INPUT } from '../ir/ir';
import { planQuery } from './exprs';
import type { RuleEntry, TrieNode } from './rule-trie';
import { VarStack } from './scope';
import type { Planner } from './state';
import { local } from './state';
import { planTerm, planTermSlice } from './terms';
import { planUnifyLocal } from './unify';

/** Plans (once per cache frame) the function for the rules at a trie node and returns its name. */
export function planRules(p: Planner, node: TrieNode): string {
  const path = node.path.join('.');
  const cached = p.getFunc(path);
  if (cached) return cached;
  const guard = `${p.funcGeneration()}:${path}`;
  if (p.inProgress.has(guard)) {
    p.fail('rego_recursion_error', `rule ${path} is recursive`, node.rules[0]?.rule.loc);
  }
  p.inProgress.add(guard);

  const saved = { vars: p.vars, curr: p.curr, ltarget: p.ltarget, lnext: p.lnext, loc: p.loc };
  try {
    const gen = p.funcGeneration();
    p.lnext = 0;
    p.loc = node.rules[0]?.rule.head.loc;
    const params: Local[] = [p.newLocal(), p.newLocal()];
    const ret = p.newLocal();
    const fn: Func = { name: `g${gen}.${path}`, params, return: ret, blocks: [], path: [`g${gen}`, ...node.path.slice(1)] };
    const arity = node.arity();
    for (let i = 0; i < arity; i++) params.push(p.newLocal());
    if (node.buildsObject()) planObjectRules(p, node, fn);
    else planPlainRules(p, node.rules, fn);
    p.loc = node.rules[0]?.rule.head.loc;
    fn.blocks.push(p.blockWith({ type: 'ReturnLocalStmt', source: ret }));
    p.funcs.push(fn);
    p.addFunc(path, fn.name);
    return fn.name;
  } finally {
    p.inProgress.delete(guard);
    Object.assign(p, saved);
  }
}

function freshScope(): VarStack {
  return new VarStack(new Map([['input', INPUT], ['data', DATA]]));
}

/** Unifies the function's parameter locals with the clause's arg patterns. */
function planParams(p: Planner, params: Local[], args: Term[], i: number, iter: () => void): void {
  if (i >= args.length) return iter();
  planUnifyLocal(p, local(params[i]), args[i], () => planParams(p, params, args, i + 1, iter));
}

function planPlainRules(p: Planner, rules: RuleEntry[], fn: Func): void {
  const ret = fn.return;
  const kind = rules.find((r) => !r.rule.default)?.rule.head.kind ?? 'complete';
  const arity = rules[0].rule.head.args?.length ?? 0;
  for (const r of rules) {
    const k = r.rule.head.kind;
    const sameKind = r.rule.default ? k === 'complete' || k === 'function' : k === kind;
    if (!sameKind || (r.rule.head.args?.length ?? 0) !== arity) {
      p.fail('rego_type_error', `conflicting rules ${refGroundPrefix(rules[0].ref).join('.')} found`, r.rule.loc);
    }
  }
  if (kind === 'partial_set') fn.blocks.push(p.blockWith({ type: 'MakeSetStmt', target: ret }));
  const lresult = p.newLocal();
  const lnext = p.lnext;
  const args = fn.params.slice(2);
  let defaultRule: Rule | undefined;

  for (const entry of rules) {
    const first = entry.rule;
    if (first.default) {
      defaultRule = first;
      continue;
    }
    let blocks: Block[];
    if (!first.else) blocks = fn.blocks;
    else {
      const stmt = { type: 'BlockStmt' as const, blocks: [] as Block[] };
      fn.blocks.push({ stmts: [stmt] });
      blocks = stmt.blocks;
    }
    let prev: Rule | undefined;
    for (let rule: Rule | undefined = first; rule; prev = rule, rule = rule.else) {
      const r = rule;
      p.loc = r.head.loc;
      p.lnext = lnext;
      p.vars = freshScope();
      const curr: Block = { stmts: [] };
      blocks.push(curr);
      p.curr = curr;
      if (prev) p.emit({ type: 'IsUndefinedStmt', source: lresult });
      else p.emit({ type: 'ResetLocalStmt', target: lresult });
      planParams(p, args, r.head.args ?? [], 0, () =>
        planQuery(p, r.body, 0, () => {
          p.loc = r.head.loc;
          if (kind === 'partial_set') {
            return planTerm(p, r.head.key!, () => p.emit({ type: 'SetAddStmt', set: ret, value: p.ltarget }));
          }
          planTerm(p, headValue(r), () => p.emit({ type: 'AssignVarOnceStmt', target: lresult, source: p.ltarget }));
        }),
      );
    }
    if (kind !== 'partial_set') {
      p.loc = first.head.loc;
      const end = p.blockWith(
        { type: 'IsDefinedStmt', source: lresult },
        { type: 'AssignVarOnceStmt', target: ret, source: local(lresult) },
      );
      blocks.push(end);
    }
  }

  if (defaultRule) {
    const d = defaultRule;
    p.loc = d.head.loc;
    p.lnext = lnext;
    p.vars = freshScope();
    const block = p.blockWith({ type: 'IsUndefinedStmt', source: ret });
    fn.blocks.push(block);
    p.curr = block;
    planQuery(p, d.body, 0, () => {
      p.loc = d.head.loc;
      planTerm(p, headValue(d), () => p.emit({ type: 'AssignVarOnceStmt', target: ret, source: p.ltarget }));
    });
  }
}

function headValue(r: Rule): Term {
  return r.head.value ?? { value: { type: 'boolean', value: true }, loc: r.head.loc };
}

/** Rules whose head refs go below this node: build one object from all of them. */
function planObjectRules(p: Planner, node: TrieNode, fn: Func): void {
  const ret = fn.return;
  fn.blocks.push(p.blockWith({ type: 'MakeObjectStmt', target: ret }));
  const lnext = p.lnext;
  for (const entry of node.rules) {
    const r = entry.rule;
    const suffix = entry.ref.slice(node.path.length);
    if (suffix.length === 0 || r.else || r.default) {
      p.fail('rego_type_error', `conflicting rules ${node.path.join('.')} found`, r.loc);
    }
    p.loc = r.head.loc;
    p.lnext = lnext;
    p.vars = freshScope();
    const curr: Block = { stmts: [] };
    fn.blocks.push(curr);
    p.curr = curr;
    planQuery(p, r.body, 0, () => {
      p.loc = r.head.loc;
      if (r.head.kind === 'partial_set') {
        // a.b[x] contains y: the innermost level is a set.
        return planTermSlice(p, suffix, (keys) => planTerm(p, r.head.key!, () => insertNested(p, ret, keys, p.ltarget, true)));
      }
      planTermSlice(p, suffix, (keys) => planTerm(p, headValue(r), () => insertNested(p, ret, keys, p.ltarget)));
    });
  }
  // Descendant nodes' rules (a.b.c := 1 below a[x].y := 2) land at their relative paths.
  const visit = (n: TrieNode, rel: string[]): void => {
    for (const key of n.childKeys()) {
      const child = n.child(key)!;
      if (child.hasRules()) {
        if (child.arity() > 0) continue;
        const name = planRules(p, child);
        p.lnext = Math.max(p.lnext, lnext);
        p.vars = freshScope();
        const block: Block = { stmts: [] };
        fn.blocks.push(block);
        p.curr = block;
        const value = p.newLocal();
        p.emit({ type: 'CallStmt', func: name, args: [local(INPUT), local(DATA)], result: value });
        insertNested(p, ret, [...rel, key].map((k) => p.str(k)), local(value));
      } else visit(child, [...rel, key]);
    }
  };
  visit(node, []);
}

/**
 * obj[k1]...[kn-1][kn] = value, creating missing intermediate objects; the last insert is checked
 * (a set at the innermost level for `contains` rules). Intermediate objects are written back to their
 * parents afterwards, so the result does not depend on DotStmt returning a shared reference.
 */
function insertNested(p: Planner, obj: Local, keys: Operand[], value: Operand, intoSet = false): void {
  const path: Array<{ parent: Local; key: Operand; child: Local }> = [];
  let cur = obj;
  const levels = intoSet ? keys.length : keys.length - 1;
  for (let i = 0; i < levels; i++) {
    const child = p.newLocal();
    p.emit({ type: 'ResetLocalStmt', target: child });
    p.emit({ type: 'BlockStmt', blocks: [p.blockWith({ type: 'DotStmt', source: local(cur), key: keys[i], target: child })] });
    p.emit({
      type: 'BlockStmt',
      blocks: [
        p.blockWith(
          { type: 'IsUndefinedStmt', source: child },
          i === keys.length - 1 ? { type: 'MakeSetStmt', target: child } : { type: 'MakeObjectStmt', target: child },
        ),
      ],
    });
    path.push({ parent: cur, key: keys[i], child });
    cur = child;
  }
  if (intoSet) p.emit({ type: 'SetAddStmt', value, set: cur });
  else p.emit({ type: 'ObjectInsertOnceStmt', key: keys[keys.length - 1], value, object: cur });
  for (let i = path.length - 1; i >= 0; i--) {
    p.emit({ type: 'ObjectInsertStmt', key: path[i].key, value: local(path[i].child), object: path[i].parent });
  }
}
