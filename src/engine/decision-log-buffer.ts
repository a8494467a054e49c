// The decision log's bounded buffer and its drop policy: the lines waiting to be written, in record
// order. When it holds `capacity` lines, allows are dropped (and counted) first: a new allow is refused,
// a new deny or break-glass entry evicts the newest buffered allow. Denies and break-glass entries are
// kept beyond that bound, up to `hardCapacity`, past which they are dropped too, counted apart
// (decisionLogDrop(n, false)) and reported once per episode: a sink that stays broken must not take the
// service's memory with it. Nothing here does I/O; src/engine/decision-log-sink.ts writes what it takes.

/** Where drops are counted (src/api/metrics.ts Metrics satisfies it). */
export interface DecisionLogMetrics {
  /** `allow` false: a deny or break-glass entry dropped at the hard cap. */
  decisionLogDrop(count?: number, allow?: boolean): void;
  setDecisionLogBuffered(n: number): void;
}

/** Options of the buffer (part of DecisionLogOptions). */
export interface DecisionLogBufferOptions {
  /** Entries buffered before allows are dropped (default 10,000). */
  capacity?: number;
  /** Entries buffered before even denies and break-glass entries are dropped (default 10 × capacity). */
  hardCapacity?: number;
  metrics?: DecisionLogMetrics;
}

/**
 * One buffered line. `seq` is its place in record order; `keep` marks a deny or break-glass entry;
 * `skip` counts leading bytes of the line already in the file (a write that failed part-way through it).
 */
export interface BufferedLine {
  seq: number;
  line: string;
  keep: boolean;
  skip?: number;
}

/** The bounded buffer of decision-log lines. */
export class DecisionLogBuffer {
  /** Allows dropped since start. */
  dropped = 0;
  /** Denies and break-glass entries dropped at the hard cap since start. */
  droppedProtected = 0;
  readonly capacity: number;
  readonly hardCapacity: number;
  private readonly metrics?: DecisionLogMetrics;
  /** Called once per hard-cap episode (until the buffer is back under its soft capacity). */
  private readonly onOverflow: (err: Error) => void;
  // Two queues so that making room for a deny evicts an allow in O(1); merged by seq on take().
  private allows: BufferedLine[] = [];
  private protectedLines: BufferedLine[] = [];
  private seq = 0;
  private overflowing = false;

  constructor(opts: DecisionLogBufferOptions, onOverflow: (err: Error) => void) {
    this.capacity = Math.max(1, opts.capacity ?? 10_000);
    this.hardCapacity = Math.max(this.capacity, opts.hardCapacity ?? this.capacity * 10);
    this.metrics = opts.metrics;
    this.onOverflow = onOverflow;
  }

  /** Lines waiting. */
  get size(): number {
    return this.allows.length + this.protectedLines.length;
  }

  /**
   * Makes room for one more entry (`keep`: a deny or break-glass entry), dropping and counting what the
   * policy says; false when the entry itself is dropped. Called before the entry is serialized, so a
   * dropped allow costs no JSON.stringify.
   */
  admit(keep: boolean): boolean {
    if (this.size < this.capacity) return true;
    if (!keep) return this.drop();
    // Room for a deny: evict the newest buffered allow, if any; otherwise exceed the bound, up to the hard cap.
    if (this.allows.length > 0) {
      this.allows.pop();
      this.drop();
    } else if (this.size >= this.hardCapacity) {
      return this.dropProtected();
    }
    return true;
  }

  /** Appends an admitted line. */
  add(line: string, keep: boolean): void {
    (keep ? this.protectedLines : this.allows).push({ seq: this.seq++, line, keep });
    this.metrics?.setDecisionLogBuffered(this.size);
  }

  /** Removes and returns up to `max` of the oldest lines, in record order. */
  take(max: number): BufferedLine[] {
    const lines: BufferedLine[] = [];
    while (lines.length < max && (this.allows.length > 0 || this.protectedLines.length > 0)) {
      const a = this.allows[0];
      const p = this.protectedLines[0];
      if (p === undefined || (a !== undefined && a.seq < p.seq)) lines.push(this.allows.shift()!);
      else lines.push(this.protectedLines.shift()!);
    }
    this.changed();
    return lines;
  }

  /**
   * Puts back, in front and in order, lines taken earlier that did not reach the sink (everything taken
   * is older than what was added since). Over the hard cap, the newest are dropped, allows first.
   */
  putBack(lines: BufferedLine[]): void {
    this.allows.unshift(...lines.filter((l) => !l.keep));
    this.protectedLines.unshift(...lines.filter((l) => l.keep));
    while (this.size > this.hardCapacity) {
      if (this.allows.length > 0) {
        this.allows.pop();
        this.drop();
      } else {
        this.protectedLines.pop();
        this.dropProtected();
      }
    }
    this.changed();
  }

  /** The oldest line, the next to be written. */
  first(): BufferedLine | undefined {
    const a = this.allows[0];
    const p = this.protectedLines[0];
    if (p === undefined) return a;
    return a !== undefined && a.seq < p.seq ? a : p;
  }

  /** Forgets every line (close() gave up on them). */
  clear(): void {
    this.allows = [];
    this.protectedLines = [];
    this.metrics?.setDecisionLogBuffered(0);
  }

  private drop(): false {
    this.dropped++;
    this.metrics?.decisionLogDrop(1, true);
    return false;
  }

  private dropProtected(): false {
    this.droppedProtected++;
    this.metrics?.decisionLogDrop(1, false);
    if (!this.overflowing) {
      // Reported once per episode: until the buffer is back under its (soft) capacity.
      this.overflowing = true;
      this.onOverflow(new Error(`decision log buffer at its hard cap of ${this.hardCapacity} entries: dropping denies and break-glass decisions`));
    }
    return false;
  }

  private changed(): void {
    this.metrics?.setDecisionLogBuffered(this.size);
    if (this.overflowing && this.size <= this.capacity) this.overflowing = false;
  }
}
