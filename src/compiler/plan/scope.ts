// Variable scopes of the planner: a stack of frames mapping Rego var names to IR locals. Lookups walk
// outward (closures see enclosing vars); bindings go to the innermost frame and vanish when it pops.

import type { Local } from '../ir/ir';

export class VarStack {
  private frames: Array<Map<string, Local>>;

  constructor(root: Map<string, Local>) {
    this.frames = [root];
  }

  get(name: string): Local | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const l = this.frames[i].get(name);
      if (l !== undefined) return l;
    }
    return undefined;
  }

  put(name: string, l: Local): void {
    this.frames[this.frames.length - 1].set(name, l);
  }

  push(): void {
    this.frames.push(new Map());
  }

  pop(): void {
    this.frames.pop();
  }
}
