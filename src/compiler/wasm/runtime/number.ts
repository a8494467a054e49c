// Owns numbers: int64 / float64 values (floats keep their exact source text when parsed) and
// their total order, exact for decimals that float64 cannot tell apart (big ints, 1e400, 1e-400).
import { malloc } from "./alloc";

export function intV(i: i64): usize {
  const v = malloc(24);
  store<u32>(v, 0x0003);
  store<u32>(v, 0, 4);
  store<i64>(v, i, 8);
  store<u32>(v, 0, 16);
  return v;
}

export function floatV(f: f64): usize {
  // Overflow to Infinity/NaN has no JSON form: the arithmetic is undefined instead.
  if (!isFinite(f)) return 0;
  // Integral results within the exact range become ints, as OPA prints 3/1.5 as 2.
  if (f == Math.floor(f) && Math.abs(f) < 9007199254740992.0) return intV(<i64>f);
  const v = malloc(24);
  store<u32>(v, 0x0103);
  store<u32>(v, 0, 4);
  store<f64>(v, f, 8);
  store<u32>(v, 0, 16);
  return v;
}

// @ts-ignore: decorator
@inline
export function numIsInt(v: usize): bool {
  return load<u8>(v, 1) == 0;
}
// @ts-ignore: decorator
@inline
export function numInt(v: usize): i64 {
  return load<i64>(v, 8);
}
export function numF64(v: usize): f64 {
  return load<u8>(v, 1) == 0 ? <f64>load<i64>(v, 8) : load<f64>(v, 8);
}

export function cmpNum(a: usize, b: usize): i32 {
  if (numIsInt(a) && numIsInt(b)) {
    const x = numInt(a);
    const y = numInt(b);
    return x == y ? 0 : x < y ? -1 : 1;
  }
  const x = numF64(a);
  const y = numF64(b);
  // Rounding to f64 is monotonic, so distinct f64s order correctly; equal ones may still be
  // different decimals (big ints, 1e400 vs 1e399, 1e-400 vs 0): compare their exact text.
  if (x != y) return x < y ? -1 : 1;
  return cmpExact(a, b);
}

// ---------------------------------------------------------------- exact decimal comparison

const ITOA_A: usize = memory.data(24, 8);
const ITOA_B: usize = memory.data(24, 8);
let tp: usize = 0;
let tn: u32 = 0;

/** Sets tp/tn to v's exact decimal text (ints are formatted into buf); false for computed floats. */
function numText(v: usize, buf: usize): bool {
  if (numIsInt(v)) {
    let x = numInt(v);
    let u: u64 = x < 0 ? <u64>(-(x + 1)) + 1 : <u64>x;
    let n: u32 = 0;
    // Write digits backwards from the end of buf.
    let w = buf + 24;
    do {
      w--;
      store<u8>(w, <u8>(0x30 + <u32>(u % 10)));
      u /= 10;
      n++;
    } while (u > 0);
    if (x < 0) {
      w--;
      store<u8>(w, 0x2d);
      n++;
    }
    tp = w;
    tn = n;
    return true;
  }
  tn = load<u32>(v, 4);
  tp = <usize>load<u32>(v, 16);
  return tn != 0;
}

// Normalised decimal of a number text: value = sign * 0.D[z..L-t] * 10^E.
let dNeg = false;
let dMs: usize = 0;
let dIntLen: u32 = 0;
let dHasDot = false;
let dZ: u32 = 0;
let dEnd: u32 = 0;
let dE: i64 = 0;

function decInfo(p: usize, n: u32): void {
  let i: u32 = 0;
  dNeg = load<u8>(p) == 0x2d;
  if (dNeg) i = 1;
  dMs = p + <usize>i;
  let L: u32 = 0;
  dIntLen = 0;
  dHasDot = false;
  while (i < n) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x2e) dHasDot = true;
    else if (c >= 0x30 && c <= 0x39) {
      L++;
      if (!dHasDot) dIntLen++;
    } else break;
    i++;
  }
  let exp: i64 = 0;
  if (i < n) {
    i++; // e or E
    let eneg = false;
    const s = load<u8>(p + <usize>i);
    if (s == 0x2d || s == 0x2b) {
      eneg = s == 0x2d;
      i++;
    }
    while (i < n) {
      if (exp < 1000000000000) exp = exp * 10 + <i64>(load<u8>(p + <usize>i) - 0x30);
      i++;
    }
    if (eneg) exp = -exp;
  }
  let z: u32 = 0;
  while (z < L && digitAt(z) == 0x30) z++;
  let end = L;
  while (end > z && digitAt(end - 1) == 0x30) end--;
  dZ = z;
  dEnd = end;
  dE = <i64>dIntLen - <i64>z + exp;
}

// @ts-ignore: decorator
@inline
function digitAt(k: u32): u8 {
  return load<u8>(dMs + <usize>k + (dHasDot && k >= dIntLen ? 1 : 0));
}

function cmpExact(a: usize, b: usize): i32 {
  if (!numText(a, ITOA_A)) return 0;
  const ap = tp;
  const an = tn;
  if (!numText(b, ITOA_B)) return 0;
  const bp = tp;
  const bn = tn;
  decInfo(ap, an);
  const aNeg = dNeg, aMs = dMs, aInt = dIntLen, aDot = dHasDot, aZ = dZ, aEnd = dEnd, aE = dE;
  decInfo(bp, bn);
  const aSign: i32 = aZ == aEnd ? 0 : aNeg ? -1 : 1;
  const bSign: i32 = dZ == dEnd ? 0 : dNeg ? -1 : 1;
  if (aSign != bSign) return aSign < bSign ? -1 : 1;
  if (aSign == 0) return 0;
  let mag: i32 = 0;
  if (aE != dE) mag = aE > dE ? 1 : -1;
  else {
    const na = aEnd - aZ;
    const nb = dEnd - dZ;
    const m = na < nb ? na : nb;
    for (let k: u32 = 0; k < m && mag == 0; k++) {
      const ka = aZ + k;
      const ca = load<u8>(aMs + <usize>ka + (aDot && ka >= aInt ? 1 : 0));
      const cb = digitAt(dZ + k);
      if (ca != cb) mag = ca < cb ? -1 : 1;
    }
    if (mag == 0 && na != nb) mag = na < nb ? -1 : 1;
  }
  return aSign * mag;
}

