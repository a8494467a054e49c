// Result comparison as OPA's conformance harness does it: result sets of variable bindings,
// sort_bindings (collections whose order is not significant), and expected errors.

/** OPA's value order for JSON-shaped values: null < boolean < number < string < array < object. */
export function compareValues(a: unknown, b: unknown): number {
  const rank = (v: unknown): number => (v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : typeof v === 'string' ? 3 : Array.isArray(v) ? 4 : 5);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
    case 2:
    case 3:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 4: {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareValues(x[i], y[i]);
        if (c) return c;
      }
      return x.length - y.length;
    }
    default: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const kx = Object.keys(x).sort();
      const ky = Object.keys(y).sort();
      for (let i = 0; i < Math.min(kx.length, ky.length); i++) {
        const c = compareValues(kx[i], ky[i]) || compareValues(x[kx[i]], y[ky[i]]);
        if (c) return c;
      }
      return kx.length - ky.length;
    }
  }
}

/** Deep equality in OPA's sense for JSON values (object key order irrelevant). */
export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/** With sort_bindings, array-valued bindings are sorted (they stand for sets / unordered results). */
export function sortBindings(rs: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rs.map((b) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b)) out[k] = Array.isArray(v) ? [...v].sort(compareValues) : v;
    return out;
  });
}

/** Compact deterministic JSON (sorted keys), for messages. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

const dedupe = (xs: Array<Record<string, unknown>>): Array<Record<string, unknown>> => xs.filter((x, i) => i === 0 || compareValues(x, xs[i - 1]) !== 0);

/**
 * Compares a result set with want_result as OPA's harness does: both sides are sets of binding
 * objects (order and duplicates do not matter); within values order matters unless sort_bindings.
 */
export function resultsMatch(want: Array<Record<string, unknown>>, got: Array<Record<string, unknown>>, sort: boolean): boolean {
  const w = dedupe((sort ? sortBindings(want) : want).slice().sort(compareValues));
  const g = dedupe((sort ? sortBindings(got) : got).slice().sort(compareValues));
  if (w.length !== g.length) return false;
  return w.every((x, i) => valuesEqual(x, g[i]));
}

/** Expected-error check: code equality when want_error_code is given, substring match for want_error. */
export function errorMatches(want: { code?: string; message?: string }, got: { code: string; message: string }): boolean {
  if (want.code !== undefined && want.code !== got.code) return false;
  if (want.message !== undefined && !got.message.includes(want.message)) return false;
  return true;
}
