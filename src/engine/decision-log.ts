// The decision log: one JSON line per decision, written asynchronously so logging never blocks a
// decision. record() puts the line in a bounded buffer (src/engine/decision-log-buffer.ts: when full,
// allows are dropped first; denies and break-glass decisions are kept up to a hard cap); lines are
// written in batches, one sink write per flush interval (or as soon as a full batch is waiting), so a
// busy service does not pay one write syscall per decision. The sink (src/engine/decision-log-sink.ts)
// is the log's own file (reopened with backoff after a failure such as ENOSPC, and at its path after a
// rotation: reopen() on SIGHUP, or a periodic check), stdout, or a Writable passed in.
//
// Failures are reported through onError, never thrown. flush() and close() never wait on a failed sink;
// close() waits at most closeTimeoutMs and reports the lines it could not write.
import type { Writable } from 'node:stream';
import { DecisionLogBuffer, type DecisionLogBufferOptions } from './decision-log-buffer';
import { DecisionLogSink, type DecisionLogReopenReason, type DecisionLogSinkOptions } from './decision-log-sink';

export type { DecisionLogMetrics } from './decision-log-buffer';
export type { DecisionLogReopenReason } from './decision-log-sink';

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

/** What onError reports. Never carries entry contents. */
export interface DecisionLogErrorInfo {
  /**
   * `sink`: a write to the sink, or reopening the file, failed; `overflow`: the buffer reached its hard
   * cap and denies/break-glass entries are being dropped (once per episode); `close`: close() left lines
   * unwritten.
   */
  kind: 'sink' | 'overflow' | 'close';
  /** Entries waiting to be written (including any the failed sink had not confirmed). */
  buffered: number;
  /** Allows dropped since start. */
  dropped: number;
  /** Denies and break-glass entries dropped at the hard cap since start. */
  droppedProtected: number;
  /** `sink`: when the file is tried again, ms; absent when it will not be (a Writable or stdout, or closing). */
  retryInMs?: number;
  /** `close`: lines that could not be written. */
  unwritten?: number;
}

/** What onRecover reports. */
export interface DecisionLogRecoverInfo {
  /** Entries still waiting to be written. */
  buffered: number;
  /** Time since the failure, ms. */
  failedForMs: number;
  /** Failed attempts (the first failure and the reopens that failed). */
  failures: number;
}

/** What onReopen reports. Never carries entry contents. */
export interface DecisionLogReopenInfo {
  reason: DecisionLogReopenReason;
  /** Entries waiting to be written (they go to the reopened file). */
  buffered: number;
}

/** Options of DecisionLog (with those of its buffer and its sink). */
export interface DecisionLogOptions extends DecisionLogBufferOptions, DecisionLogSinkOptions {
  /** A file path (appended, directories created), "-" for stdout, or a Writable. */
  sink: string | Writable;
  /** Longest wait before buffered lines are written, ms (default 20; 0 = next event-loop turn). */
  flushIntervalMs?: number;
  /** Sink failures, hard-cap episodes and unwritten lines at close. Must not throw (ignored if it does). */
  onError?: (err: Error, info: DecisionLogErrorInfo) => void;
  /** A failed file sink works again (its first write after the failure was confirmed). */
  onRecover?: (info: DecisionLogRecoverInfo) => void;
  /** The log's own file was reopened at its path after a rotation. Must not throw (ignored if it does). */
  onReopen?: (info: DecisionLogReopenInfo) => void;
  /** Longest time close() waits for the sink before giving up on what is left, ms (default 5,000). */
  closeTimeoutMs?: number;
}

/** Lines per sink write; a full batch is written on the next turn instead of waiting for the interval. */
const BATCH = 1000;

/** A bounded, asynchronous JSON-lines decision log. */
export class DecisionLog {
  private readonly buffer: DecisionLogBuffer;
  private readonly sink: DecisionLogSink;
  private readonly onError?: DecisionLogOptions['onError'];
  private readonly onRecover?: DecisionLogOptions['onRecover'];
  private readonly onReopen?: DecisionLogOptions['onReopen'];
  private readonly closeTimeoutMs: number;
  private readonly intervalMs: number;
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  private closing: Promise<{ unwritten: number }> | null = null;
  private muted = false;

