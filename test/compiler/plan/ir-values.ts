// Test-only Rego values for the reference IR interpreter: JS null/boolean/number/string/array plus
// RObject and RSet keyed by a canonical encoding, OPA's total order, and JSON conversion.

export type RValue = null | boolean | number | string | RValue[] | RObject | RSet;

/** Canonical text of a value: equal values (by Rego semantics) have equal keys. */
export function keyOf(v: RValue): string {
  if (v === null) return 'n';
  if (typeof v === 'boolean') return v ? 'T' : 'F';
  if (typeof v === 'number') return `#${Object.is(v, -0) ? 0 : v}`;
  if (typeof v === 'string') return `s${JSON.stringify(v)}`;
  if (Array.isArray(v)) return `[${v.map(keyOf).join(',')}]`;
  if (v instanceof RObject) return `{${[...v.map.keys()].sort().map((k) => `${k}:${keyOf(v.map.get(k)![1])}`).join(',')}}`;
  return `<${[...v.map.keys()].sort().join(',')}>`;
}

export class RObject {
  readonly map = new Map<string, [RValue, RValue]>();

  static from(entries: Array<[RValue, RValue]>): RObject {
    const o = new RObject();
    for (const [k, v] of entries) o.set(k, v);
    return o;
  }

  get(k: RValue): RValue | undefined {
    return this.map.get(keyOf(k))?.[1];
  }

  has(k: RValue): boolean {
    return this.map.has(keyOf(k));
  }

  set(k: RValue, v: RValue): void {
    this.map.set(keyOf(k), [k, v]);
  }

  delete(k: RValue): void {
    this.map.delete(keyOf(k));
  }

  entries(): Array<[RValue, RValue]> {
    return [...this.map.values()].sort((a, b) => compare(a[0], b[0]));
  }

  get size(): number {
    return this.map.size;
  }

  copy(): RObject {
    const o = new RObject();
    for (const [k, e] of this.map) o.map.set(k, e);
    return o;
  }
}

export class RSet {
  readonly map = new Map<string, RValue>();

  static from(items: RValue[]): RSet {
    const s = new RSet();
    for (const x of items) s.add(x);
    return s;
  }

  add(v: RValue): void {
    this.map.set(keyOf(v), v);
  }

  has(v: RValue): boolean {
    return this.map.has(keyOf(v));
  }

  values(): RValue[] {
    return [...this.map.values()].sort(compare);
  }

  get size(): number {
    return this.map.size;
  }
}

function rank(v: RValue): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 4;
  if (v instanceof RObject) return 5;
  return 6;
}

/** OPA's total order: null < booleans < numbers < strings < arrays < objects < sets. */
export function compare(a: RValue, b: RValue): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'boolean') return Number(a) - Number(b as boolean);
  if (typeof a === 'number') return a < (b as number) ? -1 : a > (b as number) ? 1 : 0;
  if (typeof a === 'string') return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  if (Array.isArray(a)) {
    const bb = b as RValue[];
    for (let i = 0; i < Math.min(a.length, bb.length); i++) {
      const c = compare(a[i], bb[i]);
      if (c !== 0) return c;
    }
    return a.length - bb.length;
  }
  if (a instanceof RObject) {
    const ea = a.entries();
    const eb = (b as RObject).entries();
    for (let i = 0; i < Math.min(ea.length, eb.length); i++) {
      const c = compare(ea[i][0], eb[i][0]) || compare(ea[i][1], eb[i][1]);
      if (c !== 0) return c;
    }
    return ea.length - eb.length;
  }
  if (a instanceof RSet) {
    const va = a.values();
    const vb = (b as RSet).values();
    for (let i = 0; i < Math.min(va.length, vb.length); i++) {
      const c = compare(va[i], vb[i]);
      if (c !== 0) return c;
    }
    return va.length - vb.length;
  }
  return 0;
}

export function equal(a: RValue, b: RValue): boolean {
  return keyOf(a) === keyOf(b);
}

/** Converts parsed JSON/YAML into a value (objects get string keys). */
export function fromJSON(x: unknown): RValue {
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean' || typeof x === 'number' || typeof x === 'string') return x;
  if (Array.isArray(x)) return x.map(fromJSON);
  if (x instanceof Date) return x.toISOString();
  const o = new RObject();
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) o.set(k, fromJSON(v));
  return o;
}

/** Converts to JSON as OPA serializes: sets become sorted arrays, non-string keys their JSON text. */
export function toJSON(v: RValue): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toJSON);
  if (v instanceof RSet) return v.values().map(toJSON);
  const out: Record<string, unknown> = {};
  for (const [k, x] of v.entries()) out[typeof k === 'string' ? k : JSON.stringify(toJSON(k))] = toJSON(x);
  return out;
}

export function typeName(v: RValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return 'array';
  if (v instanceof RObject) return 'object';
  return 'set';
}
