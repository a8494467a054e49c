// Owns the NATIVE built-ins (Rego functions implemented in the runtime): arithmetic, comparison,
// collections, objects, sets, type checks and simple strings. Each takes and returns value
// addresses; 0 means undefined (OPA's wasm treats built-in errors as undefined); HOST_FALLBACK
// asks the generated code to call the host implementation instead.
import {
  T_NULL, T_BOOL, T_NUM, T_STR, T_ARR, T_OBJ, T_SET,
  malloc, heapPtr, setHeap, vtype, boolV, intV, floatV, numIsInt, numInt, numF64, strV, strLen, strPtr,
  arrV, arrLen, arrGet, arrPush, objV, setV, mapLen, mapKey, mapVal, mapGet, mapPut, mapFind, setAdd,
  compare, shallowCopy, valueGet, valueLength,
} from "./value";
import { typeError, builtinError } from "./errors";
import { bigAdd, bigMul, bigRem, bigDivExact, isInteger } from "./bigint";

export const HOST_FALLBACK: usize = 1;

function isNum(v: usize): bool {
  return v != 0 && vtype(v) == T_NUM;
}
function isStr(v: usize): bool {
  return v != 0 && vtype(v) == T_STR;
}
function isSetV(v: usize): bool {
  return v != 0 && vtype(v) == T_SET;
}

