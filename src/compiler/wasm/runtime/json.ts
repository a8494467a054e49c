// Owns JSON text <-> runtime values: a full parser (escapes, \u surrogate pairs, big numbers kept
// as exact source text) and the dumper (sorted keys, sets as arrays, non-string keys as JSON text).
import {
  T_NULL, T_BOOL, T_NUM, T_STR, T_ARR, T_OBJ, T_SET, NULL_V, TRUE_V, FALSE_V,
  malloc, ensureMemory, vtype, intV, strV, strLen, strPtr, arrV, arrPush, arrLen, arrGet,
  objV, setV, mapLen, mapKey, mapVal, mapAppendRaw, finishMap, finishStrMap, numIsInt, numInt,
} from "./value";
import { dtoa_buffered } from "util/number";
import { decimalToF64 } from "./strtod";

// ---------------------------------------------------------------- numbers from text

const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/** Parses a validated JSON number text; ints that fit in i64 stay ints, others keep their text. */
export function numberFromText(p: usize, n: u32): usize {
  let i: u32 = 0;
  let neg = false;
  if (load<u8>(p) == 0x2d) {
    neg = true;
    i = 1;
  }
  let mant: u64 = 0;
  let digits: i32 = 0;
  let dropped: i32 = 0;
  let exp10: i32 = 0;
  let isInt = true;
  let overflow = false;
  while (i < n) {
    const c = load<u8>(p + <usize>i);
    if (c < 0x30 || c > 0x39) break;
    const d = <u64>(c - 0x30);
    // Below 18 digits no overflow is possible: skip the (64-bit division) check.
    if (digits < 18 || mant <= (0x7fffffffffffffff - d) / 10) mant = mant * 10 + d;
    else {
      overflow = true;
      dropped++;
    }
    digits++;
    i++;
  }
  if (i < n && load<u8>(p + <usize>i) == 0x2e) {
    isInt = false;
    i++;
    while (i < n) {
      const c = load<u8>(p + <usize>i);
      if (c < 0x30 || c > 0x39) break;
      if (mant <= (0x7fffffffffffffff - 9) / 10) {
        mant = mant * 10 + <u64>(c - 0x30);
        exp10--;
      }
      i++;
    }
  }
  if (i < n) {
    // exponent
    isInt = false;
    i++;
    let eneg = false;
    const s = load<u8>(p + <usize>i);
    if (s == 0x2d || s == 0x2b) {
      eneg = s == 0x2d;
      i++;
    }
    let e: i32 = 0;
    while (i < n) {
      const c = load<u8>(p + <usize>i);
      if (e < 100000) e = e * 10 + <i32>(c - 0x30);
      i++;
    }
    exp10 += eneg ? -e : e;
  }
  if (isInt && !overflow) {
    return intV(neg ? -<i64>mant : <i64>mant);
  }
  exp10 += dropped;
  let f = <f64>mant;
  if (mant <= 9007199254740991 && exp10 >= -22 && exp10 <= 22) {
    // Exact operands, one rounding: the correctly rounded result (Clinger's fast path).
    f = exp10 < 0 ? f / POW10[-exp10] : f * POW10[exp10];
    if (neg) f = -f;
  } else {
    f = decimalToF64(mant, exp10);
    if (neg) f = -f;
  }
  const v = malloc(24);
  store<u32>(v, 0x0103);
  store<u32>(v, n, 4);
  store<f64>(v, f, 8);
  store<u32>(v, <u32>p, 16);
  return v;
}

// ---------------------------------------------------------------- parser

let pos: usize = 0;
let end: usize = 0;
let failed = false;

// @ts-ignore: decorator
@inline
function peek(): u32 {
  return pos < end ? <u32>load<u8>(pos) : 0xffffffff;
}

// @ts-ignore: decorator
@inline
function skipWs(): void {
  // Compact JSON (JSON.stringify's) has no whitespace: one test per call.
  if (pos < end && load<u8>(pos) > 0x20) return;
  while (pos < end) {
    const c = load<u8>(pos);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) pos++;
    else break;
  }
}

function expectLit(a: u8, b: u8, c: u8, d: u8, len: i32): bool {
  if (pos + <usize>len > end) return false;
  if (load<u8>(pos) != a || load<u8>(pos, 1) != b || load<u8>(pos, 2) != c) return false;
  if (len == 4 && load<u8>(pos, 3) != d) return false;
  pos += <usize>len;
  return true;
}

