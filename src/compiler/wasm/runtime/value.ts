// Owns the runtime's value model in linear memory: value layouts, OPA's total order, and the
// sorted-map storage shared by objects and sets (allocator in alloc.ts, numbers in number.ts).
// AssemblyScript, compiled by asc (see ../runtime-build.ts); never type-checked by tsc.

// Layout (all values 8-aligned, type tag in byte 0):
//   null   : [1]
//   bool   : [2] +4 u32 (0/1)
//   number : [3] +1 u8 kind (0 int, 1 float) +4 u32 refLen +8 i64|f64 +16 u32 refPtr (source text, exact)
//   string : [4] +4 u32 len +8 u32 bytes
//   array  : [5] +4 u32 len +8 u32 cap +12 u32 elems (u32 each)
//   object : [6] +4 u32 len +8 u32 cap +12 u32 entries (key u32, value u32), sorted by key
//   set    : [7] same as object with value == key
export const T_NULL: u8 = 1;
export const T_BOOL: u8 = 2;
export const T_NUM: u8 = 3;
export const T_STR: u8 = 4;
export const T_ARR: u8 = 5;
export const T_OBJ: u8 = 6;
export const T_SET: u8 = 7;

export const NULL_V: usize = memory.data<u8>([1, 0, 0, 0, 0, 0, 0, 0], 8);
export const FALSE_V: usize = memory.data<u8>([2, 0, 0, 0, 0, 0, 0, 0], 8);
export const TRUE_V: usize = memory.data<u8>([2, 0, 0, 0, 1, 0, 0, 0], 8);

import { heapPtr, malloc, setHeap, memTop } from "./alloc";
import { intV, numIsInt, numInt, numF64, cmpNum } from "./number";
export { heapPtr, malloc, setHeap, align8, ensureMemory, abortStatic, opa_abort } from "./alloc";
export { intV, floatV, numIsInt, numInt, numF64, cmpNum } from "./number";

// ---------------------------------------------------------------- constructors & accessors

// @ts-ignore: decorator
@inline
export function vtype(v: usize): u8 {
  return load<u8>(v);
}

export function boolV(b: bool): usize {
  return b ? TRUE_V : FALSE_V;
}

export function strV(bytes: usize, len: u32): usize {
  const v = malloc(12);
  store<u32>(v, 4);
  store<u32>(v, len, 4);
  store<u32>(v, <u32>bytes, 8);
  return v;
}
// @ts-ignore: decorator
@inline
export function strLen(v: usize): u32 {
  return load<u32>(v, 4);
}
// @ts-ignore: decorator
@inline
export function strPtr(v: usize): usize {
  return <usize>load<u32>(v, 8);
}

export function arrV(cap: u32): usize {
  const v = malloc(16);
  if (cap < 4) cap = 4;
  store<u32>(v, 5);
  store<u32>(v, 0, 4);
  store<u32>(v, cap, 8);
  store<u32>(v, <u32>malloc(<usize>cap << 2), 12);
  return v;
}
// @ts-ignore: decorator
@inline
export function arrLen(v: usize): u32 {
  return load<u32>(v, 4);
}
// @ts-ignore: decorator
@inline
export function arrGet(v: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(v, 12) + (<usize>i << 2));
}
export function arrPush(v: usize, x: usize): void {
  const len = load<u32>(v, 4);
  let cap = load<u32>(v, 8);
  let elems = <usize>load<u32>(v, 12);
  if (len == cap) {
    cap = cap * 2;
    const n = malloc(<usize>cap << 2);
    memory.copy(n, elems, <usize>len << 2);
    elems = n;
    store<u32>(v, cap, 8);
    store<u32>(v, <u32>elems, 12);
  }
  store<u32>(elems + (<usize>len << 2), <u32>x);
  store<u32>(v, len + 1, 4);
}

function mapV(t: u8, cap: u32): usize {
  const v = malloc(16);
  if (cap < 4) cap = 4;
  store<u32>(v, <u32>t);
  store<u32>(v, 0, 4);
  store<u32>(v, cap, 8);
  store<u32>(v, <u32>malloc(<usize>cap << 3), 12);
  return v;
}
export function objV(cap: u32): usize {
  return mapV(T_OBJ, cap);
}
export function setV(cap: u32): usize {
  return mapV(T_SET, cap);
}
// @ts-ignore: decorator
@inline
export function mapLen(v: usize): u32 {
  return load<u32>(v, 4);
}
// @ts-ignore: decorator
@inline
export function mapKey(v: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(v, 12) + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline
export function mapVal(v: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(v, 12) + (<usize>i << 3), 4);
}