/** A literal (ASCII) AssemblyScript string as a runtime string value. */
function litStr(s: string): usize {
  const n = s.length;
  const p = malloc(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
  return strV(p, <u32>n);
}

// ---------------------------------------------------------------- comparison

export function b_equal(a: usize, b: usize): usize {
  return boolV(compare(a, b) == 0);
}
export function b_neq(a: usize, b: usize): usize {
  return boolV(compare(a, b) != 0);
}
export function b_lt(a: usize, b: usize): usize {
  return boolV(compare(a, b) < 0);
}
export function b_lte(a: usize, b: usize): usize {
  return boolV(compare(a, b) <= 0);
}
export function b_gt(a: usize, b: usize): usize {
  return boolV(compare(a, b) > 0);
}
export function b_gte(a: usize, b: usize): usize {
  return boolV(compare(a, b) >= 0);
}

// ---------------------------------------------------------------- arithmetic

function numErr(fn: string, a: usize, b: usize): usize {
  return !isNum(a) ? typeError(fn, 1, "number", a) : typeError(fn, 2, "number", b);
}

export function b_plus(a: usize, b: usize): usize {
  if (!isNum(a) || !isNum(b)) return numErr("plus", a, b);
  if (numIsInt(a) && numIsInt(b)) {
    const x = numInt(a);
    const y = numInt(b);
    const r = x + y;
    // Signed overflow iff both operands have the sign opposite to the result.
    if (((x ^ r) & (y ^ r)) >= 0) return intV(r);
  }
  if (isInteger(a) && isInteger(b)) return bigAdd(a, b, false);
  return floatV(numF64(a) + numF64(b));
}

function setDiff(a: usize, b: usize): usize {
  const r = setV(mapLen(a));
  const n = mapLen(a);
  for (let i: u32 = 0; i < n; i++) {
    const k = mapKey(a, i);
    if (mapFind(b, k) < 0) setAdd(r, k);
  }
  return r;
}

export function b_minus(a: usize, b: usize): usize {
  if (isSetV(a) && isSetV(b)) return setDiff(a, b);
  if (isSetV(a)) return typeError("minus", 2, "set", b);
  if (isNum(a) && !isNum(b)) return typeError("minus", 2, "number", b);
  if (!isNum(a)) return typeError("minus", 1, "one of {number, set}", a);
  if (numIsInt(a) && numIsInt(b)) {
    const x = numInt(a);
    const y = numInt(b);
    const r = x - y;
    if (((x ^ y) & (x ^ r)) >= 0) return intV(r);
  }
  if (isInteger(a) && isInteger(b)) return bigAdd(a, b, true);
  return floatV(numF64(a) - numF64(b));
}

export function b_mul(a: usize, b: usize): usize {
  if (!isNum(a) || !isNum(b)) return numErr("mul", a, b);
  if (numIsInt(a) && numIsInt(b)) {
    const x = numInt(a);
    const y = numInt(b);
    const ax = x < 0 ? -x : x;
    const ay = y < 0 ? -y : y;
    if (ax < 0x7fffffff && ay < 0x7fffffff) return intV(x * y);
  }
  if (isInteger(a) && isInteger(b)) return bigMul(a, b);
  return floatV(numF64(a) * numF64(b));
}

export function b_div(a: usize, b: usize): usize {
  if (!isNum(a) || !isNum(b)) return numErr("div", a, b);
  if (numF64(b) == 0) return builtinError("div", "divide by zero");
  if (numIsInt(a) && numIsInt(b)) {
    const x = numInt(a);
    const y = numInt(b);
    if (!(x == i64.MIN_VALUE && y == -1) && x % y == 0) return intV(x / y);
  } else if (isInteger(a) && isInteger(b)) {
    const q = bigDivExact(a, b);
    if (q != 0) return q;
  }
  return floatV(numF64(a) / numF64(b));
}

function asInt(v: usize, ok: usize): i64 {
  // Writes 1 at ok when v is an integral number.
  if (!isNum(v)) return 0;
  if (numIsInt(v)) {
    store<u8>(ok, 1);
    return numInt(v);
  }
  const f = numF64(v);
  if (f == Math.floor(f) && Math.abs(f) < 9.2e18) {
    store<u8>(ok, 1);
    return <i64>f;
  }
  return 0;
}

const OKS: usize = memory.data(8, 8);

export function b_rem(a: usize, b: usize): usize {
  if (!isNum(a) || !isNum(b)) return numErr("rem", a, b);
  if (!(numIsInt(a) && numIsInt(b)) && isInteger(a) && isInteger(b)) {
    // Beyond int64: exact.
    if (numF64(b) == 0) return builtinError("rem", "modulo by zero");
    return bigRem(a, b);
  }
  store<u16>(OKS, 0);
  const x = asInt(a, OKS);
  const y = asInt(b, OKS + 1);
  if (load<u16>(OKS) != 0x0101) return builtinError("rem", "modulo on floating-point number");
  if (y == 0) return builtinError("rem", "modulo by zero");
  if (y == -1) return intV(0);
  return intV(x % y);
}

export function b_abs(a: usize): usize {
  if (!isNum(a)) return typeError("abs", 1, "number", a);
  if (numIsInt(a)) {
    const x = numInt(a);
    if (x != i64.MIN_VALUE) return intV(x < 0 ? -x : x);
  }
  return floatV(Math.abs(numF64(a)));
}

export function b_round(a: usize): usize {
  if (!isNum(a)) return typeError("round", 1, "number", a);
  if (numIsInt(a)) return a;
  const f = numF64(a);
  // Half away from zero, as Go's math.Round.
  return floatV(f < 0 ? -Math.floor(-f + 0.5) : Math.floor(f + 0.5));
}
export function b_ceil(a: usize): usize {
  if (!isNum(a)) return typeError("ceil", 1, "number", a);
  return numIsInt(a) ? a : floatV(Math.ceil(numF64(a)));
}
export function b_floor(a: usize): usize {
  if (!isNum(a)) return typeError("floor", 1, "number", a);
  return numIsInt(a) ? a : floatV(Math.floor(numF64(a)));
}

// ---------------------------------------------------------------- sets

export function b_and(a: usize, b: usize): usize {
  if (!isSetV(a)) return typeError("and", 1, "set", a);
  if (!isSetV(b)) return typeError("and", 2, "set", b);
  const r = setV(4);
  const n = mapLen(a);
  for (let i: u32 = 0; i < n; i++) {
    const k = mapKey(a, i);
    if (mapFind(b, k) >= 0) setAdd(r, k);
  }
  return r;
}

export function b_or(a: usize, b: usize): usize {
  if (!isSetV(a)) return typeError("or", 1, "set", a);
  if (!isSetV(b)) return typeError("or", 2, "set", b);
  const r = shallowCopy(a);
  const n = mapLen(b);
  for (let i: u32 = 0; i < n; i++) setAdd(r, mapKey(b, i));
  return r;
}

export function b_union(s: usize): usize {
  if (!isSetV(s)) return typeError("union", 1, "set", s);
  const r = setV(4);
  const n = mapLen(s);
  for (let i: u32 = 0; i < n; i++) {
    const x = mapKey(s, i);
    if (!isSetV(x)) return typeError("union", 1, "set of sets", s);
    const m = mapLen(x);
    for (let j: u32 = 0; j < m; j++) setAdd(r, mapKey(x, j));
  }
  return r;
}

export function b_intersection(s: usize): usize {
  if (!isSetV(s)) return typeError("intersection", 1, "set", s);
  const n = mapLen(s);
  if (n == 0) return setV(4);
  let r = mapKey(s, 0);
  if (!isSetV(r)) return typeError("intersection", 1, "set of sets", s);
  for (let i: u32 = 1; i < n; i++) {
    const x = mapKey(s, i);
    if (!isSetV(x)) return typeError("intersection", 1, "set of sets", s);
    r = b_and(r, x);
  }
  return r;
}

// ---------------------------------------------------------------- membership

export function b_member2(x: usize, c: usize): usize {
  if (c == 0) return 0;
  const t = vtype(c);
  if (t == T_SET) return boolV(mapFind(c, x) >= 0);
  if (t == T_ARR) {
    const n = arrLen(c);
    for (let i: u32 = 0; i < n; i++) if (compare(arrGet(c, i), x) == 0) return boolV(true);
    return boolV(false);
  }
  if (t == T_OBJ) {
    const n = mapLen(c);
    for (let i: u32 = 0; i < n; i++) if (compare(mapVal(c, i), x) == 0) return boolV(true);
    return boolV(false);
  }
  return boolV(false);
}

export function b_member3(k: usize, v: usize, c: usize): usize {
  if (c == 0) return 0;
  const t = vtype(c);
  if (t == T_ARR || t == T_OBJ) {
    const got = valueGet(c, k);
    return boolV(got != 0 && compare(got, v) == 0);
  }
  return boolV(false);
}

// ---------------------------------------------------------------- aggregates

export function b_count(v: usize): usize {
  const n = v == 0 ? -1 : valueLength(v);
  return n < 0 ? typeError("count", 1, "one of {array, object, set, string}", v) : intV(<i64>n);
}

/** Elements of an array or set, as an array (sets share storage order = sorted). */
function elems(v: usize): usize {
  if (v == 0) return 0;
  const t = vtype(v);
  if (t == T_ARR) return v;
  if (t == T_SET) {
    const n = mapLen(v);
    const a = arrV(n);
    for (let i: u32 = 0; i < n; i++) arrPush(a, mapKey(v, i));
    return a;
  }
  return 0;
}

export function b_sum(v: usize): usize {
  const a = elems(v);
  if (a == 0) return typeError("sum", 1, "one of {array, set}", v);
  let acc = intV(0);
  const n = arrLen(a);
  for (let i: u32 = 0; i < n; i++) {
    if (!isNum(arrGet(a, i))) return typeError("sum", 1, "collection of numbers", v);
    acc = b_plus(acc, arrGet(a, i));
    if (acc == 0) return 0;
  }
  return acc;
}

export function b_product(v: usize): usize {
  const a = elems(v);
  if (a == 0) return typeError("product", 1, "one of {array, set}", v);
  let acc = intV(1);
  const n = arrLen(a);
  for (let i: u32 = 0; i < n; i++) {
    if (!isNum(arrGet(a, i))) return typeError("product", 1, "collection of numbers", v);
    acc = b_mul(acc, arrGet(a, i));
    if (acc == 0) return 0;
  }
  return acc;
}

export function b_max(v: usize): usize {
  const a = elems(v);
  if (a == 0) return typeError("max", 1, "one of {array, set}", v);
  if (arrLen(a) == 0) return 0;
  let m = arrGet(a, 0);
  for (let i: u32 = 1; i < arrLen(a); i++) if (compare(arrGet(a, i), m) > 0) m = arrGet(a, i);
  return m;
}

export function b_min(v: usize): usize {
  const a = elems(v);
  if (a == 0) return typeError("min", 1, "one of {array, set}", v);
  if (arrLen(a) == 0) return 0;
  let m = arrGet(a, 0);
  for (let i: u32 = 1; i < arrLen(a); i++) if (compare(arrGet(a, i), m) < 0) m = arrGet(a, i);
  return m;
}

export function b_sort(v: usize): usize {
  if (v == 0) return typeError("sort", 1, "one of {array, set}", v);
  if (vtype(v) == T_SET) return elems(v);
  if (vtype(v) != T_ARR) return typeError("sort", 1, "one of {array, set}", v);
  // Sort a copy (stable bottom-up merge sort; duplicates stay, unlike a set).
  const a = shallowCopy(v);
  const n = arrLen(a);
  if (n < 2) return a;
  const mark = heapPtr;
  let src = <usize>load<u32>(a, 12);
  const orig = src;
  let dst = malloc(<usize>n << 2);
  for (let width: u32 = 1; width < n; width <<= 1) {
    for (let lo: u32 = 0; lo < n; lo += width << 1) {
      const mid = min(lo + width, n);
      const hi = min(lo + (width << 1), n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        const x = load<u32>(src + (<usize>i << 2));
        const y = load<u32>(src + (<usize>j << 2));
        if (compare(<usize>y, <usize>x) < 0) {
          store<u32>(dst + (<usize>k << 2), y);
          j++;
        } else {
          store<u32>(dst + (<usize>k << 2), x);
          i++;
        }
        k++;
      }
      while (i < mid) {
        store<u32>(dst + (<usize>k << 2), load<u32>(src + (<usize>i << 2)));
        i++;
        k++;
      }
      while (j < hi) {
        store<u32>(dst + (<usize>k << 2), load<u32>(src + (<usize>j << 2)));
        j++;
        k++;
      }
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src != orig) memory.copy(orig, src, <usize>n << 2);
  setHeap(mark);
  return a;
}

// ---------------------------------------------------------------- arrays

export function b_array_concat(a: usize, b: usize): usize {
  if (a == 0 || vtype(a) != T_ARR) return typeError("array.concat", 1, "array", a);
  if (b == 0 || vtype(b) != T_ARR) return typeError("array.concat", 2, "array", b);
  const r = arrV(arrLen(a) + arrLen(b));
  for (let i: u32 = 0; i < arrLen(a); i++) arrPush(r, arrGet(a, i));
  for (let i: u32 = 0; i < arrLen(b); i++) arrPush(r, arrGet(b, i));
  return r;
}

export function b_array_slice(a: usize, s: usize, e: usize): usize {
  if (a == 0 || vtype(a) != T_ARR) return typeError("array.slice", 1, "array", a);
  store<u16>(OKS, 0);
  let x = asInt(s, OKS);
  let y = asInt(e, OKS + 1);
  if (load<u8>(OKS) == 0) return typeError("array.slice", 2, "integer", s);
  if (load<u8>(OKS + 1) == 0) return typeError("array.slice", 3, "integer", e);
  const n = <i64>arrLen(a);
  if (x < 0) x = 0;
  if (y > n) y = n;
  const r = arrV(4);
  for (let i = x; i < y; i++) arrPush(r, arrGet(a, <u32>i));
  return r;
}

export function b_numbers_range(a: usize, b: usize): usize {
  store<u16>(OKS, 0);
  const x = asInt(a, OKS);
  const y = asInt(b, OKS + 1);
  if (load<u8>(OKS) == 0) return isNum(a) ? builtinError("numbers.range", "operand 1 must be integer") : typeError("numbers.range", 1, "number", a);
  if (load<u8>(OKS + 1) == 0) return isNum(b) ? builtinError("numbers.range", "operand 2 must be integer") : typeError("numbers.range", 2, "number", b);
  const r = arrV(4);
  if (x <= y) for (let i = x; i <= y; i++) arrPush(r, intV(i));
  else for (let i = x; i >= y; i--) arrPush(r, intV(i));
  return r;
}

// ---------------------------------------------------------------- objects

export function b_object_get(o: usize, k: usize, d: usize): usize {
  if (o == 0 || vtype(o) != T_OBJ) return typeError("object.get", 1, "object", o);
  if (k != 0 && vtype(k) == T_ARR) {
    let cur = o;
    for (let i: u32 = 0; i < arrLen(k); i++) {
      cur = valueGet(cur, arrGet(k, i));
      if (cur == 0) return d;
    }
    return cur;
  }
  const v = mapGet(o, k);
  return v == 0 ? d : v;
}

export function b_object_keys(o: usize): usize {
  if (o == 0 || vtype(o) != T_OBJ) return typeError("object.keys", 1, "object", o);
  const r = setV(mapLen(o));
  for (let i: u32 = 0; i < mapLen(o); i++) setAdd(r, mapKey(o, i));
  return r;
}

function unionOverwrite(a: usize, b: usize): usize {
  const r = shallowCopy(a);
  for (let i: u32 = 0; i < mapLen(b); i++) {
    const k = mapKey(b, i);
    const bv = mapVal(b, i);
    const av = mapGet(a, k);
    if (av != 0 && vtype(av) == T_OBJ && vtype(bv) == T_OBJ) mapPut(r, k, unionOverwrite(av, bv));
    else mapPut(r, k, bv);
  }
  return r;
}

export function b_object_union(a: usize, b: usize): usize {
  if (a == 0 || vtype(a) != T_OBJ) return typeError("object.union", 1, "object", a);
  if (b == 0 || vtype(b) != T_OBJ) return typeError("object.union", 2, "object", b);
  return unionOverwrite(a, b);
}

/** Keys named by an array, set or object (its keys), as a set; 0 on a type error. */
function keySet(k: usize): usize {
  if (k == 0) return 0;
  const t = vtype(k);
  if (t == T_SET) return k;
  const r = setV(4);
  if (t == T_ARR) {
    for (let i: u32 = 0; i < arrLen(k); i++) setAdd(r, arrGet(k, i));
    return r;
  }
  if (t == T_OBJ) {
    for (let i: u32 = 0; i < mapLen(k); i++) setAdd(r, mapKey(k, i));
    return r;
  }
  return 0;
}

export function b_object_remove(o: usize, k: usize): usize {
  if (o == 0 || vtype(o) != T_OBJ) return typeError("object.remove", 1, "object", o);
  const ks = keySet(k);
  if (ks == 0) return typeError("object.remove", 2, "one of {object, set, array}", k);
  const r = objV(mapLen(o));
  for (let i: u32 = 0; i < mapLen(o); i++) {
    if (mapFind(ks, mapKey(o, i)) < 0) mapPut(r, mapKey(o, i), mapVal(o, i));
  }
  return r;
}

export function b_object_filter(o: usize, k: usize): usize {
  if (o == 0 || vtype(o) != T_OBJ) return typeError("object.filter", 1, "object", o);
  const ks = keySet(k);
  if (ks == 0) return typeError("object.filter", 2, "one of {object, set, array}", k);
  const r = objV(4);
  for (let i: u32 = 0; i < mapLen(o); i++) {
    if (mapFind(ks, mapKey(o, i)) >= 0) mapPut(r, mapKey(o, i), mapVal(o, i));
  }
  return r;
}

// ---------------------------------------------------------------- types

export function b_is_number(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_NUM);
}
export function b_is_string(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_STR);
}
export function b_is_boolean(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_BOOL);
}
export function b_is_array(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_ARR);
}
export function b_is_set(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_SET);
}
export function b_is_object(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_OBJ);
}
export function b_is_null(v: usize): usize {
  return boolV(v != 0 && vtype(v) == T_NULL);
}