function hex4(): i32 {
  if (pos + 4 > end) return -1;
  let r: i32 = 0;
  for (let i = 0; i < 4; i++) {
    const c = <i32>load<u8>(pos + <usize>i);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else return -1;
    r = (r << 4) | d;
  }
  pos += 4;
  return r;
}

function putUtf8(dst: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(dst, <u8>cp);
    return dst + 1;
  }
  if (cp < 0x800) {
    store<u8>(dst, <u8>(0xc0 | (cp >> 6)));
    store<u8>(dst, <u8>(0x80 | (cp & 0x3f)), 1);
    return dst + 2;
  }
  if (cp < 0x10000) {
    store<u8>(dst, <u8>(0xe0 | (cp >> 12)));
    store<u8>(dst, <u8>(0x80 | ((cp >> 6) & 0x3f)), 1);
    store<u8>(dst, <u8>(0x80 | (cp & 0x3f)), 2);
    return dst + 3;
  }
  store<u8>(dst, <u8>(0xf0 | (cp >> 18)));
  store<u8>(dst, <u8>(0x80 | ((cp >> 12) & 0x3f)), 1);
  store<u8>(dst, <u8>(0x80 | ((cp >> 6) & 0x3f)), 2);
  store<u8>(dst, <u8>(0x80 | (cp & 0x3f)), 3);
  return dst + 4;
}

function parseString(): usize {
  // Scans with a local cursor (the global one is written back once): wasm globals stay in memory.
  let p = pos + 1; // past the opening quote
  const e = end;
  const start = p;
  let escaped = false;
  // 8 bytes at a time while none is a quote, a backslash or a control character.
  while (p + 8 <= e) {
    const w = load<u64>(p);
    const q = w ^ 0x2222222222222222;
    const b = w ^ 0x5c5c5c5c5c5c5c5c;
    const hits = ((q - 0x0101010101010101) & ~q) | ((b - 0x0101010101010101) & ~b) | ((w - 0x2020202020202020) & ~w);
    if ((hits & 0x8080808080808080) != 0) break;
    p += 8;
  }
  while (true) {
    if (p >= e) return 0;
    const c = load<u8>(p);
    if (c == 0x22) break;
    if (c < 0x20) return 0;
    if (c == 0x5c) {
      escaped = true;
      p += 2;
      continue;
    }
    p++;
  }
  pos = p;
  const stop = pos;
  pos++; // closing quote
  if (!escaped) return strV(start, <u32>(stop - start));
  // Unescaping never grows the text, so the raw length bounds the output.
  const buf = malloc(stop - start);
  let w = buf;
  let r = start;
  const save = pos;
  while (r < stop) {
    const c = load<u8>(r);
    if (c != 0x5c) {
      store<u8>(w, c);
      w++;
      r++;
      continue;
    }
    const e = load<u8>(r, 1);
    r += 2;
    switch (e) {
      case 0x22: store<u8>(w, 0x22); w++; break;
      case 0x5c: store<u8>(w, 0x5c); w++; break;
      case 0x2f: store<u8>(w, 0x2f); w++; break;
      case 0x62: store<u8>(w, 0x08); w++; break;
      case 0x66: store<u8>(w, 0x0c); w++; break;
      case 0x6e: store<u8>(w, 0x0a); w++; break;
      case 0x72: store<u8>(w, 0x0d); w++; break;
      case 0x74: store<u8>(w, 0x09); w++; break;
      case 0x75: {
        pos = r;
        let cp = hex4();
        if (cp < 0) return 0;
        if (cp >= 0xd800 && cp < 0xdc00 && pos + 6 <= stop && load<u8>(pos) == 0x5c && load<u8>(pos, 1) == 0x75) {
          pos += 2;
          const save2 = pos;
          const lo = hex4();
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else {
            pos = save2 - 2;
          }
        }
        if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd; // lone surrogate, as JSON.parse + TextEncoder
        r = pos;
        w = putUtf8(w, <u32>cp);
        break;
      }
      default:
        return 0;
    }
  }
  pos = save;
  return strV(buf, <u32>(w - buf));
}

