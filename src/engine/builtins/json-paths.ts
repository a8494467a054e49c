// json.filter / json.remove: keep or drop the parts of a document named by JSON paths
// ("a/b/0" strings or ["a", "b", 0] arrays), as OPA's built-ins of the same names.
import { arr, BuiltinError, obj, typeName } from './errors';
import type { HostImpl } from './types';

type Path = string[];

function parsePaths(name: string, v: unknown): Path[] {
  const list = arr(name, 2, v, 'one of {array, set}');
  return list.map((p) => {
    if (typeof p === 'string') return p.replace(/^\//, '').split('/').filter((s, i, a) => s !== '' || a.length > 1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (Array.isArray(p)) return p.map((s) => String(s));
    throw new BuiltinError('eval_type_error', `${name}: operand 2 must be one of {set, array} containing string paths or array of path segments but got ${typeName(p)}`);
  });
}

interface Trie {
  [key: string]: Trie | true;
}

function buildTrie(paths: Path[]): Trie {
  const root: Trie = {};
  for (const p of paths) {
    let node = root;
    p.forEach((seg, i) => {
      if (node[seg] === true) return;
      if (i === p.length - 1) node[seg] = true;
      else node = (node[seg] = (node[seg] as Trie | undefined) ?? {}) as Trie;
    });
  }
  return root;
}

function filter(v: unknown, t: Trie): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    v.forEach((x, i) => {
      const sub = t[String(i)];
      if (sub === true) out.push(x);
      else if (sub) {
        const f = filter(x, sub);
        if (f !== undefined) out.push(f);
      }
    });
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const sub = t[k];
      if (sub === true) out[k] = x;
      else if (sub) {
        const f = filter(x, sub);
        if (f !== undefined) out[k] = f;
      }
    }
    return out;
  }
  return undefined;
}

function remove(v: unknown, t: Trie): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    v.forEach((x, i) => {
      const sub = t[String(i)];
      if (sub === true) return;
      out.push(sub ? remove(x, sub) : x);
    });
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const sub = t[k];
      if (sub === true) continue;
      out[k] = sub ? remove(x, sub) : x;
    }
    return out;
  }
  return v;
}

export const jsonPathBuiltins: Record<string, HostImpl> = {
  'json.filter': { arity: 2, fn: (o, p) => filter(obj('json.filter', 1, o), buildTrie(parsePaths('json.filter', p))) ?? {} },
  'json.remove': { arity: 2, fn: (o, p) => remove(obj('json.remove', 1, o), buildTrie(parsePaths('json.remove', p))) },
};
