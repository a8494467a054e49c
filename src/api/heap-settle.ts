// Settling the heap after bulk work. An import, a lifecycle catch-up or a resident fill leaves tens of MB
// of garbage in V8's old generation. Left alone, V8 collects it minutes later, under traffic, in one
// large (often memory-reducing) incremental mark-compact; on a 2-vCPU VM that stalled the event loop for
// 100–200 ms and was the worst p99 of every callers benchmark run (bench/README "Heap settle after bulk work"). One full
// GC as soon as the bulk work is over takes that pause at a known moment instead, shorter (~30 ms at
// 10,000 identities) and before traffic depends on it. Needs `node --expose-gc` (npm start and the
// image pass it); without it nothing happens.
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';

/** What a settle did (logged). */
export interface SettleReport {
  ms: number;
  beforeBytes: number;
  afterBytes: number;
}

/** Options of HeapSettler. */
export interface HeapSettlerOptions {
  /** A full garbage collection (globalThis.gc under --expose-gc). */
  gc: () => void;
  /** True while background bulk work runs (lifecycle catch-up or sweep, a resident fill, dirty keys). */
  busy: () => boolean;
  /** Settle only when the heap grew at least this much since the last settle (or the start). */
  minGrowthBytes: number;
  /** Store writes since the last settle that count as bulk work (default 1,000). */
  bulkWrites?: number;
  /** Settle only after this long without a store write, ms (default 2,000). */
  quietMs?: number;
  /** Bytes in use on the V8 heap (default v8.getHeapStatistics().used_heap_size). */
  heapUsed?: () => number;
  /** Monotonic clock in ms (tests pin it). */
  now?: () => number;
  /** Called after each settle that check() ran. */
  onSettle?: (r: SettleReport) => void;
}

/** Decides when bulk work is over and runs one full GC then. */
export class HeapSettler {
  private readonly opts: Required<Omit<HeapSettlerOptions, 'onSettle'>> & Pick<HeapSettlerOptions, 'onSettle'>;
  private writes = 0;
  private lastWrite = -Infinity;
  private bulkDone = false;
  private baseline: number;
  private timer?: NodeJS.Timeout;

  constructor(opts: HeapSettlerOptions) {
    this.opts = {
      bulkWrites: 1000,
      quietMs: 2000,
      heapUsed: () => v8.getHeapStatistics().used_heap_size,
      now: () => performance.now(),
      ...opts,
    };
    this.baseline = this.opts.heapUsed();
  }

  /** A store write happened (called for every change; only counts). */
  noteWrite(): void {
    this.writes++;
    this.lastWrite = this.opts.now();
  }

  /** A bulk pass that is not a store write finished (a resident fill). */
  noteBulk(): void {
    this.bulkDone = true;
  }

  /**
   * Settles when bulk work happened since the last episode, it is over (no write for quietMs, nothing
   * busy) and the heap grew by minGrowthBytes since the last settle. Returns the report when it ran a GC.
   */
  check(): SettleReport | undefined {
    const o = this.opts;
    const busy = o.busy();
    // A catch-up, sweep (a policy change re-derives every identity) or fill seen running is bulk work too.
    if (busy) this.bulkDone = true;
    if (!this.bulkDone && this.writes < o.bulkWrites) return undefined;
    if (busy || o.now() - this.lastWrite < o.quietMs) return undefined;
    this.bulkDone = false;
    this.writes = 0;
    const used = o.heapUsed();
    if (used - this.baseline < o.minGrowthBytes) {
      // V8 already collected it (or there was little): nothing to settle; track the lower level.
      this.baseline = Math.min(this.baseline, used);
      return undefined;
    }
    const report = this.settle();
    o.onSettle?.(report);
    return report;
  }

  /** One full GC now; growth counts from what it left. */
  settle(): SettleReport {
    const o = this.opts;
    const beforeBytes = o.heapUsed();
    const t0 = performance.now();
    o.gc();
    const report = { ms: performance.now() - t0, beforeBytes, afterBytes: o.heapUsed() };
    this.baseline = report.afterBytes;
    return report;
  }

  /**
   * Settles once now (start-up: compiling, warming up and filling leave garbage too, and the baseline
   * must be the live heap), then checks every `pollMs` on an unref'd timer until stop().
   */
  start(pollMs = 1000): SettleReport {
    this.stop();
    this.bulkDone = false;
    this.writes = 0;
    const report = this.settle();
    this.timer = setInterval(() => this.check(), pollMs);
    this.timer.unref();
    return report;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The process's full-GC function when node runs with --expose-gc, else undefined. */
export function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
}