function parseNumber(): usize {
  const start = pos;
  const e = end;
  let p = pos;
  if (p < e && load<u8>(p) == 0x2d) p++;
  let c: u32 = p < e ? <u32>load<u8>(p) : 0xffffffff;
  if (c == 0x30) p++;
  else if (c >= 0x31 && c <= 0x39) {
    while (p < e && (c = <u32>load<u8>(p)) >= 0x30 && c <= 0x39) p++;
  } else return 0;
  c = p < e ? <u32>load<u8>(p) : 0xffffffff;
  if (c == 0x2e) {
    p++;
    c = p < e ? <u32>load<u8>(p) : 0xffffffff;
    if (!(c >= 0x30 && c <= 0x39)) return 0;
    while (p < e && (c = <u32>load<u8>(p)) >= 0x30 && c <= 0x39) p++;
  }
  c = p < e ? <u32>load<u8>(p) : 0xffffffff;
  if (c == 0x65 || c == 0x45) {
    p++;
    c = p < e ? <u32>load<u8>(p) : 0xffffffff;
    if (c == 0x2b || c == 0x2d) p++;
    c = p < e ? <u32>load<u8>(p) : 0xffffffff;
    if (!(c >= 0x30 && c <= 0x39)) return 0;
    while (p < e && (c = <u32>load<u8>(p)) >= 0x30 && c <= 0x39) p++;
  }
  pos = p;
  return numberFromText(start, <u32>(p - start));
}

function parseValue(depth: i32): usize {
  if (depth > 10000) return 0;
  skipWs();
  const c = peek();
  switch (c) {
    case 0x7b: { // {
      pos++;
      const o = objV(4);
      skipWs();
      if (peek() == 0x7d) {
        pos++;
        return o;
      }
      while (true) {
        skipWs();
        if (peek() != 0x22) return 0;
        const k = parseString();
        if (k == 0) return 0;
        skipWs();
        if (peek() != 0x3a) return 0;
        pos++;
        const v = parseValue(depth + 1);
        if (v == 0) return 0;
        mapAppendRaw(o, k, v);
        skipWs();
        const d = peek();
        if (d == 0x2c) {
          pos++;
          continue;
        }
        if (d == 0x7d) {
          pos++;
          break;
        }
        return 0;
      }
      finishStrMap(o);
      return o;
    }
    case 0x5b: { // [
      pos++;
      const a = arrV(4);
      skipWs();
      if (peek() == 0x5d) {
        pos++;
        return a;
      }
      while (true) {
        const v = parseValue(depth + 1);
        if (v == 0) return 0;
        arrPush(a, v);
        skipWs();
        const d = peek();
        if (d == 0x2c) {
          pos++;
          continue;
        }
        if (d == 0x5d) {
          pos++;
          break;
        }
        return 0;
      }
      return a;
    }
    case 0x22:
      return parseString();
    case 0x74:
      return expectLit(0x74, 0x72, 0x75, 0x65, 4) ? TRUE_V : 0;
    case 0x66:
      return expectLit(0x66, 0x61, 0x6c, 0x73, 4) && peek() == 0x65 && ++pos > 0 ? FALSE_V : 0;
    case 0x6e:
      return expectLit(0x6e, 0x75, 0x6c, 0x6c, 4) ? NULL_V : 0;
  }
  return parseNumber();
}

/** Parses len bytes at p into a value; 0 on malformed JSON. */
export function jsonParse(p: usize, len: usize): usize {
  pos = p;
  end = p + len;
  const v = parseValue(0);
  if (v == 0) return 0;
  skipWs();
  if (pos != end) return 0;
  return v;
}

// ---------------------------------------------------------------- dumper

// The dump is written straight at the heap top, growing memory as needed; nothing else allocates
// while it runs (numbers format into a static scratch buffer).
let wp: usize = 0;
const SCRATCH: usize = memory.data(128, 8);

// End of memory as last seen: put() only calls into ensureMemory when it is reached.
let wend: usize = 0;

function grow(top: usize): void {
  ensureMemory(top);
  wend = (<usize>memory.size()) << 16;
}

// @ts-ignore: decorator
@inline
function put(c: u8): void {
  if (wp + 1 > wend) grow(wp + 1);
  store<u8>(wp, c);
  wp++;
}

function putBytes(p: usize, n: u32): void {
  if (wp + <usize>n > wend) grow(wp + <usize>n);
  memory.copy(wp, p, <usize>n);
  wp += <usize>n;
}

const HEX: usize = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