  constructor(opts: DecisionLogOptions) {
    this.onError = opts.onError;
    this.onRecover = opts.onRecover;
    this.onReopen = opts.onReopen;
    this.intervalMs = Math.max(0, opts.flushIntervalMs ?? 20);
    this.closeTimeoutMs = Math.max(0, opts.closeTimeoutMs ?? 5000);
    this.buffer = new DecisionLogBuffer(opts, (err) => this.report(err, 'overflow'));
    this.sink = new DecisionLogSink(opts.sink, opts, {
      firstPending: () => this.buffer.first(),
      returned: (lines) => this.buffer.putBack(lines),
      writable: () => {
        this.notify();
        if (this.buffer.size > 0) this.schedule();
      },
      settled: () => this.notify(),
      failed: (err, retryInMs) => this.report(err, 'sink', retryInMs === undefined ? {} : { retryInMs }),
      recovered: (failedForMs, failures) => this.callback(this.onRecover, { buffered: this.buffer.size, failedForMs, failures }),
      reopened: (reason) => this.callback(this.onReopen, { reason, buffered: this.buffer.size }),
    });
  }

  /** Entries waiting to be written. */
  get buffered(): number {
    return this.buffer.size;
  }

  /** Allows dropped since start. */
  get dropped(): number {
    return this.buffer.dropped;
  }

  /** Denies and break-glass entries dropped at the hard cap since start. */
  get droppedProtected(): number {
    return this.buffer.droppedProtected;
  }

  /** Sink failures since start (each failed write or reopen attempt). */
  get sinkFailures(): number {
    return this.sink.failures;
  }

  /** Queues one entry; never blocks and never throws. Returns false when the entry was dropped. */
  record(entry: DecisionLogEntry): boolean {
    if (this.closed) return false;
    const keep = !entry.allow || entry.break_glass === true;
    if (!this.buffer.admit(keep)) return false;
    let line: string;
    try {
      line = JSON.stringify(entry) + '\n';
    } catch {
      return false;
    }
    if (this.muted) return false;
    this.buffer.add(line, keep);
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

  /**
   * Reopens the log's own file at its configured path (after logrotate or an operator moved it away;
   * src/server.ts calls it on SIGHUP). Lines already handed to the old file are confirmed there first,
   * the rest go to the reopened file, in order; record() is not held up meanwhile. False (nothing done)
   * when the sink is stdout or a Writable, or the log is closing.
   */
  reopen(reason: DecisionLogReopenReason = 'signal'): boolean {
    if (this.closed) return false;
    return this.sink.reopen(reason);
  }

  /**
   * Writes everything buffered; resolves once the sink confirmed it, or at once when the sink has failed
   * (what is buffered then stays buffered for a reopened file; see close()).
   */
  async flush(): Promise<void> {
    for (;;) {
      if (!this.sink.usable()) return;
      if (this.buffer.size > 0 && this.sink.ready) this.writeSome();
      if (!this.sink.attached || (this.buffer.size === 0 && this.sink.idle)) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /**
   * Flushes and closes the sink (shutdown); later records are ignored. A failed file gets one more
   * attempt; waits at most closeTimeoutMs, then gives up on what is left: resolves with the number of
   * lines not written (also reported through onError).
   */
  close(): Promise<{ unwritten: number }> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<{ unwritten: number }> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.sink.closing(this.buffer.size > 0);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeTimeoutMs);
    });
    try {
      await Promise.race([this.flush(), deadline]);
      const unwritten = this.buffer.size + this.sink.inFlight;
      await this.sink.end(unwritten > 0, deadline);
      this.buffer.clear();
      if (unwritten > 0) this.report(new Error(`decision log closed with ${unwritten} lines not written`), 'close', { buffered: unwritten, unwritten });
      return { unwritten };
    } finally {
      clearTimeout(timer);
    }
  }

  private report(err: Error, kind: DecisionLogErrorInfo['kind'], extra: Partial<DecisionLogErrorInfo> = {}): void {
    if (!this.onError) return;
    try {
      const buffered = this.buffer.size + this.sink.inFlight;
      this.onError(err, { kind, buffered, dropped: this.buffer.dropped, droppedProtected: this.buffer.droppedProtected, ...extra });
    } catch {
      // a failing reporter must not break the log
    }
  }

  private callback<T>(fn: ((info: T) => void) | undefined, info: T): void {
    try {
      fn?.(info);
    } catch {
      // as report()
    }
  }

  private notify(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  // One pending write per interval. The timer stays ref'd (it exists only while lines wait), so a
  // process that ends without close() still writes what it decided. A full batch goes out next turn.
  private schedule(): void {
    if (!this.sink.ready || this.immediate) return;
    if (this.buffer.size >= BATCH || this.intervalMs === 0) {
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
    if (this.sink.ready && this.buffer.size > 0) this.writeSome();
  }

  /** Takes up to BATCH lines in order and hands them to the sink as one write, honouring backpressure. */
  private writeSome(): void {
    if (!this.sink.usable()) return;
    const lines = this.buffer.take(BATCH);
    if (lines.length === 0) return;
    this.sink.write(lines);
    if (this.buffer.size > 0) this.schedule();
  }
}
