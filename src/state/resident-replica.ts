// A resident copy of the decision path's records: every key under a few prefixes, held off the V8 heap
// (./resident-map.ts), filled from SQLite in the background and kept equal to the committed state.
//
// Why: with a store far larger than the LRU cache and requests spread over it, every decision missed
// the cache and ran SQLite statements; at 1M identities that made p99 8x that of 10,000. Holding the
// records in the V8 heap instead made GC pauses grow with the store. Here the GC sees a few large
// buffers, and a lookup is a hash probe.
//
// Coherence: a write calls invalidate(key) inside its transaction. The key leaves the map and is
// "dirty" until a background step re-reads its committed value, outside any transaction; lookups of a
// dirty key answer "unknown", so the caller reads SQLite (which also sees the transaction's own
// uncommitted writes). Once the initial fill has passed every row and nothing was refused for lack of
// memory, the replica is complete: a key it does not hold does not exist.
import type { MemoryBudget } from './memory-budget';
import { ResidentMap } from './resident-map';

/** One table scanned by the initial fill, in key order, a page at a time. */
export interface FillSource {
  /** Up to about `limit` entries after `cursor` (undefined: from the start) and where to go on (null: done). */
  page(cursor: string | undefined, limit: number): { entries: Array<[string, string]>; next: string | null };
}

/**
 * A table read in key order by a statement like `SELECT key, value FROM t WHERE key > ? ORDER BY key LIMIT ?`
 * (better-sqlite3 `.raw()`: rows as [key, value]), each key stored under `prefix`.
 */
export function keysetSource(prefix: string, stmt: { all(after: string, limit: number): Array<[string, string]> }): FillSource {
  return {
    page: (cursor, limit) => {
      const rows = stmt.all(cursor ?? '', limit);
      return { entries: rows.map(([k, v]) => [prefix + k, v]), next: rows.length < limit ? null : rows[rows.length - 1][0] };
    },
  };
}

/** What a replica reports of itself (metrics, tests). */
export interface ReplicaStats {
  entries: number;
  bytes: number;
  dirty: number;
  complete: boolean;
  /** Background work is left: the fill, or re-reading written keys. */
  busy: boolean;
}

/** Options of ResidentReplica. */
export interface ReplicaOptions {
  /** Memory shared with other replicas; a refused entry makes the replica incomplete (it then only helps). */
  budget: MemoryBudget;
  /** Key prefixes (two characters, e.g. "i:") this replica holds every key of. */
  prefixes: string[];
  /** The committed value of one key, or undefined when it does not exist. */
  load(key: string): string | undefined;
  /** The tables behind the keys, for the initial fill. */
  sources: FillSource[];
  /** True while a write transaction is open: background steps wait for it to end. */
  busy(): boolean;
  /** Called when memory runs out (once per fill; the replica stays correct, but incomplete). */
  onFull?: () => void;
  /** Called when a fill has read every table (the replica is complete unless memory ran out). */
  onFilled?: (stats: Omit<ReplicaStats, 'dirty' | 'busy'> & { ms: number }) => void;
  /** Called when a background read failed (it is retried a second later). */
  onError?: (err: unknown) => void;
  /** Longest background step, ms (default 2). */
  sliceMs?: number;
  /** Dirty keys above which the tables are read again whole (default 50,000, or a quarter of the entries). */
  refillAbove?: number;
}

/** What a replica needs from its owner, which adds the memory budget and the transaction state. */
export type ReplicaSpec = Pick<ReplicaOptions, 'prefixes' | 'load' | 'sources'> & { name: string };

/** Dirty keys above which re-reading the tables is cheaper than re-reading each key. */
const REFILL_DIRTY_MIN = 50_000;
const PAGE = 512;
/** After a flood of writes restarted the fill, background filling waits until writes paused this long. */
const FLOOD_QUIET_MS = 500;

/** A complete, committed copy of some keys, or "unknown" where it cannot say. */
export class ResidentReplica {
  private readonly map: ResidentMap;
  private readonly dirty = new Set<string>();
  /** covered[c]: keys "c:..." are held (prefixes are one ASCII character and a colon). */
  private readonly covered = new Uint8Array(128);
  private readonly opts: ReplicaOptions;
  private readonly sliceMs: number;
  private source = 0;
  private cursor: string | undefined;
  private filled = false;
  private fillStarted = 0;
  private floodAt = -Infinity;
  private full = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private waiters: Array<() => void> = [];
  /** Initial fills and refills run (tests, metrics). */
  fills = 0;

  constructor(opts: ReplicaOptions) {
    this.opts = opts;
    this.map = new ResidentMap({ budget: opts.budget });
    for (const p of opts.prefixes) {
      if (p.length !== 2 || p[1] !== ':' || p.charCodeAt(0) > 127) throw new TypeError(`replica prefix must be "<ascii>:" (got ${JSON.stringify(p)})`);
      this.covered[p.charCodeAt(0)] = 1;
    }
    this.sliceMs = opts.sliceMs ?? 2;
    this.refill();
  }