// ---------------------------------------------------------------- ordering

// Byte-wise order of two byte strings, 8 bytes at a time: the first differing byte of two
// little-endian words is the lowest set byte of their xor.
export function memcmpBytes(a: usize, al: u32, b: usize, bl: u32): i32 {
  const n = al < bl ? al : bl;
  let i: u32 = 0;
  while (i + 8 <= n) {
    const x = load<u64>(a + <usize>i);
    const y = load<u64>(b + <usize>i);
    if (x != y) {
      const sh = ctz<u64>(x ^ y) & 56;
      return ((x >> sh) & 0xff) < ((y >> sh) & 0xff) ? -1 : 1;
    }
    i += 8;
  }
  if (i < n) {
    // The last 1-7 bytes as one masked word, when a full word read stays inside memory (memTop
    // is a lower bound of its size).
    const pa = a + <usize>i;
    const pb = b + <usize>i;
    if (pa + 8 <= memTop && pb + 8 <= memTop) {
      const mask = (<u64>-1) >> (<u64>(64 - ((n - i) << 3)));
      const x = load<u64>(pa) & mask;
      const y = load<u64>(pb) & mask;
      if (x != y) {
        const sh = ctz<u64>(x ^ y) & 56;
        return ((x >> sh) & 0xff) < ((y >> sh) & 0xff) ? -1 : 1;
      }
      i = n;
    }
  }
  while (i < n) {
    const x = load<u8>(a + <usize>i);
    const y = load<u8>(b + <usize>i);
    if (x != y) return x < y ? -1 : 1;
    i++;
  }
  return al == bl ? 0 : al < bl ? -1 : 1;
}

// @ts-ignore: decorator
@inline
function lowBytesMask(n: u32): u64 {
  return n >= 8 ? <u64>-1 : ((<u64>1) << (<u64>(n << 3))) - 1;
}

/**
 * Byte order of two strings, deciding on their leading 8 bytes as one word when both can be read
 * whole (zero padding past a shorter string's end sorts it first), else byte by byte.
 */
// @ts-ignore: decorator
@inline
function strOrder(ap: usize, al: u32, bp: usize, bl: u32): i32 {
  const top = memTop;
  let c: i32 = 2;
  if (ap + 8 <= top && bp + 8 <= top) {
    const x = bswap<u64>(load<u64>(ap) & lowBytesMask(al));
    const y = bswap<u64>(load<u64>(bp) & lowBytesMask(bl));
    if (x != y) c = x < y ? -1 : 1;
    else if (al <= 8 && bl <= 8) c = al == bl ? 0 : al < bl ? -1 : 1;
  }
  return c != 2 ? c : memcmpBytes(ap, al, bp, bl);
}

/** OPA's total order: null < boolean < number < string < array < object < set. */
export function compare(a: usize, b: usize): i32 {
  if (a == b) return 0;
  if (a == 0) return -1;
  if (b == 0) return 1;
  const ta = vtype(a);
  const tb = vtype(b);
  if (ta != tb) return ta < tb ? -1 : 1;
  // Strings dominate (object keys): no dispatch for them.
  if (ta == T_STR) return strOrder(strPtr(a), strLen(a), strPtr(b), strLen(b));
  switch (ta) {
    case T_NULL:
      return 0;
    case T_BOOL: {
      const x = load<u32>(a, 4);
      const y = load<u32>(b, 4);
      return x == y ? 0 : x < y ? -1 : 1;
    }
    case T_NUM:
      return cmpNum(a, b);
    case T_STR:
      return memcmpBytes(strPtr(a), strLen(a), strPtr(b), strLen(b));
    case T_ARR: {
      const la = arrLen(a);
      const lb = arrLen(b);
      const n = la < lb ? la : lb;
      for (let i: u32 = 0; i < n; i++) {
        const c = compare(arrGet(a, i), arrGet(b, i));
        if (c != 0) return c;
      }
      return la == lb ? 0 : la < lb ? -1 : 1;
    }
    default: {
      const la = mapLen(a);
      const lb = mapLen(b);
      const n = la < lb ? la : lb;
      for (let i: u32 = 0; i < n; i++) {
        let c = compare(mapKey(a, i), mapKey(b, i));
        if (c != 0) return c;
        if (ta == T_OBJ) {
          c = compare(mapVal(a, i), mapVal(b, i));
          if (c != 0) return c;
        }
      }
      return la == lb ? 0 : la < lb ? -1 : 1;
    }
  }
}