function putEscapedBytes(p: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x22 || c == 0x5c) {
      put(0x5c);
      put(c);
    } else if (c < 0x20) {
      if (c == 0x0a) { put(0x5c); put(0x6e); }
      else if (c == 0x0d) { put(0x5c); put(0x72); }
      else if (c == 0x09) { put(0x5c); put(0x74); }
      else if (c == 0x08) { put(0x5c); put(0x62); }
      else if (c == 0x0c) { put(0x5c); put(0x66); }
      else {
        put(0x5c); put(0x75); put(0x30); put(0x30);
        put(load<u8>(HEX + <usize>(c >> 4)));
        put(load<u8>(HEX + <usize>(c & 15)));
      }
    } else put(c);
  }
}

function putI64(x: i64): void {
  if (x == 0) {
    put(0x30);
    return;
  }
  let u: u64;
  if (x < 0) {
    put(0x2d);
    u = <u64>(-(x + 1)) + 1;
  } else u = <u64>x;
  let n = 0;
  while (u > 0) {
    store<u8>(SCRATCH + <usize>n, <u8>(0x30 + <u32>(u % 10)));
    u /= 10;
    n++;
  }
  for (let i = n - 1; i >= 0; i--) put(load<u8>(SCRATCH + <usize>i));
}

function putNumber(v: usize): void {
  if (numIsInt(v)) {
    putI64(numInt(v));
    return;
  }
  const refLen = load<u32>(v, 4);
  if (refLen != 0) {
    putBytes(<usize>load<u32>(v, 16), refLen);
    return;
  }
  const n = dtoa_buffered(SCRATCH, load<f64>(v, 8));
  for (let i: u32 = 0; i < n; i++) put(<u8>load<u16>(SCRATCH + (<usize>i << 1)));
}

function dumpValue(v: usize): void {
  if (v == 0) {
    // An undefined value inside a collection cannot come from a well-formed plan; keep the output JSON.
    put(0x6e); put(0x75); put(0x6c); put(0x6c);
    return;
  }
  switch (vtype(v)) {
    case T_NULL:
      put(0x6e); put(0x75); put(0x6c); put(0x6c);
      return;
    case T_BOOL:
      if (load<u32>(v, 4) != 0) {
        put(0x74); put(0x72); put(0x75); put(0x65);
      } else {
        put(0x66); put(0x61); put(0x6c); put(0x73); put(0x65);
      }
      return;
    case T_NUM:
      putNumber(v);
      return;
    case T_STR:
      put(0x22);
      putEscapedBytes(strPtr(v), strLen(v));
      put(0x22);
      return;
    case T_ARR: {
      put(0x5b);
      const n = arrLen(v);
      for (let i: u32 = 0; i < n; i++) {
        if (i > 0) put(0x2c);
        dumpValue(arrGet(v, i));
      }
      put(0x5d);
      return;
    }
    case T_SET: {
      put(0x5b);
      const n = mapLen(v);
      for (let i: u32 = 0; i < n; i++) {
        if (i > 0) put(0x2c);
        dumpValue(mapKey(v, i));
      }
      put(0x5d);
      return;
    }
    case T_OBJ: {
      put(0x7b);
      const n = mapLen(v);
      for (let i: u32 = 0; i < n; i++) {
        if (i > 0) put(0x2c);
        const k = mapKey(v, i);
        if (vtype(k) == T_STR) dumpValue(k);
        else {
          // Non-string keys become their JSON text inside a string, as OPA does.
          put(0x22);
          const start = wp;
          dumpValue(k);
          const len = <u32>(wp - start);
          // Re-emit that text escaped at the same place: move the raw text above the largest
          // escaped size (6 bytes per input byte) and escape it back down.
          const src = start + <usize>len * 7 + 8;
          grow(src + <usize>len);
          memory.copy(src, start, <usize>len);
          wp = start;
          putEscapedBytes(src, len);
          put(0x22);
        }
        put(0x3a);
        dumpValue(mapVal(v, i));
      }
      put(0x7d);
      return;
    }
  }
}

/** Dumps v as NUL-terminated JSON at the heap top and returns its address. */
export function jsonDump(v: usize): usize {
  const start = malloc(0);
  wp = start;
  wend = (<usize>memory.size()) << 16;
  if (v == 0) {
    put(0x6e); put(0x75); put(0x6c); put(0x6c);
  } else dumpValue(v);
  put(0);
  malloc(wp - start);
  return start;
}
