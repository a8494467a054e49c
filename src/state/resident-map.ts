// An off-heap string → string map for the resident copies of the decision path's records
// (./resident-replica.ts). At 1M identities, records kept as JS strings or objects made every major GC
// walk millions of objects (pauses grew with the store), and reading SQLite on every request is too
// slow. Here keys and values live as UTF-8 bytes inside a few large Buffers ("slabs"), indexed by an
// open-addressing hash table in two typed arrays: the garbage collector sees a handful of big objects
// however many entries there are. No per-entry JS object exists anywhere.
//
// Blocks. An entry is one 8-byte-aligned block in a slab, rounded up to a size class (geometric, ratio
// about 1.25, from 32 bytes to MAX_BLOCK_BYTES):
//     [u32 value bytes][u16 key bytes][u8 size class][u8 unused][key bytes][value bytes]
// A freed block goes on its class's free list (the link overwrites the value length), and allocation
// pops that list before bump-allocating from the current slab: updates and deletes reuse memory without
// compaction or moving anything, for up to 25% (about 11% on average) of rounding per block. Blocks
// larger than a slab get a dedicated slab of their size, which then serves that class forever.
//
// References. A block is named by one uint32: slab index × 2^offsetBits + offset / 8, where 2^offsetBits
// 8-byte units cover a slab. So a map addresses at most 2^32 × 8 bytes = 32 GiB of slabs (fewer when
// slabBytes is not a power of two; each dedicated slab also uses a slab index).
//
// Index. Linear probing over `hashes` (the key's 32-bit hash) and `refs` (its block, EMPTY when free).
// The capacity is a power of two, doubled at load 0.7 by re-placing the stored hashes (keys are never
// decoded); deletion shifts the rest of the probe run back (no tombstones, so probe runs do not degrade
// with churn). Memory goes back to the budget only on clear(): freed blocks stay for reuse and the index
// never shrinks, because a replica that shrank once will most likely grow back.
//
// Keys are compared by their UTF-8 bytes; strings with unpaired surrogates encode them as U+FFFD, so two
// such keys that differ only there are the same key. Not reentrant (one shared scratch buffer): fine in
// Node's single thread.
import { MemoryBudget } from './memory-budget';

/** The largest block: key + value + 8 header bytes must fit in it (1 MiB). */
export const MAX_BLOCK_BYTES = 1 << 20;
/** The longest key, in UTF-8 bytes (its length is stored in 16 bits). */
export const MAX_KEY_BYTES = 0xffff;

const HEADER_BYTES = 8;
const MIN_BLOCK_BYTES = 32;
// No block has this ref: it names the last 8-byte unit of the last addressable slab (or a unit past a
// slab's end), and blocks are at least 32 bytes long.
const EMPTY = 0xffffffff;
const INDEX_BYTES_PER_SLOT = 8; // one Uint32 hash + one Uint32 ref
const MAX_CAPACITY = 1 << 30;
const MIN_SLAB_BYTES = 4096;
const MAX_SLAB_BYTES = 1 << 30;

/** Block sizes: 32, 40, 56, 72, 96, ... each about 1.25× the previous, 8-byte aligned, the last MAX_BLOCK_BYTES. */
const CLASS_BYTES: readonly number[] = (() => {
  const sizes = [MIN_BLOCK_BYTES];
  for (;;) {
    const next = Math.ceil((sizes[sizes.length - 1] * 1.25) / 8) * 8;
    if (next >= MAX_BLOCK_BYTES) break;
    sizes.push(next);
  }
  sizes.push(MAX_BLOCK_BYTES);
  return sizes;
})();

/** Smallest class holding n × 8 bytes, for n up to MAX_BLOCK_BYTES / 8: one array read per allocation. */
const CLASS_OF_UNITS = (() => {
  const table = new Uint8Array(MAX_BLOCK_BYTES / 8 + 1);
  let cls = 0;
  for (let units = 0; units < table.length; units++) {
    while (CLASS_BYTES[cls] < units * 8) cls++;
    table[units] = cls;
  }
  return table;
})();