  /** True once every key is held: absent means "does not exist". */
  get complete(): boolean {
    return this.filled && !this.full;
  }

  /** Entries held, bytes reserved, keys waiting to be re-read, whether background work is left. */
  get stats(): ReplicaStats {
    return { entries: this.map.size, bytes: this.map.bytes, dirty: this.dirty.size, complete: this.complete, busy: !this.idle() };
  }

  /** The committed value (string), known absent (null), or unknown (undefined: ask SQLite). */
  lookup(key: string): string | null | undefined {
    if (!this.covers(key)) return undefined;
    if (this.dirty.size > 0 && this.dirty.has(key)) return undefined;
    const v = this.map.get(key);
    if (v !== undefined) return v;
    return this.complete ? null : undefined;
  }

  /** A write changed `key` (called inside its transaction). */
  invalidate(key: string): void {
    if (this.stopped || !this.covers(key)) return;
    if (!this.filled && this.source === 0 && this.cursor === undefined) {
      // A fill that has read nothing yet will read this key's committed value anyway. While a flood of
      // writes goes on (a bulk import), it keeps the fill waiting.
      if (performance.now() - this.floodAt < FLOOD_QUIET_MS) this.floodAt = performance.now();
      return;
    }
    this.map.delete(key);
    this.dirty.add(key);
    // A bulk load dirties most keys: one pass over the tables beats a statement per key. During a fill
    // this also bounds the dirty set (a large import would otherwise grow it without limit): the fill
    // starts over, and completes once the writes slow down.
    if (this.dirty.size > Math.max(this.opts.refillAbove ?? REFILL_DIRTY_MIN, this.map.size >> 2)) {
      this.floodAt = performance.now();
      this.refill();
    }
    this.schedule();
  }

  /** Resolves when the fill is done and no key is dirty (tests, benchmarks). */
  settled(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops background work and frees the memory. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.map.clear();
    this.dirty.clear();
    this.filled = false;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Does up to `budgetMs` of background work now; true when more is left (tests drive it directly). */
  step(budgetMs = this.sliceMs): boolean {
    if (this.stopped) return false;
    if (this.opts.busy()) return true;
    const deadline = performance.now() + budgetMs;
    if (!this.filled) do this.fillPage(); while (!this.filled && performance.now() < deadline); // at least a page
    if (this.filled) this.drain(deadline);
    return !this.idle();
  }

  private covers(key: string): boolean {
    return key.charCodeAt(1) === 58 && this.covered[key.charCodeAt(0)] === 1;
  }

  private idle(): boolean {
    return this.stopped || (this.filled && this.dirty.size === 0);
  }

  // Starts over from an empty map. Clearing the dirty set is safe only together with the map: every
  // key will be read again, after any write already made.
  private refill(): void {
    this.map.clear();
    this.dirty.clear();
    this.filled = false;
    this.full = false;
    this.source = 0;
    this.cursor = undefined;
    this.fillStarted = performance.now();
    this.fills++;
    this.schedule();
  }

  private fillPage(): void {
    const src = this.opts.sources[this.source];
    if (!src) {
      this.filled = true;
      this.opts.onFilled?.({ entries: this.map.size, bytes: this.map.bytes, complete: this.complete, ms: Math.round(performance.now() - this.fillStarted) });
      return;
    }
    const { entries, next } = src.page(this.cursor, PAGE);
    for (const [k, v] of entries) this.put(k, v);
    if (next === null) {
      this.source++;
      this.cursor = undefined;
    } else this.cursor = next;
  }

  private drain(deadline: number): void {
    let n = 0;
    for (const key of this.dirty) {
      const v = this.opts.load(key); // throws: the key stays dirty
      this.dirty.delete(key);
      if (v !== undefined) this.put(key, v);
      if ((++n & 63) === 0 && performance.now() >= deadline) break;
    }
  }

  private put(key: string, value: string): void {
    if (this.map.set(key, value) || this.full) return;
    this.full = true;
    this.opts.onFull?.();
  }

  private schedule(delayMs = 0): void {
    if (this.timer || this.stopped) return;
    // A timer, not setImmediate: unref'd, a replica never keeps a process (a CLI, a test) alive.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A fill that a bulk import would restart again and again only takes CPU from the import.
      const quietFor = performance.now() - this.floodAt;
      if (!this.filled && quietFor < FLOOD_QUIET_MS) return this.schedule(FLOOD_QUIET_MS - quietFor);
      let more: boolean;
      try {
        more = this.step();
      } catch (err) {
        // Unknown keys are read from SQLite meanwhile, so a failing background read costs speed only.
        this.opts.onError?.(err);
        return this.schedule(1000);
      }
      if (more) this.schedule();
      else for (const w of this.waiters.splice(0)) w();
    }, delayMs);
    this.timer.unref();
  }
}