export function b_type_name(v: usize): usize {
  if (v == 0) return 0;
  switch (vtype(v)) {
    case T_NULL: return litStr("null");
    case T_BOOL: return litStr("boolean");
    case T_NUM: return litStr("number");
    case T_STR: return litStr("string");
    case T_ARR: return litStr("array");
    case T_OBJ: return litStr("object");
    case T_SET: return litStr("set");
  }
  return 0;
}

// ---------------------------------------------------------------- strings

export function b_concat(d: usize, c: usize): usize {
  if (!isStr(d)) return typeError("concat", 1, "string", d);
  const a = elems(c);
  if (a == 0) return typeError("concat", 2, "one of {set, array}", c);
  const n = arrLen(a);
  let total: usize = 0;
  for (let i: u32 = 0; i < n; i++) {
    const s = arrGet(a, i);
    if (!isStr(s)) return typeError("concat", 2, "array of strings", c);
    total += <usize>strLen(s);
  }
  if (n > 1) total += <usize>strLen(d) * <usize>(n - 1);
  const p = malloc(total);
  let w = p;
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0) {
      memory.copy(w, strPtr(d), <usize>strLen(d));
      w += <usize>strLen(d);
    }
    const s = arrGet(a, i);
    memory.copy(w, strPtr(s), <usize>strLen(s));
    w += <usize>strLen(s);
  }
  return strV(p, <u32>total);
}

