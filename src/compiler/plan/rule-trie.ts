// The tree of virtual documents: one node per ground path segment under data (data.a.b → a → b),
// holding the rules whose head ref's ground prefix ends there. `with data.x as v` hides a subtree
// while an expression is planned, so references fall through to the (replaced) base document.

import type { Module, Rule, Term } from '../ast';
import { refGroundPrefix, ruleRef } from '../ast';

/** A rule together with its full head ref (data.pkg.name...) and the module it came from. */
export interface RuleEntry {
  rule: Rule;
  module: Module;
  /** data, pkg..., name, further head ref parts */
  ref: Term[];
}

export class TrieNode {
  readonly children = new Map<string, TrieNode>();
  readonly rules: RuleEntry[] = [];
  private hidden = 0;

  constructor(readonly path: string[]) {}

  child(key: string): TrieNode | undefined {
    const c = this.children.get(key);
    return c && !c.hidden ? c : undefined;
  }

  /** Visible child keys in a stable (sorted) order. */
  childKeys(): string[] {
    return [...this.children.keys()].filter((k) => !this.children.get(k)!.hidden).sort();
  }

  hasRules(): boolean {
    return this.rules.length > 0;
  }

  /** Number of function args of the rules here (0 for documents). */
  arity(): number {
    return this.rules[0]?.rule.head.args?.length ?? 0;
  }

  /** True when some rule here has a non-string part after the ground prefix (p[k] := v, a[x].b := 1). */
  buildsObject(): boolean {
    return this.rules.some((r) => r.ref.length > this.path.length);
  }

  isHidden(): boolean {
    return this.hidden > 0;
  }

  hide(): void {
    this.hidden++;
  }

  unhide(): void {
    this.hidden--;
  }
}

export class RuleTrie {
  readonly root = new TrieNode(['data']);

  static build(modules: Module[]): RuleTrie {
    const t = new RuleTrie();
    for (const m of modules) {
      if (m.rules.length === 0) t.insert(refGroundPrefix(m.package.path));
      for (const r of m.rules) {
        const ref = ruleRef(m, r);
        const prefix = refGroundPrefix(ref);
        // A partial set `p contains x` lives at p; its key is not part of the path.
        t.insert(prefix).rules.push({ rule: r, module: m, ref });
      }
    }
    return t;
  }

  insert(path: string[]): TrieNode {
    let n = this.root;
    for (let i = 1; i < path.length; i++) {
      let c = n.children.get(path[i]);
      if (!c) n.children.set(path[i], (c = new TrieNode(path.slice(0, i + 1))));
      n = c;
    }
    return n;
  }

  /** The node at a data path (["data", ...]) if visible. */
  lookup(path: string[]): TrieNode | undefined {
    if (path[0] !== 'data') return undefined;
    let n: TrieNode | undefined = this.root;
    for (let i = 1; i < path.length && n; i++) n = n.child(path[i]);
    return n;
  }
}
