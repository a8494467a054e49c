// One cap on the memory of several resident maps (./resident-map.ts): the operator sizes the process
// once (TETHER_RESIDENT_MEMORY) instead of per map, and a map that fills up stops growing rather than
// taking the process down. Maps reserve in big steps (whole slabs, whole hash tables), so this is a
// plain counter: no per-entry accounting.

/** A byte budget shared by several resident maps. */
export class MemoryBudget {
  private used = 0;

  /** `maxBytes` may be Infinity (no limit). */
  constructor(readonly maxBytes: number) {
    if (!(maxBytes >= 0)) throw new RangeError(`MemoryBudget: maxBytes must be >= 0, got ${maxBytes}`);
  }

  get usedBytes(): number {
    return this.used;
  }

  /** Reserves n bytes; false (reserving nothing) when that would exceed maxBytes. */
  reserve(n: number): boolean {
    if (this.used + n > this.maxBytes) return false;
    this.used += n;
    return true;
  }

  release(n: number): void {
    // Releasing more than was reserved is an accounting bug in a caller: fail loudly, not silently drift.
    if (n > this.used) throw new RangeError(`MemoryBudget: releasing ${n} bytes but only ${this.used} are reserved`);
    this.used -= n;
  }
}