// ---------------------------------------------------------------- sorted maps (objects, sets)

/** Index of key in map, or -(insertion point)-1. */
export function mapFind(m: usize, key: usize): i32 {
  let lo: i32 = 0;
  let hi: i32 = <i32>mapLen(m) - 1;
  // Appends in ascending order are the common case (parsing sorted JSON, scanning sorted inputs).
  if (hi >= 0) {
    const c = compare(mapKey(m, <u32>hi), key);
    if (c == 0) return hi;
    if (c < 0) return -(hi + 1) - 1;
  }
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(mapKey(m, <u32>mid), key);
    if (c == 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

export function mapGet(m: usize, key: usize): usize {
  const len = mapLen(m);
  if (len == 0) return 0;
  if (vtype(key) != T_STR) {
    const i = mapFind(m, key);
    return i < 0 ? 0 : mapVal(m, <u32>i);
  }
  // String keys (field lookups, the hot path): binary search comparing bytes in place, first by
  // the leading 8 bytes as one word (zero-padded past the end), then in full only on a tie.
  const kp = strPtr(key);
  const kl = strLen(key);
  const entries = <usize>load<u32>(m, 12);
  const top = memTop;
  const wordy = kp + 8 <= top;
  const y = wordy ? load<u64>(kp) & lowBytesMask(kl) : 0;
  let lo: i32 = 0;
  let hi: i32 = <i32>len - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries + (<usize>mid << 3);
    const k = <usize>load<u32>(e);
    const t = vtype(k);
    let c: i32;
    if (t != T_STR) {
      c = t < T_STR ? -1 : 1;
    } else {
      const ep = strPtr(k);
      const el = strLen(k);
      c = 0;
      if (wordy && ep + 8 <= top) {
        const x = load<u64>(ep) & lowBytesMask(el);
        if (x != y) {
          // The first differing byte decides; a zero pad byte (shorter string) sorts first.
          const sh = ctz<u64>(x ^ y) & 56;
          c = ((x >> sh) & 0xff) < ((y >> sh) & 0xff) ? -1 : 1;
        } else if (el <= 8 && kl <= 8 && el == kl) {
          return <usize>load<u32>(e, 4);
        }
      }
      if (c == 0) c = memcmpBytes(ep, el, kp, kl);
    }
    if (c == 0) return <usize>load<u32>(e, 4);
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/** Inserts or replaces key. */
export function mapPut(m: usize, key: usize, val: usize): void {
  let i = mapFind(m, key);
  let entries = <usize>load<u32>(m, 12);
  if (i >= 0) {
    store<u32>(entries + (<usize>i << 3), <u32>key);
    store<u32>(entries + (<usize>i << 3), <u32>val, 4);
    return;
  }
  mapInsertAt(m, <u32>(-i - 1), key, val);
}

/** Inserts a new entry at index at (from mapFind), growing the entries as needed. */
function mapInsertAt(m: usize, at: u32, key: usize, val: usize): void {
  let entries = <usize>load<u32>(m, 12);
  const len = load<u32>(m, 4);
  let cap = load<u32>(m, 8);
  if (len == cap) {
    cap = cap * 2;
    const n = malloc(<usize>cap << 3);
    memory.copy(n, entries, <usize>len << 3);
    entries = n;
    store<u32>(m, cap, 8);
    store<u32>(m, <u32>entries, 12);
  }
  const p = entries + (<usize>at << 3);
  if (at < len) memory.copy(p + 8, p, <usize>(len - at) << 3);
  store<u32>(p, <u32>key);
  store<u32>(p, <u32>val, 4);
  store<u32>(m, len + 1, 4);
}

export function setAdd(s: usize, x: usize): void {
  // One search (mapPut would repeat it); an equal member already there is kept.
  const i = mapFind(s, x);
  if (i < 0) mapInsertAt(s, <u32>(-i - 1), x, x);
}

/** Appends without ordering; finishMap() must run before the map is used. */
export function mapAppendRaw(m: usize, key: usize, val: usize): void {
  const len = load<u32>(m, 4);
  let cap = load<u32>(m, 8);
  let entries = <usize>load<u32>(m, 12);
  if (len == cap) {
    cap = cap * 2;
    const n = malloc(<usize>cap << 3);
    memory.copy(n, entries, <usize>len << 3);
    entries = n;
    store<u32>(m, cap, 8);
    store<u32>(m, <u32>entries, 12);
  }
  store<u32>(entries + (<usize>len << 3), <u32>key);
  store<u32>(entries + (<usize>len << 3), <u32>val, 4);
  store<u32>(m, len + 1, 4);
}

/** finishMap for a few entries: stable insertion sort, dedupe only when an equal key was seen. */
function finishSmallMap(m: usize, entries: usize, len: u32): void {
  let dup = false;
  for (let i: u32 = 1; i < len; i++) {
    const e = load<u64>(entries + (<usize>i << 3));
    const k = <usize>(<u32>e);
    let j = i;
    while (j > 0) {
      const c = compare(<usize>load<u32>(entries + (<usize>(j - 1) << 3)), k);
      if (c <= 0) {
        if (c == 0) dup = true;
        break;
      }
      store<u64>(entries + (<usize>j << 3), load<u64>(entries + (<usize>(j - 1) << 3)));
      j--;
    }
    if (j != i) store<u64>(entries + (<usize>j << 3), e);
  }
  if (!dup) return;
  // Keep the last of equal keys (the sort kept insertion order among equals).
  let w: u32 = 0;
  for (let r: u32 = 0; r < len; r++) {
    if (r + 1 < len && compare(mapKey(m, r), mapKey(m, r + 1)) == 0) continue;
    if (w != r) store<u64>(entries + (<usize>w << 3), load<u64>(entries + (<usize>r << 3)));
    w++;
  }
  store<u32>(m, w, 4);
}

/**
 * finishMap for maps whose keys are all strings (parsed JSON objects): small ones sorted by
 * insertion comparing key bytes directly.
 */
export function finishStrMap(m: usize): void {
  const len = load<u32>(m, 4);
  if (len < 2) return;
  if (len > 16) {
    finishMap(m);
    return;
  }
  const entries = <usize>load<u32>(m, 12);
  let dup = false;
  for (let i: u32 = 1; i < len; i++) {
    const e = load<u64>(entries + (<usize>i << 3));
    const k = <usize>(<u32>e);
    const kp = strPtr(k);
    const kl = strLen(k);
    let j = i;
    while (j > 0) {
      const o = <usize>load<u32>(entries + (<usize>(j - 1) << 3));
      const c = strOrder(strPtr(o), strLen(o), kp, kl);
      if (c <= 0) {
        if (c == 0) dup = true;
        break;
      }
      store<u64>(entries + (<usize>j << 3), load<u64>(entries + (<usize>(j - 1) << 3)));
      j--;
    }
    if (j != i) store<u64>(entries + (<usize>j << 3), e);
  }
  if (dup) finishSmallMap(m, entries, len);
}

/** Sorts raw-appended entries (stable merge sort) and drops duplicate keys, the last one winning. */
export function finishMap(m: usize): void {
  const len = load<u32>(m, 4);
  if (len < 2) return;
  const entries = <usize>load<u32>(m, 12);
  if (len <= 16) {
    finishSmallMap(m, entries, len);
    return;
  }
  let sorted = true;
  for (let i: u32 = 1; i < len; i++) {
    if (compare(mapKey(m, i - 1), mapKey(m, i)) >= 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return;
  const mark = heapPtr;
  const tmp = malloc(<usize>len << 3);
  let src = entries;
  let dst = tmp;
  for (let width: u32 = 1; width < len; width <<= 1) {
    for (let lo: u32 = 0; lo < len; lo += width << 1) {
      const mid = min(lo + width, len);
      const hi = min(lo + (width << 1), len);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        const ki = <usize>load<u32>(src + (<usize>i << 3));
        const kj = <usize>load<u32>(src + (<usize>j << 3));
        if (compare(kj, ki) < 0) {
          store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>j << 3)));
          j++;
        } else {
          store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>i << 3)));
          i++;
        }
        k++;
      }
      while (i < mid) {
        store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>i << 3)));
        i++;
        k++;
      }
      while (j < hi) {
        store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>j << 3)));
        j++;
        k++;
      }
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src != entries) memory.copy(entries, src, <usize>len << 3);
  // Dedupe: keep the last of equal keys (stable sort keeps insertion order among equals).
  let w: u32 = 0;
  for (let r: u32 = 0; r < len; r++) {
    if (r + 1 < len && compare(mapKey(m, r), mapKey(m, r + 1)) == 0) continue;
    if (w != r) store<u64>(entries + (<usize>w << 3), load<u64>(entries + (<usize>r << 3)));
    w++;
  }
  store<u32>(m, w, 4);
  // The scratch buffer was the last allocation: give it back.
  setHeap(mark);
}

