// Owns exact integer arithmetic beyond int64 (as OPA's big numbers): decimal digit strings in
// scratch memory, schoolbook add/sub/mul/divmod; results that fit stay int64, others become
// numbers carrying their exact decimal text.
import { malloc, numIsInt, numInt, vtype, T_NUM } from "./value";
import { numberFromText } from "./json";

// An operand in digit form: sign, most-significant-first digits (values 0-9), no leading zeros.
let gNeg = false;
let gPtr: usize = 0;
let gLen: u32 = 0;

/** Loads v's integer digits into gNeg/gPtr/gLen; false if v is not an integer number. */
function digitsOf(v: usize): bool {
  if (v == 0 || vtype(v) != T_NUM) return false;
  if (numIsInt(v)) {
    const x = numInt(v);
    let u: u64 = x < 0 ? <u64>(-(x + 1)) + 1 : <u64>x;
    const buf = malloc(20);
    let n: u32 = 0;
    let w = buf + 20;
    do {
      w--;
      store<u8>(w, <u8>(u % 10));
      u /= 10;
      n++;
    } while (u > 0);
    gNeg = x < 0;
    gPtr = w;
    gLen = n;
    normalize();
    return true;
  }
  const tn = load<u32>(v, 4);
  const tp = <usize>load<u32>(v, 16);
  if (tn == 0) return false;
  let i: u32 = 0;
  gNeg = load<u8>(tp) == 0x2d;
  if (gNeg) i = 1;
  const buf = malloc(<usize>tn);
  let n: u32 = 0;
  for (; i < tn; i++) {
    const c = load<u8>(tp + <usize>i);
    if (c < 0x30 || c > 0x39) return false; // fraction or exponent: not a plain integer
    store<u8>(buf + <usize>n, c - 0x30);
    n++;
  }
  gPtr = buf;
  gLen = n;
  normalize();
  return true;
}

function normalize(): void {
  while (gLen > 1 && load<u8>(gPtr) == 0) {
    gPtr++;
    gLen--;
  }
  if (gLen == 1 && load<u8>(gPtr) == 0) gNeg = false;
}

