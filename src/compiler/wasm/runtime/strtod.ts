// Owns correctly rounded decimal -> float64 conversion for the numbers the fast path cannot take
// (more than 2^53 in the significand, or a power of ten beyond 1e22): exact big binary
// arithmetic with 5^k, then round-half-even, subnormals included.

const LIMBS: i32 = 48; // 1536 bits: 5^360 and a 64-bit significand shifted past it fit
const BIG_A: usize = memory.data(LIMBS * 4, 8);
const BIG_B: usize = memory.data(LIMBS * 4, 8);

// A big number: little-endian u32 limbs at a fixed buffer, with a used-limb count.
let aLen: i32 = 0;
let bLen: i32 = 0;

function setU64(buf: usize, v: u64): i32 {
  memory.fill(buf, 0, <usize>LIMBS * 4);
  store<u32>(buf, <u32>v);
  store<u32>(buf, <u32>(v >> 32), 4);
  return (v >> 32) != 0 ? 2 : 1;
}

function mulSmall(buf: usize, len: i32, m: u32): i32 {
  let carry: u64 = 0;
  for (let i = 0; i < len; i++) {
    const p = buf + (<usize>i << 2);
    const t = <u64>load<u32>(p) * <u64>m + carry;
    store<u32>(p, <u32>t);
    carry = t >> 32;
  }
  if (carry != 0 && len < LIMBS) {
    store<u32>(buf + (<usize>len << 2), <u32>carry);
    len++;
  }
  return len;
}

/** buf *= 5^k */
function mulPow5(buf: usize, len: i32, k: i32): i32 {
  while (k >= 13) {
    len = mulSmall(buf, len, 1220703125); // 5^13
    k -= 13;
  }
  let m: u32 = 1;
  for (let i = 0; i < k; i++) m *= 5;
  return m == 1 ? len : mulSmall(buf, len, m);
}

function bitLen(buf: usize, len: i32): i32 {
  while (len > 0 && load<u32>(buf + (<usize>(len - 1) << 2)) == 0) len--;
  if (len == 0) return 0;
  return (len - 1) * 32 + (32 - <i32>clz(load<u32>(buf + (<usize>(len - 1) << 2))));
}

function bit(buf: usize, i: i32): u32 {
  return (load<u32>(buf + (<usize>(i >> 5) << 2)) >> <u32>(i & 31)) & 1;
}

/** Compares the low n limbs of a and b. */
function cmpBig(a: usize, b: usize, n: i32): i32 {
  for (let i = n - 1; i >= 0; i--) {
    const x = load<u32>(a + (<usize>i << 2));
    const y = load<u32>(b + (<usize>i << 2));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/** a -= b over n limbs (a >= b). */
function subBig(a: usize, b: usize, n: i32): void {
  let borrow: i64 = 0;
  for (let i = 0; i < n; i++) {
    const p = a + (<usize>i << 2);
    let t = <i64>load<u32>(p) - <i64>load<u32>(b + (<usize>i << 2)) - borrow;
    borrow = t < 0 ? 1 : 0;
    if (t < 0) t += 0x100000000;
    store<u32>(p, <u32>t);
  }
}

/** a = 2a + b (b in {0, 1}) over n limbs. */
function shl1Add(a: usize, b: u32, n: i32): void {
  let carry = b;
  for (let i = 0; i < n; i++) {
    const p = a + (<usize>i << 2);
    const x = load<u32>(p);
    store<u32>(p, (x << 1) | carry);
    carry = x >> 31;
  }
}

/** The float64 nearest to q * 2^e2 (plus a little more when sticky), ties to even. */
function roundToF64(q: u64, sticky: bool, e2: i32): f64 {
  if (q == 0) return 0;
  const lz = <i32>clz(q);
  q <<= <u64>lz;
  e2 -= lz;
  // q in [2^63, 2^64): the value's binary exponent is e2 + 63.
  let E = e2 + 63;
  if (E > 1023) return Infinity;
  let shift = 11;
  if (E < -1022) shift += -1022 - E;
  if (shift >= 64) {
    // Below half the smallest subnormal, except right at it.
    if (shift == 64 && (q > 0x8000000000000000 || (q == 0x8000000000000000 && sticky))) return reinterpret<f64>(<u64>1);
    return 0;
  }
  let mant = q >> <u64>shift;
  const rem = q & ((<u64>1 << <u64>shift) - 1);
  const half = <u64>1 << <u64>(shift - 1);
  if (rem > half || (rem == half && (sticky || (mant & 1) != 0))) mant++;
  if (E < -1022) {
    // Subnormal: the bit pattern is the mantissa itself (a carry into 2^52 is the smallest normal).
    return reinterpret<f64>(mant);
  }
  if (mant == (<u64>1 << 53)) {
    mant >>= 1;
    E++;
    if (E > 1023) return Infinity;
  }
  return reinterpret<f64>((<u64>(E + 1023) << 52) | (mant & 0xfffffffffffff));
}

/** Correctly rounded m * 10^e10 (m < 2^64), as a positive float64. */
export function decimalToF64(m: u64, e10: i32): f64 {
  if (m == 0) return 0;
  if (e10 > 310) return Infinity;
  if (e10 < -345) return 0;
  if (e10 >= 0) {
    aLen = setU64(BIG_A, m);
    aLen = mulPow5(BIG_A, aLen, e10);
    const L = bitLen(BIG_A, aLen);
    // Top 64 bits and whether anything below them is set.
    let q: u64 = 0;
    const lo = L > 64 ? L - 64 : 0;
    for (let i = L - 1; i >= lo; i--) q = (q << 1) | <u64>bit(BIG_A, i);
    let sticky = false;
    for (let i = 0; i < lo && !sticky; i++) sticky = bit(BIG_A, i) != 0;
    return roundToF64(q, sticky, lo + e10);
  }
  // m / 10^k = m / 5^k * 2^-k: divide m * 2^s by 5^k bit by bit, s chosen for a 64-bit quotient.
  const k = -e10;
  bLen = setU64(BIG_B, 1);
  bLen = mulPow5(BIG_B, bLen, k);
  const dBits = bitLen(BIG_B, bLen);
  const mBits = 64 - <i32>clz(m);
  const s = dBits - mBits + 63;
  memory.fill(BIG_A, 0, <usize>LIMBS * 4);
  let q: u64 = 0;
  // Dividend bits: m's bits from the top, then s zeros (s may be negative: drop m's low bits).
  const total = mBits + s;
  // The remainder stays below 2 * 5^k: one limb more than the divisor is enough.
  const n = min(bLen + 1, LIMBS);
  for (let i = 0; i < total; i++) {
    const src = mBits - 1 - i;
    const b: u32 = src >= 0 ? <u32>((m >> <u64>src) & 1) : 0;
    shl1Add(BIG_A, b, n);
    q <<= 1;
    if (cmpBig(BIG_A, BIG_B, n) >= 0) {
      subBig(BIG_A, BIG_B, n);
      q |= 1;
    }
  }
  let sticky = false;
  for (let i = 0; i < LIMBS && !sticky; i++) sticky = load<u32>(BIG_A + (<usize>i << 2)) != 0;
  // Bits of m dropped when s < 0 also count.
  if (s < 0) sticky = sticky || (m & ((<u64>1 << <u64>(-s)) - 1)) != 0;
  return roundToF64(q, sticky, -s - k);
}