/** The size class of a block of `bytes` (<= MAX_BLOCK_BYTES). */
function classFor(bytes: number): number {
  return CLASS_OF_UNITS[(bytes + 7) >>> 3];
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The key hash: FNV-1a over the UTF-8 bytes (callers), then this murmur3 finalizer, because the table
 * uses the low bits, which FNV alone mixes poorly for keys that differ in their last characters
 * ("i:user-1", "i:user-2", ...). Unsigned, to compare with the Uint32Array of stored hashes.
 */
function finalize(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkString(v: unknown, what: string): void {
  if (typeof v !== 'string') throw new TypeError(`ResidentMap: the ${what} must be a string, got ${typeof v}`);
}

export interface ResidentMapOptions {
  /** Shared byte cap (default: unlimited). */
  budget?: MemoryBudget;
  /** Bytes per slab, a multiple of 8 from 4 KiB to 1 GiB (default 16 MiB; tests use small slabs). */
  slabBytes?: number;
  /** Hash table slots allocated on the first set(), a power of two (default 1024). */
  initialCapacity?: number;
}

/** A string → string map whose entries live outside the V8 heap. */
export class ResidentMap {
  private readonly budget: MemoryBudget;
  private readonly slabBytes: number;
  private readonly initialCapacity: number;
  private readonly offsetBits: number; // a ref's low bits: offset / 8 within its slab
  private readonly offsetMask: number;
  private readonly maxSlabs: number;

  // Storage: slabs, the one being bump-allocated, and a free list per size class.
  private slabs: Buffer[] = [];
  private current = -1;
  private bump = 0;
  private readonly freeHeads = new Uint32Array(CLASS_BYTES.length).fill(EMPTY);

  // Index. Capacity 0 (no arrays) until the first set(), so an unused or cleared map reserves nothing.
  private capacity = 0;
  private hashes = new Uint32Array(0);
  private refs = new Uint32Array(0);
  private count = 0;
  private reserved = 0;

  // The key being looked up, as UTF-8: encoded once per call, then hashed and compared from here.
  private scratch = Buffer.allocUnsafe(256);
  private keyLen = 0;
  private keyHash = 0;

  constructor(opts: ResidentMapOptions = {}) {
    this.budget = opts.budget ?? new MemoryBudget(Infinity);
    this.slabBytes = opts.slabBytes ?? 16 * 1024 * 1024;
    this.initialCapacity = opts.initialCapacity ?? 1024;
    const s = this.slabBytes;
    if (!Number.isInteger(s) || s % 8 !== 0 || s < MIN_SLAB_BYTES || s > MAX_SLAB_BYTES) {
      throw new RangeError(`ResidentMap: slabBytes must be a multiple of 8 from ${MIN_SLAB_BYTES} to ${MAX_SLAB_BYTES}, got ${s}`);
    }
    const c = this.initialCapacity;
    if (!Number.isInteger(c) || c < 2 || c > MAX_CAPACITY || (c & (c - 1)) !== 0) {
      throw new RangeError(`ResidentMap: initialCapacity must be a power of two from 2 to ${MAX_CAPACITY}, got ${c}`);
    }
    this.offsetBits = Math.ceil(Math.log2(s / 8));
    this.offsetMask = 2 ** this.offsetBits - 1;
    this.maxSlabs = 2 ** (32 - this.offsetBits);
  }

  /** Entries. */
  get size(): number {
    return this.count;
  }

  /** Bytes reserved from the budget: slabs plus the hash table's arrays. */
  get bytes(): number {
    return this.reserved;
  }

  get(key: string): string | undefined {
    const slot = this.lookup(key);
    return slot < 0 ? undefined : this.readValue(this.refs[slot]);
  }

  has(key: string): boolean {
    return this.lookup(key) >= 0;
  }

  /**
   * Stores key → value. Returns false when it cannot be stored (budget exhausted, too many slabs, key over
   * MAX_KEY_BYTES, or key + value + 8 over MAX_BLOCK_BYTES); the key is then NOT in the map afterwards
   * (any old value was removed), so a caller never reads a stale value after a failed update.
   */
  set(key: string, value: string): boolean {
    checkString(key, 'key');
    checkString(value, 'value');
    if (key.length > MAX_KEY_BYTES) return false; // UTF-8 never takes fewer bytes than UTF-16 units
    this.encodeKey(key);
    if (this.keyLen > MAX_KEY_BYTES) return false; // such a key is never stored: nothing to remove
    const slot = this.capacity === 0 ? -1 : this.probe();
    // A string longer than the largest block cannot fit: do not pay for measuring its UTF-8 length.
    const valueBytes = value.length > MAX_BLOCK_BYTES ? Infinity : Buffer.byteLength(value, 'utf8');
    const blockBytes = HEADER_BYTES + this.keyLen + valueBytes;
    if (blockBytes > MAX_BLOCK_BYTES) return this.refuse(slot);
    const cls = classFor(blockBytes);
    return slot >= 0 ? this.replace(slot, cls, value, valueBytes) : this.insert(~slot, cls, value, valueBytes);
  }

  delete(key: string): boolean {
    const slot = this.lookup(key);
    if (slot < 0) return false;
    this.removeAt(slot);
    return true;
  }

  /** Drops everything and releases all reserved bytes (the Buffers go to the GC). */
  clear(): void {
    this.slabs = [];
    this.current = -1;
    this.bump = 0;
    this.freeHeads.fill(EMPTY);
    this.capacity = 0;
    this.hashes = new Uint32Array(0);
    this.refs = new Uint32Array(0);
    this.count = 0;
    this.budget.release(this.reserved);
    this.reserved = 0;
  }

  // ---- lookup ----

  /** The slot holding `key`, or a negative number when it is absent. */
  private lookup(key: string): number {
    checkString(key, 'key');
    if (this.count === 0 || key.length > MAX_KEY_BYTES) return -1;
    this.encodeKey(key);
    return this.probe();
  }

  /** Puts the key's UTF-8 bytes in `scratch` and sets keyLen and keyHash. */
  private encodeKey(key: string): void {
    // A UTF-16 unit takes at most 3 UTF-8 bytes, so this size never truncates (at most 192 KiB).
    if (key.length * 3 > this.scratch.length) this.scratch = Buffer.allocUnsafe(key.length * 3);
    const s = this.scratch;
    // Keys are nearly always ASCII: copying char codes in JS costs a third of a native Buffer.write
    // call for a 20-byte key, and hashes in the same pass. Otherwise the native encoder does it.
    const n = key.length;
    let h = FNV_OFFSET;
    let i = 0;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) break;
      s[i] = c;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    if (i < n) {
      this.keyLen = s.write(key, 0, 'utf8');
      h = FNV_OFFSET;
      for (let j = 0; j < this.keyLen; j++) h = Math.imul(h ^ s[j], FNV_PRIME);
    } else {
      this.keyLen = n;
    }
    this.keyHash = finalize(h);
  }

  /** The slot of the encoded key, or ~slot of the empty slot where it would go (capacity > 0). */
  private probe(): number {
    const { hashes, refs, keyHash } = this;
    const mask = this.capacity - 1;
    for (let i = keyHash & mask; ; i = (i + 1) & mask) {
      const ref = refs[i];
      if (ref === EMPTY) return ~i; // the load limit keeps an empty slot, so the loop ends
      if (hashes[i] === keyHash && this.keyEquals(ref)) return i;
    }
  }

  private keyEquals(ref: number): boolean {
    const slab = this.slabOf(ref);
    const off = this.offsetOf(ref);
    const n = this.keyLen;
    if (slab.readUInt16LE(off + 4) !== n) return false;
    // A JS loop beats a native Buffer.compare call for keys of a few dozen bytes.
    const s = this.scratch;
    const base = off + HEADER_BYTES;
    for (let i = 0; i < n; i++) if (slab[base + i] !== s[i]) return false;
    return true;
  }

  private readValue(ref: number): string {
    const slab = this.slabOf(ref);
    const off = this.offsetOf(ref);
    const start = off + HEADER_BYTES + slab.readUInt16LE(off + 4);
    return slab.toString('utf8', start, start + slab.readUInt32LE(off));
  }

  // ---- update ----

  /** The encoded key is absent; `slot` is where it would go in the current table. */
  private insert(slot: number, cls: number, value: string, valueBytes: number): boolean {
    if ((this.count + 1) * 10 > this.capacity * 7) {
      if (!this.grow()) return false;
      slot = ~this.probe(); // slots moved; the key is still absent
    }
    const ref = this.allocate(cls);
    if (ref === EMPTY) return false;
    this.writeBlock(ref, cls, value, valueBytes);
    this.hashes[slot] = this.keyHash;
    this.refs[slot] = ref;
    this.count++;
    return true;
  }

  /** The encoded key is at `slot`: overwrite its block in place when the class matches, else move it. */
  private replace(slot: number, cls: number, value: string, valueBytes: number): boolean {
    const old = this.refs[slot];
    if (this.slabOf(old)[this.offsetOf(old) + 6] === cls) {
      this.writeValue(old, value, valueBytes);
      return true;
    }
    const ref = this.allocate(cls);
    if (ref === EMPTY) return this.refuse(slot);
    this.writeBlock(ref, cls, value, valueBytes);
    this.free(old);
    this.refs[slot] = ref; // same key, same hash
    return true;
  }

  /** A failed set(): the key must not keep its old value. */
  private refuse(slot: number): boolean {
    if (slot >= 0) this.removeAt(slot);
    return false;
  }

  private removeAt(slot: number): void {
    this.free(this.refs[slot]);
    const { hashes, refs } = this;
    const mask = this.capacity - 1;
    // Backward shift: walk the rest of the probe run and pull back each entry whose home slot is not
    // after the hole, so every entry stays reachable from its home without tombstones.
    let hole = slot;
    for (let i = (slot + 1) & mask; refs[i] !== EMPTY; i = (i + 1) & mask) {
      const fromHome = (i - (hashes[i] & mask)) & mask;
      const fromHole = (i - hole) & mask;
      if (fromHome >= fromHole) {
        hashes[hole] = hashes[i];
        refs[hole] = refs[i];
        hole = i;
      }
    }
    refs[hole] = EMPTY;
    this.count--;
  }

  /** Doubles the table (or creates it), re-placing entries from their stored hashes. */
  private grow(): boolean {
    const capacity = this.capacity === 0 ? this.initialCapacity : this.capacity * 2;
    if (capacity > MAX_CAPACITY || !this.reserve(capacity * INDEX_BYTES_PER_SLOT)) return false;
    const oldHashes = this.hashes;
    const oldRefs = this.refs;
    const hashes = new Uint32Array(capacity);
    const refs = new Uint32Array(capacity).fill(EMPTY);
    const mask = capacity - 1;
    for (let i = 0; i < oldRefs.length; i++) {
      if (oldRefs[i] === EMPTY) continue;
      let j = oldHashes[i] & mask;
      while (refs[j] !== EMPTY) j = (j + 1) & mask;
      hashes[j] = oldHashes[i];
      refs[j] = oldRefs[i];
    }
    this.unreserve(this.capacity * INDEX_BYTES_PER_SLOT);
    this.hashes = hashes;
    this.refs = refs;
    this.capacity = capacity;
    return true;
  }

  // ---- blocks ----

  private writeBlock(ref: number, cls: number, value: string, valueBytes: number): void {
    const slab = this.slabOf(ref);
    const off = this.offsetOf(ref);
    slab.writeUInt16LE(this.keyLen, off + 4);
    slab[off + 6] = cls;
    // Keys are short: a JS loop beats a native Buffer.copy call (~50 ns) for them.
    const s = this.scratch;
    const base = off + HEADER_BYTES;
    for (let i = 0; i < this.keyLen; i++) slab[base + i] = s[i];
    this.writeValue(ref, value, valueBytes);
  }

  /** Writes the value of a block that holds the encoded key. */
  private writeValue(ref: number, value: string, valueBytes: number): void {
    const slab = this.slabOf(ref);
    const off = this.offsetOf(ref);
    slab.writeUInt32LE(valueBytes, off);
    if (valueBytes > 0) slab.write(value, off + HEADER_BYTES + this.keyLen, valueBytes, 'utf8');
  }

  /** A block of class `cls`, or EMPTY when the budget (or the slab count) is exhausted. */
  private allocate(cls: number): number {
    const head = this.freeHeads[cls];
    if (head !== EMPTY) {
      this.freeHeads[cls] = this.slabOf(head).readUInt32LE(this.offsetOf(head));
      return head;
    }
    const size = CLASS_BYTES[cls];
    if (size > this.slabBytes) return this.addSlab(size) ? this.refOf(this.slabs.length - 1, 0) : EMPTY;
    if (this.current < 0 || this.bump + size > this.slabBytes) {
      if (!this.addSlab(this.slabBytes)) return EMPTY; // the current slab stays usable for smaller blocks
      this.retireTail();
      this.current = this.slabs.length - 1;
      this.bump = 0;
    }
    const ref = this.refOf(this.current, this.bump);
    this.bump += size;
    return ref;
  }

  private free(ref: number): void {
    const slab = this.slabOf(ref);
    const off = this.offsetOf(ref);
    const cls = slab[off + 6];
    slab.writeUInt32LE(this.freeHeads[cls], off);
    this.freeHeads[cls] = ref;
  }

  /** Gives the unused end of the current slab to the free lists, so leaving a slab wastes < 32 bytes. */
  private retireTail(): void {
    if (this.current < 0) return;
    for (let rest = this.slabBytes - this.bump; rest >= MIN_BLOCK_BYTES; rest = this.slabBytes - this.bump) {
      // rest < the block that did not fit <= MAX_BLOCK_BYTES, so a class table lookup applies.
      let cls = classFor(rest);
      if (CLASS_BYTES[cls] > rest) cls--;
      this.slabs[this.current][this.bump + 6] = cls;
      this.free(this.refOf(this.current, this.bump));
      this.bump += CLASS_BYTES[cls];
    }
  }

  private addSlab(bytes: number): boolean {
    if (this.slabs.length >= this.maxSlabs || !this.reserve(bytes)) return false;
    this.slabs.push(Buffer.allocUnsafe(bytes));
    return true;
  }

  private refOf(slab: number, offset: number): number {
    return slab * (this.offsetMask + 1) + offset / 8;
  }

  private slabOf(ref: number): Buffer {
    return this.slabs[ref >>> this.offsetBits];
  }

  private offsetOf(ref: number): number {
    return (ref & this.offsetMask) * 8;
  }

  // ---- budget ----

  private reserve(n: number): boolean {
    if (!this.budget.reserve(n)) return false;
    this.reserved += n;
    return true;
  }

  private unreserve(n: number): void {
    this.budget.release(n);
    this.reserved -= n;
  }
}
