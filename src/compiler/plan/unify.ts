// Unification (`=`, `:=`, head args, scan keys): binds unbound vars to values, compares known
// values, and destructures array/object patterns on either side.

import type { ArrayValue, ObjectValue, Term } from '../ast';
import { valueToString } from '../ast';
import type { Local, Operand } from '../ir/ir';
import type { Iter, Planner } from './state';
import { local } from './state';
import { planObject, planTerm } from './terms';

const VALUE_TYPES = new Set(['null', 'boolean', 'number', 'string', 'ref', 'set', 'setcomp', 'arraycomp', 'objectcomp', 'call']);

export function planUnify(p: Planner, a: Term, b: Term, iter: Iter): void {
  const va = a.value;
  const vb = b.value;
  if (VALUE_TYPES.has(va.type)) {
    // A value on the left and a pattern on the right: destructure the right.
    return planTerm(p, a, () => planUnifyLocal(p, p.ltarget, b, iter));
  }
  if (va.type === 'var') return planUnifyVar(p, va.name, b, iter);
  if (va.type === 'array') {
    if (vb.type === 'var') return planUnifyVar(p, vb.name, a, iter);
    if (vb.type === 'array') {
      if (va.items.length !== vb.items.length) return; // never unifies: the rest is unreachable
      const rec = (i: number): void => (i === va.items.length ? iter() : planUnify(p, va.items[i], vb.items[i], () => rec(i + 1)));
      return rec(0);
    }
    if (vb.type === 'object') return;
    return planTerm(p, b, () => planUnifyLocalArray(p, p.ltarget, va, iter));
  }
  if (va.type === 'object') {
    if (vb.type === 'var') return planUnifyVar(p, vb.name, a, iter);
    if (vb.type === 'object') return planUnifyObjects(p, va, vb, iter);
    if (vb.type === 'array') return;
    return planTerm(p, b, () => planUnifyLocalObject(p, p.ltarget, va, iter));
  }
  p.fail('rego_compile_error', `cannot unify ${valueToString(va)} with ${valueToString(vb)}`, a.loc);
}

function planUnifyVar(p: Planner, name: string, b: Term, iter: Iter): void {
  const la = p.vars.get(name);
  if (la !== undefined) return planUnifyLocal(p, local(la), b, iter);
  planTerm(p, b, () => {
    // `a` may have become bound while planning b, as in `a = input.x[a]`.
    const again = p.vars.get(name);
    if (again !== undefined) {
      p.emit({ type: 'EqualStmt', a: local(again), b: p.ltarget });
    } else {
      const target = p.newLocal();
      p.vars.put(name, target);
      p.emit({ type: 'AssignVarStmt', source: p.ltarget, target });
    }
    iter();
  });
}

/** Unifies a known value (operand) with a term that may contain unbound vars. */
export function planUnifyLocal(p: Planner, a: Operand, b: Term, iter: Iter): void {
  const vb = b.value;
  switch (vb.type) {
    case 'var': {
      const lv = p.vars.get(vb.name);
      if (lv !== undefined) {
        p.emit({ type: 'EqualStmt', a, b: local(lv) });
        return iter();
      }
      if (vb.name.startsWith('$') && a.type === 'local') {
        // A wildcard is never read again: no copy needed.
        p.vars.put(vb.name, a.value);
        return iter();
      }
      const target = p.newLocal();
      p.vars.put(vb.name, target);
      p.emit({ type: 'AssignVarStmt', source: a, target });
      return iter();
    }
    case 'array':
      return planUnifyLocalArray(p, a, vb, iter);
    case 'object':
      return planUnifyLocalObject(p, a, vb, iter);
    default:
      return planTerm(p, b, () => {
        p.emit({ type: 'EqualStmt', a, b: p.ltarget });
        iter();
      });
  }
}

function planUnifyLocalArray(p: Planner, a: Operand, b: ArrayValue, iter: Iter): void {
  p.emit({ type: 'IsArrayStmt', source: a });
  const blen = p.newLocal();
  const alen = p.newLocal();
  p.emit({ type: 'LenStmt', source: a, target: alen });
  p.emit({ type: 'MakeNumberIntStmt', value: BigInt(b.items.length), target: blen });
  p.emit({ type: 'EqualStmt', a: local(alen), b: local(blen) });
  const lkey = p.newLocal();
  p.emit({ type: 'MakeNumberIntStmt', value: 0n, target: lkey });
  const rec = (i: number): void => {
    if (i === b.items.length) return iter();
    // A fresh local per element: the element's pattern may bind it as a var.
    const lval: Local = p.newLocal();
    p.emit({ type: 'AssignIntStmt', value: BigInt(i), target: lkey });
    p.emit({ type: 'DotStmt', source: a, key: local(lkey), target: lval });
    planUnifyLocal(p, local(lval), b.items[i], () => rec(i + 1));
  };
  rec(0);
}

function planUnifyLocalObject(p: Planner, a: Operand, b: ObjectValue, iter: Iter): void {
  p.emit({ type: 'IsObjectStmt', source: a });
  const blen = p.newLocal();
  const alen = p.newLocal();
  p.emit({ type: 'LenStmt', source: a, target: alen });
  p.emit({ type: 'MakeNumberIntStmt', value: BigInt(b.items.length), target: blen });
  p.emit({ type: 'EqualStmt', a: local(alen), b: local(blen) });
  const rec = (i: number): void => {
    if (i === b.items.length) return iter();
    const [k, v] = b.items[i];
    planTerm(p, k, () => {
      const lval = p.newLocal();
      p.emit({ type: 'DotStmt', source: a, key: p.ltarget, target: lval });
      planUnifyLocal(p, local(lval), v, () => rec(i + 1));
    });
  };
  rec(0);
}

function keyString(t: Term): string {
  return valueToString(t.value);
}

function planUnifyObjects(p: Planner, a: ObjectValue, b: ObjectValue, iter: Iter): void {
  if (a.items.length !== b.items.length) return;
  const bmap = new Map(b.items.map(([k, v]) => [keyString(k), v] as [string, Term]));
  const shared = a.items.filter(([k]) => bmap.has(keyString(k)));
  if (shared.length !== a.items.length) {
    // Keys that are not literally the same (e.g. vars) are compared on the built objects.
    return planObject(p, a, () => {
      const la = p.ltarget;
      planObject(p, b, () => {
        p.emit({ type: 'EqualStmt', a: la, b: p.ltarget });
        iter();
      });
    });
  }
  const rec = (i: number): void => {
    if (i === shared.length) return iter();
    const [k, v] = shared[i];
    planUnify(p, v, bmap.get(keyString(k))!, () => rec(i + 1));
  };
  rec(0);
}
