// The decision log: one JSON line per decision, written asynchronously through a bounded buffer so
// logging never blocks a decision. Lines are batched: one sink write per flush interval (or as soon
// as a full batch is waiting), so a busy service does not pay one write syscall per decision. When
// the buffer is full, allows are dropped (and counted) first; denies and break-glass decisions are
// never dropped, even if that means going over the bound.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';

/** One decision-log line. */
export interface DecisionLogEntry {
  decision_id: string;
  time: string;
  action: string | null;
  subject: string | null;
  device: string | null;
  app: string | null;
  allow: boolean;
  reasons: string[];
  revision: string;
  /** Milliseconds spent composing the input and evaluating the policy. */
  duration: number;
  /** Set for decisions about break-glass identities or carrying the `alert` obligation. */
  break_glass?: boolean;
  [extra: string]: unknown;
}

/** Where drops are counted (src/api/metrics.ts Metrics satisfies it). */
export interface DecisionLogMetrics {
  decisionLogDrop(count?: number, allow?: boolean): void;
  setDecisionLogBuffered(n: number): void;
}

/** Options of DecisionLog. */
export interface DecisionLogOptions {
  /** A file path (appended, directories created), "-" for stdout, or a Writable. */
  sink: string | Writable;
  /** Entries buffered before allows are dropped (default 10,000). */
  capacity?: number;
  metrics?: DecisionLogMetrics;
  /** Longest wait before buffered lines are written, ms (default 20; 0 = next event-loop turn). */
  flushIntervalMs?: number;
}

/** Lines per sink write; a full batch is written on the next turn instead of waiting for the interval. */
const BATCH = 1000;

type Item = { seq: number; line: string };

/** A bounded, asynchronous JSON-lines decision log. */
export class DecisionLog {
  /** Entries dropped since start (allows only, by construction). */
  dropped = 0;
  private readonly capacity: number;
  private readonly stream: Writable;
  private readonly ownsStream: boolean;
  private readonly metrics?: DecisionLogMetrics;
  // Two queues so that making room for a deny evicts an allow in O(1); merged by seq on write.
  private allows: Item[] = [];
  private protectedItems: Item[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly intervalMs: number;
  private writing: Promise<void> | null = null;
  private closed = false;
  private muted = false;

  constructor(opts: DecisionLogOptions) {
    this.capacity = Math.max(1, opts.capacity ?? 10_000);
    this.metrics = opts.metrics;
    this.intervalMs = Math.max(0, opts.flushIntervalMs ?? 20);
    if (typeof opts.sink === 'string') {
      if (opts.sink === '-') {
        this.stream = process.stdout;
        this.ownsStream = false;
      } else {
        fs.mkdirSync(path.dirname(opts.sink), { recursive: true });
        this.stream = fs.createWriteStream(opts.sink, { flags: 'a' });
        this.ownsStream = true;
      }
    } else {
      this.stream = opts.sink;
      this.ownsStream = false;
    }
    // A failing sink must not crash the service; entries keep buffering (and allows get dropped).
    this.stream.on('error', () => undefined);
  }

  /** Entries waiting to be written. */
  get buffered(): number {
    return this.allows.length + this.protectedItems.length;
  }

  /** Queues one entry; never blocks and never throws. Returns false when the entry was dropped. */
  record(entry: DecisionLogEntry): boolean {
    if (this.closed) return false;
    const keep = !entry.allow || entry.break_glass === true;
    if (this.buffered >= this.capacity) {
      if (!keep) return this.drop();
      // Room for a deny: evict the newest buffered allow, if any; otherwise exceed the bound.
      if (this.allows.length > 0) {
        this.allows.pop();
        this.drop();
      }
    }
    let line: string;
    try {
      line = JSON.stringify(entry) + '\n';
    } catch {
      return false;
    }
    if (this.muted) return false;
    (keep ? this.protectedItems : this.allows).push({ seq: this.seq++, line });
    this.metrics?.setDecisionLogBuffered(this.buffered);
    this.schedule();
    return true;
  }

  /**
   * While muted, entries are serialized (the same work) but not queued: serve()'s start-up warm-up runs
   * its synthetic decisions so, before the server listens.
   */
  mute(on: boolean): void {
    this.muted = on;
  }

  /** Writes everything buffered; resolves once the sink accepted it. */
  async flush(): Promise<void> {
    while (this.writing || this.buffered > 0) {
      if (this.writing) await this.writing;
      else await this.writeSome();
    }
  }

  /** Flushes and closes the sink (shutdown). Later records are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (this.ownsStream) await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  private drop(): false {
    this.dropped++;
    this.metrics?.decisionLogDrop(1, true);
    return false;
  }

  // One pending write per interval. The timer stays ref'd (it exists only while lines wait), so a
  // process that ends without close() still writes what it decided. A full batch goes out next turn.
  private schedule(): void {
    if (this.writing || this.immediate) return;
    if (this.buffered >= BATCH || this.intervalMs === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate = setImmediate(() => this.runScheduled());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.runScheduled(), this.intervalMs);
    }
  }

  private runScheduled(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = null;
    if (!this.writing && this.buffered > 0) void this.writeSome();
  }

  /** Takes up to BATCH entries in order and writes them as one chunk, honouring backpressure. */
  private writeSome(): Promise<void> {
    const batch: Item[] = [];
    while (batch.length < BATCH && (this.allows.length > 0 || this.protectedItems.length > 0)) {
      const a = this.allows[0];
      const p = this.protectedItems[0];
      if (p === undefined || (a !== undefined && a.seq < p.seq)) batch.push(this.allows.shift()!);
      else batch.push(this.protectedItems.shift()!);
    }
    this.metrics?.setDecisionLogBuffered(this.buffered);
    const chunk = batch.map((i) => i.line).join('');
    let ok: boolean;
    try {
      ok = this.stream.write(chunk);
    } catch {
      ok = true;
    }
    if (ok) {
      if (this.buffered > 0) this.schedule();
      return Promise.resolve();
    }
    // Backpressure: hold further writes until the sink drains (or errors/closes, so flush() ends).
    const pending = new Promise<void>((resolve) => {
      const once = () => {
        this.stream.off('drain', once).off('close', once).off('error', once);
        if (this.writing === pending) this.writing = null;
        resolve();
        if (this.buffered > 0) this.schedule();
      };
      this.stream.on('drain', once).on('close', once).on('error', once);
    });
    this.writing = pending;
    return this.writing;
  }
}
