// Cache admission for a full cache: a key earns a place only on its second miss within a window.
// When requests spread uniformly over a directory far larger than the cache (1M identities, 100k
// entries), every miss used to evict an entry nobody asks for again, and each churned entry was
// promoted to V8's old generation first: young-generation pauses grew with the survivors and p99 with
// them. Keys asked for twice (the usual case behind a proxy) are admitted on their second miss.
// A Bloom filter in typed arrays: no per-key objects for the garbage collector.

/** Bits per remembered key (with three hashes: about 1.7% false positives, i.e. early admissions). */
const BITS_PER_KEY = 10;

/** Remembers first misses over roughly the last `window` to `2 × window` of them (two generations). */
export class Doorkeeper {
  private current: Uint32Array;
  private previous: Uint32Array;
  private readonly mask: number;
  private added = 0;

  constructor(private readonly window: number) {
    // A power of two number of bits, so a hash picks a bit with a mask.
    const bits = 2 ** Math.ceil(Math.log2(Math.max(1024, window * BITS_PER_KEY)));
    this.mask = bits - 1;
    this.current = new Uint32Array(bits / 32);
    this.previous = new Uint32Array(bits / 32);
  }

  /** True when `key` missed before within the window; otherwise remembers this miss and answers false. */
  admit(key: string): boolean {
    // FNV-1a and a second multiplicative hash; bit i of 3 is h1 + i·h2 (Kirsch–Mitzenmacher).
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    h2 |= 1;
    if (this.has(this.current, h1, h2) || this.has(this.previous, h1, h2)) return true;
    for (let i = 0; i < 3; i++) {
      const bit = (h1 + i * h2) & this.mask;
      this.current[bit >>> 5] |= 1 << (bit & 31);
    }
    if (++this.added >= this.window) this.rotate();
    return false;
  }

  private has(bits: Uint32Array, h1: number, h2: number): boolean {
    for (let i = 0; i < 3; i++) {
      const bit = (h1 + i * h2) & this.mask;
      if ((bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  private rotate(): void {
    const old = this.previous;
    this.previous = this.current;
    old.fill(0);
    this.current = old;
    this.added = 0;
  }
}
