// Recursion check: builds OPA's rule dependency graph (a rule depends on every rule a ref in its
// head, body or else chain may read, after import/package resolution) and reports each rule that
// can reach itself as rego_recursion_error "rule data.x.p is recursive: data.x.p -> data.x.q -> data.x.p".

import { walker, type Term } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';
import type { Program, RuleInfo } from './program';
import { groundNames, refReaches, resolveRef, ruleLocals, walkRule } from './program';

/** For each rule, the rules it reads (direct dependencies), in source order without duplicates. */
export function dependencyGraph(p: Program): Map<RuleInfo, RuleInfo[]> {
  const graph = new Map<RuleInfo, RuleInfo[]>();
  const index = new RuleIndex(p.rules);
  for (const info of p.rules) {
    const locals = ruleLocals(info.rule);
    const deps = new Set<RuleInfo>();
    const onRef = (terms: Term[]) => {
      const resolved = resolveRef(p, info.module, terms, locals);
      if (!resolved || resolved[0].value.type !== 'var' || resolved[0].value.name !== 'data') return;
      index.candidates(groundNames(resolved), (group) => {
        // every clause in a group has the same path, so one test decides for all of them
        if (refReaches(resolved, group[0].path)) for (const other of group) deps.add(other);
      });
    };
    const walk = walker({
      bindings: false,
      term: (t, w) => {
        const v = t.value;
        if (v.type === 'var') {
          onRef([t]);
          return true;
        }
        if (v.type !== 'ref') return false;
        onRef(v.terms);
        if (v.terms[0].value.type !== 'var') w.term(v.terms[0]);
        for (let i = 1; i < v.terms.length; i++) w.term(v.terms[i]);
        return true;
      },
    });
    walkRule(info.rule, walk);
    graph.set(info, [...deps]);
  }
  return graph;
}

/** Reports every rule that depends on itself, with a shortest cycle through it. */
export function checkRecursion(p: Program, graph = dependencyGraph(p)): Diagnostic[] {
  const out: Diagnostic[] = [];
  const onCycle = recursiveRules(p.rules, graph);
  const sets = new Map<RuleInfo, Set<RuleInfo>>();
  const adjSets = (r: RuleInfo): Set<RuleInfo> => {
    let s = sets.get(r);
    if (!s) sets.set(r, (s = new Set(graph.get(r) ?? [])));
    return s;
  };
  for (const info of p.rules) {
    if (!onCycle.has(info)) continue;
    const path = cyclePath(graph, adjSets, info);
    if (path) {
      out.push(
        diagnosticAt(
          'rego_recursion_error',
          info.rule.loc,
          `rule ${info.name} is recursive: ${path.map((x) => x.name).join(' -> ')}`,
        ),
      );
    }
  }
  return out;
}

/** Ground-path trie of rules, to find the rules a ref may read without scanning them all. */
class RuleIndex {
  private readonly root: TrieNode = { groups: new Map(), children: new Map() };

  constructor(rules: RuleInfo[]) {
    for (const r of rules) {
      let n = this.root;
      for (const name of r.ground) {
        let c = n.children.get(name);
        if (!c) n.children.set(name, (c = { groups: new Map(), children: new Map() }));
        n = c;
      }
      const g = n.groups.get(r.name);
      if (g) g.push(r);
      else n.groups.set(r.name, [r]);
    }
  }

  /** Groups of same-path rules whose ground path is a prefix of `ground`, or lies beneath it. */
  candidates(ground: string[], fn: (group: RuleInfo[]) => void): void {
    let n: TrieNode | undefined = this.root;
    for (const name of ground) {
      n.groups.forEach(fn);
      n = n.children.get(name);
      if (!n) return;
    }
    const all = (x: TrieNode): void => {
      x.groups.forEach(fn);
      x.children.forEach(all);
    };
    all(n);
  }
}

interface TrieNode {
  /** Rules by full path name ("data.x.p", "data.x.q[k]") at this ground path. */
  groups: Map<string, RuleInfo[]>;
  children: Map<string, TrieNode>;
}

// Rules on a cycle: members of a strongly connected component with more than one rule, or with a
// self-edge (Tarjan's algorithm, iterative so deep graphs cannot exhaust the stack).
function recursiveRules(rules: RuleInfo[], graph: Map<RuleInfo, RuleInfo[]>): Set<RuleInfo> {
  const index = new Map<RuleInfo, number>();
  const low = new Map<RuleInfo, number>();
  const onStack = new Set<RuleInfo>();
  const stack: RuleInfo[] = [];
  const out = new Set<RuleInfo>();
  let counter = 0;
  for (const root of rules) {
    if (index.has(root)) continue;
    const work: Array<[RuleInfo, number]> = [[root, 0]];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      const adj = graph.get(v) ?? [];
      if (i < adj.length) {
        frame[1]++;
        const w = adj[i];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) {
          low.set(v, Math.min(low.get(v)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === index.get(v)) {
        const scc: RuleInfo[] = [];
        let w: RuleInfo;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== v);
        if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) scc.forEach((x) => out.add(x));
      }
    }
  }
  return out;
}

// Breadth-first search for a shortest path start -> ... -> start (both ends included).
function cyclePath(graph: Map<RuleInfo, RuleInfo[]>, adj: (r: RuleInfo) => Set<RuleInfo>, start: RuleInfo): RuleInfo[] | undefined {
  const parent = new Map<RuleInfo, RuleInfo>();
  const queue: RuleInfo[] = [start];
  const seen = new Set<RuleInfo>([start]);
  for (let qi = 0; qi < queue.length; qi++) {
    const u = queue[qi];
    if (adj(u).has(start)) {
      const path = [u];
      for (let x = u; x !== start; ) {
        x = parent.get(x)!;
        path.unshift(x);
      }
      path.push(start);
      return path;
    }
    for (const v of graph.get(u) ?? []) {
      if (seen.has(v)) continue;
      seen.add(v);
      parent.set(v, u);
      queue.push(v);
    }
  }
  return undefined;
}