export function shallowCopy(v: usize): usize {
  const t = vtype(v);
  if (t == T_ARR) {
    const len = arrLen(v);
    const c = arrV(len);
    memory.copy(<usize>load<u32>(c, 12), <usize>load<u32>(v, 12), <usize>len << 2);
    store<u32>(c, len, 4);
    return c;
  }
  if (t == T_OBJ || t == T_SET) {
    const len = mapLen(v);
    const c = mapV(t, len);
    memory.copy(<usize>load<u32>(c, 12), <usize>load<u32>(v, 12), <usize>len << 3);
    store<u32>(c, len, 4);
    return c;
  }
  return v;
}

// ---------------------------------------------------------------- generic access (IR statements)

/** DotStmt / scan value: element of array (number key), object value, or set member. */
export function valueGet(v: usize, key: usize): usize {
  if (v == 0 || key == 0) return 0;
  const t = vtype(v);
  if (t == T_ARR) {
    if (vtype(key) != T_NUM) return 0;
    let i: i64;
    if (numIsInt(key)) i = numInt(key);
    else {
      const f = numF64(key);
      if (f != Math.floor(f)) return 0;
      i = <i64>f;
    }
    if (i < 0 || i >= <i64>arrLen(v)) return 0;
    return arrGet(v, <u32>i);
  }
  if (t == T_OBJ || t == T_SET) return mapGet(v, key);
  return 0;
}