function bytesAt(h: usize, hl: u32, at: u32, n: usize, nl: u32): bool {
  if (at + nl > hl) return false;
  for (let i: u32 = 0; i < nl; i++) {
    if (load<u8>(h + <usize>(at + i)) != load<u8>(n + <usize>i)) return false;
  }
  return true;
}

export function b_contains(s: usize, sub: usize): usize {
  if (!isStr(s)) return typeError("contains", 1, "string", s);
  if (!isStr(sub)) return typeError("contains", 2, "string", sub);
  const hl = strLen(s);
  const nl = strLen(sub);
  if (nl > hl) return boolV(false);
  for (let i: u32 = 0; i + nl <= hl; i++) {
    if (bytesAt(strPtr(s), hl, i, strPtr(sub), nl)) return boolV(true);
  }
  return boolV(false);
}

export function b_startswith(s: usize, p: usize): usize {
  if (!isStr(s)) return typeError("startswith", 1, "string", s);
  if (!isStr(p)) return typeError("startswith", 2, "string", p);
  return boolV(bytesAt(strPtr(s), strLen(s), 0, strPtr(p), strLen(p)));
}

export function b_endswith(s: usize, p: usize): usize {
  if (!isStr(s)) return typeError("endswith", 1, "string", s);
  if (!isStr(p)) return typeError("endswith", 2, "string", p);
  if (strLen(p) > strLen(s)) return boolV(false);
  return boolV(bytesAt(strPtr(s), strLen(s), strLen(s) - strLen(p), strPtr(p), strLen(p)));
}

function mapCase(s: usize, upper: bool): usize {
  if (!isStr(s)) return typeError(upper ? "upper" : "lower", 1, "string", s);
  const n = strLen(s);
  const src = strPtr(s);
  for (let i: u32 = 0; i < n; i++) if (load<u8>(src + <usize>i) >= 0x80) return HOST_FALLBACK;
  const p = malloc(<usize>n);
  for (let i: u32 = 0; i < n; i++) {
    let c = load<u8>(src + <usize>i);
    if (upper && c >= 0x61 && c <= 0x7a) c -= 32;
    else if (!upper && c >= 0x41 && c <= 0x5a) c += 32;
    store<u8>(p + <usize>i, c);
  }
  return strV(p, n);
}

export function b_lower(s: usize): usize {
  return mapCase(s, false);
}
export function b_upper(s: usize): usize {
  return mapCase(s, true);
}