function cmpMag(a: usize, an: u32, b: usize, bn: u32): i32 {
  if (an != bn) return an < bn ? -1 : 1;
  for (let i: u32 = 0; i < an; i++) {
    const x = load<u8>(a + <usize>i);
    const y = load<u8>(b + <usize>i);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/** |a| + |b| into a fresh buffer; sets gPtr/gLen. */
function addMag(a: usize, an: u32, b: usize, bn: u32): void {
  const n = (an > bn ? an : bn) + 1;
  const out = malloc(<usize>n);
  let carry: u32 = 0;
  for (let k: u32 = 0; k < n; k++) {
    let s = carry;
    if (k < an) s += <u32>load<u8>(a + <usize>(an - 1 - k));
    if (k < bn) s += <u32>load<u8>(b + <usize>(bn - 1 - k));
    store<u8>(out + <usize>(n - 1 - k), <u8>(s % 10));
    carry = s / 10;
  }
  gPtr = out;
  gLen = n;
}

/** |a| - |b| with |a| >= |b|; sets gPtr/gLen. */
function subMag(a: usize, an: u32, b: usize, bn: u32): void {
  const out = malloc(<usize>an);
  let borrow: i32 = 0;
  for (let k: u32 = 0; k < an; k++) {
    let d = <i32>load<u8>(a + <usize>(an - 1 - k)) - borrow;
    if (k < bn) d -= <i32>load<u8>(b + <usize>(bn - 1 - k));
    if (d < 0) {
      d += 10;
      borrow = 1;
    } else borrow = 0;
    store<u8>(out + <usize>(an - 1 - k), <u8>d);
  }
  gPtr = out;
  gLen = an;
}

function mulMag(a: usize, an: u32, b: usize, bn: u32): void {
  const n = an + bn;
  const acc = malloc(<usize>n << 2);
  memory.fill(acc, 0, <usize>n << 2);
  for (let i: u32 = 0; i < an; i++) {
    const x = <u32>load<u8>(a + <usize>(an - 1 - i));
    if (x == 0) continue;
    for (let j: u32 = 0; j < bn; j++) {
      const p = acc + (<usize>(i + j) << 2);
      store<u32>(p, load<u32>(p) + x * <u32>load<u8>(b + <usize>(bn - 1 - j)));
    }
    // Propagate carries now and then so the u32 accumulators never overflow.
    if ((i & 0xffff) == 0xffff) carryAll(acc, n);
  }
  carryAll(acc, n);
  const out = malloc(<usize>n);
  for (let k: u32 = 0; k < n; k++) store<u8>(out + <usize>(n - 1 - k), <u8>load<u32>(acc + (<usize>k << 2)));
  gPtr = out;
  gLen = n;
}

function carryAll(acc: usize, n: u32): void {
  let carry: u32 = 0;
  for (let k: u32 = 0; k < n; k++) {
    const p = acc + (<usize>k << 2);
    const s = load<u32>(p) + carry;
    store<u32>(p, s % 10);
    carry = s / 10;
  }
}

let qPtr: usize = 0;
let qLen: u32 = 0;

/** Truncated division of magnitudes: quotient in qPtr/qLen, remainder in gPtr/gLen. b != 0. */
function divMag(a: usize, an: u32, b: usize, bn: u32): void {
  const q = malloc(<usize>an);
  // The running remainder never needs more than bn + 1 digits.
  let r = malloc(<usize>bn + 1);
  let rn: u32 = 0;
  for (let i: u32 = 0; i < an; i++) {
    // r = r * 10 + a[i]
    store<u8>(r + <usize>rn, load<u8>(a + <usize>i));
    rn++;
    // strip leading zeros of r
    while (rn > 1 && load<u8>(r) == 0) {
      r++;
      rn--;
    }
    let d: u8 = 0;
    while (cmpMag(r, rn, b, bn) >= 0) {
      // r -= b in place
      let borrow: i32 = 0;
      for (let k: u32 = 0; k < rn; k++) {
        let x = <i32>load<u8>(r + <usize>(rn - 1 - k)) - borrow;
        if (k < bn) x -= <i32>load<u8>(b + <usize>(bn - 1 - k));
        if (x < 0) {
          x += 10;
          borrow = 1;
        } else borrow = 0;
        store<u8>(r + <usize>(rn - 1 - k), <u8>x);
      }
      while (rn > 1 && load<u8>(r) == 0) {
        r++;
        rn--;
      }
      d++;
    }
    store<u8>(q + <usize>i, d);
    // Keep r at the start of a buffer with room for one more digit.
    if (i + 1 < an) {
      const nr = malloc(<usize>bn + 2);
      memory.copy(nr, r, <usize>rn);
      r = nr;
    }
  }
  qPtr = q;
  qLen = an;
  gPtr = r;
  gLen = rn;
}

/** Turns signed digits into a number value (int64 when it fits, else exact text). */
function toValue(neg: bool, p: usize, n: u32): usize {
  while (n > 1 && load<u8>(p) == 0) {
    p++;
    n--;
  }
  const isZero = n == 1 && load<u8>(p) == 0;
  const text = malloc(<usize>n + 1);
  let w = text;
  if (neg && !isZero) {
    store<u8>(w, 0x2d);
    w++;
  }
  for (let i: u32 = 0; i < n; i++) store<u8>(w + <usize>i, load<u8>(p + <usize>i) + 0x30);
  return numberFromText(text, <u32>(w - text) + n);
}

/** a + b (sub: a - b) exactly, or 0 if an operand is not an integer. */
export function bigAdd(a: usize, b: usize, sub: bool): usize {
  if (!digitsOf(a)) return 0;
  const an = gNeg, ap = gPtr, al = gLen;
  if (!digitsOf(b)) return 0;
  const bn = sub ? !gNeg : gNeg, bp = gPtr, bl = gLen;
  if (an == bn) {
    addMag(ap, al, bp, bl);
    return toValue(an, gPtr, gLen);
  }
  const c = cmpMag(ap, al, bp, bl);
  if (c == 0) return toValue(false, zeroDigit(), 1);
  if (c > 0) {
    subMag(ap, al, bp, bl);
    return toValue(an, gPtr, gLen);
  }
  subMag(bp, bl, ap, al);
  return toValue(bn, gPtr, gLen);
}

function zeroDigit(): usize {
  const p = malloc(1);
  store<u8>(p, 0);
  return p;
}

export function bigMul(a: usize, b: usize): usize {
  if (!digitsOf(a)) return 0;
  const an = gNeg, ap = gPtr, al = gLen;
  if (!digitsOf(b)) return 0;
  mulMag(ap, al, gPtr, gLen);
  return toValue(an != gNeg, gPtr, gLen);
}

/** Truncated remainder (sign of a, as Go's big.Int.Rem); 0 if not integers; b must be nonzero. */
export function bigRem(a: usize, b: usize): usize {
  if (!digitsOf(a)) return 0;
  const an = gNeg, ap = gPtr, al = gLen;
  if (!digitsOf(b)) return 0;
  divMag(ap, al, gPtr, gLen);
  return toValue(an, gPtr, gLen);
}

/** Exact quotient when b divides a; 0 when not integers or not divisible. b must be nonzero. */
export function bigDivExact(a: usize, b: usize): usize {
  if (!digitsOf(a)) return 0;
  const an = gNeg, ap = gPtr, al = gLen;
  if (!digitsOf(b)) return 0;
  const bneg = gNeg;
  divMag(ap, al, gPtr, gLen);
  if (!(gLen == 1 && load<u8>(gPtr) == 0)) return 0;
  return toValue(an != bneg, qPtr, qLen);
}

/** True when v is an integer number (int64, or exact integer text). */
export function isInteger(v: usize): bool {
  if (v == 0 || vtype(v) != T_NUM) return false;
  if (numIsInt(v)) return true;
  const tn = load<u32>(v, 4);
  if (tn == 0) return false;
  const tp = <usize>load<u32>(v, 16);
  for (let i: u32 = 0; i < tn; i++) {
    const c = load<u8>(tp + <usize>i);
    if ((c < 0x30 || c > 0x39) && !(i == 0 && c == 0x2d)) return false;
  }
  return true;
}