// Small ints used as array scan keys are preallocated to keep scans allocation-free.
const SMALL_INTS: i32 = 256;
let smallInts: usize = 0;

export function smallInt(i: u32): usize {
  if (i >= <u32>SMALL_INTS) return intV(<i64>i);
  if (smallInts == 0) {
    smallInts = memory.data(SMALL_INTS * 24, 8);
    for (let k = 0; k < SMALL_INTS; k++) {
      const p = smallInts + <usize>k * 24;
      store<u32>(p, 3);
      store<i64>(p, <i64>k, 8);
    }
  }
  return smallInts + <usize>i * 24;
}

/** ScanStmt iterator: the key after prev (0 = first), or 0 when done. */
export function valueIter(v: usize, prev: usize): usize {
  if (v == 0) return 0;
  const t = vtype(v);
  if (t == T_ARR) {
    let next: u32 = 0;
    if (prev != 0) next = <u32>numInt(prev) + 1;
    return next < arrLen(v) ? smallInt(next) : 0;
  }
  if (t == T_OBJ || t == T_SET) {
    let next: u32 = 0;
    if (prev != 0) {
      const i = mapFind(v, prev);
      next = i < 0 ? <u32>(-i - 1) : <u32>i + 1;
    }
    return next < mapLen(v) ? mapKey(v, next) : 0;
  }
  return 0;
}

export function utf8Count(p: usize, n: u32): u32 {
  let c: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if ((load<u8>(p + <usize>i) & 0xc0) != 0x80) c++;
  }
  return c;
}

/** LenStmt / count: elements of a collection, code points of a string; -1 otherwise. */
export function valueLength(v: usize): i32 {
  switch (vtype(v)) {
    case T_ARR:
      return <i32>arrLen(v);
    case T_OBJ:
    case T_SET:
      return <i32>mapLen(v);
    case T_STR:
      return <i32>utf8Count(strPtr(v), strLen(v));
  }
  return -1;
}

/** ObjectMergeStmt: recursive merge, a wins on conflicts. */
export function merge(a: usize, b: usize): usize {
  if (a == 0) return b;
  if (b == 0) return a;
  if (vtype(a) != T_OBJ || vtype(b) != T_OBJ) return a;
  const r = shallowCopy(a);
  const n = mapLen(b);
  for (let i: u32 = 0; i < n; i++) {
    const k = mapKey(b, i);
    const av = mapGet(a, k);
    if (av == 0) mapPut(r, k, mapVal(b, i));
    else if (vtype(av) == T_OBJ && vtype(mapVal(b, i)) == T_OBJ) mapPut(r, k, merge(av, mapVal(b, i)));
  }
  return r;
}

/** WithStmt: copy of root with value upserted at path (array of string values), objects created as needed. */
export function upsert(root: usize, path: usize, pathLen: u32, i: u32, value: usize): usize {
  const node = root != 0 && vtype(root) == T_OBJ ? shallowCopy(root) : objV(4);
  const key = <usize>load<u32>(path + (<usize>i << 2));
  if (i + 1 == pathLen) {
    mapPut(node, key, value);
  } else {
    const child = root != 0 && vtype(root) == T_OBJ ? mapGet(root, key) : 0;
    mapPut(node, key, upsert(child, path, pathLen, i + 1, value));
  }
  return node;
}
