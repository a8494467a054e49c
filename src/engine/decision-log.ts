// The decision log: one JSON line per decision, written asynchronously through a bounded buffer so
// logging never blocks a decision. Lines are batched: one sink write per flush interval (or as soon
// as a full batch is waiting), so a busy service does not pay one write syscall per decision. When
// the buffer is full, allows are dropped (and counted) first; denies and break-glass decisions are
// kept beyond that bound, up to a hard cap (default 10 × capacity) past which they are dropped too,
// counted apart (decisionLogDrop(n, false)) and reported once per episode: a sink that stays broken
// must not take the service's memory with it.
//
// A sink failure (a write or open error, e.g. ENOSPC) is reported through onError, never thrown. A
// file the log opened itself is reopened with backoff (1 s doubling to 30 s by default) and the lines
// buffered meanwhile are written, in order, once it works again; lines the failed stream did not get
// to disk are buffered again (the byte count of the failed stream says exactly which, and a line cut
// in the middle is completed, or terminated and written again whole, when the file is reopened). A
// Writable passed in (or stdout) that fails is not written again. flush() and close() never wait on
// a failed sink; close() waits at most closeTimeoutMs and reports the lines it could not write.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { types } from 'node:util';

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
  /** `allow` false: a deny or break-glass entry dropped at the hard cap. */
  decisionLogDrop(count?: number, allow?: boolean): void;
  setDecisionLogBuffered(n: number): void;
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

/** Options of DecisionLog. */
export interface DecisionLogOptions {
  /** A file path (appended, directories created), "-" for stdout, or a Writable. */
  sink: string | Writable;
  /** Entries buffered before allows are dropped (default 10,000). */
  capacity?: number;
  /** Entries buffered before even denies and break-glass entries are dropped (default 10 × capacity). */
  hardCapacity?: number;
  metrics?: DecisionLogMetrics;
  /** Longest wait before buffered lines are written, ms (default 20; 0 = next event-loop turn). */
  flushIntervalMs?: number;
  /** Sink failures, hard-cap episodes and unwritten lines at close. Must not throw (ignored if it does). */
  onError?: (err: Error, info: DecisionLogErrorInfo) => void;
  /** A failed file sink works again (its first write after the failure was confirmed). */
  onRecover?: (info: DecisionLogRecoverInfo) => void;
  /** First wait before reopening a failed file, ms (default 1,000); doubles per failure. */
  retryMinMs?: number;
  /** Longest wait between reopen attempts, ms (default 30,000). */
  retryMaxMs?: number;
  /** Schedules a reopen attempt; returns its cancel (tests; default an unref'd setTimeout). */
  setRetryTimer?: (fn: () => void, ms: number) => () => void;
  /** Opens the log's own file for appending (tests; default fs.createWriteStream(file, { flags: 'a' })). */
  openFile?: (file: string) => Writable;
  /** Longest time close() waits for the sink before giving up on what is left, ms (default 5,000). */
  closeTimeoutMs?: number;
}

/** Lines per sink write; a full batch is written on the next turn instead of waiting for the interval. */
const BATCH = 1000;

/** `skip`: leading bytes of the line already in the file (a write that failed part-way through it). */
type Item = { seq: number; line: string; keep: boolean; skip?: number };
type Chunk = { items: Item[]; bytes: number };

function defaultRetryTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref(); // a broken disk must not keep a finished process alive
  return () => clearTimeout(t);
}

// isNativeError, not instanceof: errors from node internals come from another realm under jest's vm.
const asError = (err: unknown): Error => (err instanceof Error || types.isNativeError(err) ? (err as Error) : new Error(String(err)));

/** A bounded, asynchronous JSON-lines decision log. */
export class DecisionLog {
  /** Allows dropped since start. */
  dropped = 0;
  /** Denies and break-glass entries dropped at the hard cap since start. */
  droppedProtected = 0;
  /** Sink failures since start (each failed write or reopen attempt). */
  sinkFailures = 0;
  private readonly capacity: number;
  private readonly hardCapacity: number;
  private readonly file: string | null;
  private readonly ownsStream: boolean;
  private readonly metrics?: DecisionLogMetrics;
  private readonly onError?: DecisionLogOptions['onError'];
  private readonly onRecover?: DecisionLogOptions['onRecover'];
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly setRetryTimer: (fn: () => void, ms: number) => () => void;
  private readonly closeTimeoutMs: number;
  private readonly openFile: (file: string) => Writable;
  /** The sink being written; null while a failed file waits to be reopened, after a Writable failed, and after close(). */
  private stream: Writable | null = null;
  /** Bumped whenever the stream is replaced or given up, so events of an old stream are ignored. */
  private gen = 0;
  /** Chunks handed to the stream whose write callback has not come yet, in write order. */
  private unacked: Chunk[] = [];
  /** Bytes of this stream's confirmed chunks (with bytesWritten: how far a failed write got). */
  private confirmedBytes = 0;
  private waitingDrain = false;
  private waiters: Array<() => void> = [];
  // Two queues so that making room for a deny evicts an allow in O(1); merged by seq on write.
  private allows: Item[] = [];
  private protectedItems: Item[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly intervalMs: number;
  private closed = false;
  private closing: Promise<{ unwritten: number }> | null = null;
  private muted = false;
  private overflowing = false;
  private failedAt: number | null = null;
  private failuresInEpisode = 0;
  private retryDelay: number;
  private cancelRetry: (() => void) | null = null;

  constructor(opts: DecisionLogOptions) {
    this.capacity = Math.max(1, opts.capacity ?? 10_000);
    this.hardCapacity = Math.max(this.capacity, opts.hardCapacity ?? this.capacity * 10);
    this.metrics = opts.metrics;
    this.onError = opts.onError;
    this.onRecover = opts.onRecover;
    this.intervalMs = Math.max(0, opts.flushIntervalMs ?? 20);
    this.retryMinMs = Math.max(1, opts.retryMinMs ?? 1000);
    this.retryMaxMs = Math.max(this.retryMinMs, opts.retryMaxMs ?? 30_000);
    this.retryDelay = this.retryMinMs;
    this.setRetryTimer = opts.setRetryTimer ?? defaultRetryTimer;
    this.closeTimeoutMs = Math.max(0, opts.closeTimeoutMs ?? 5000);
    this.openFile = opts.openFile ?? ((file) => fs.createWriteStream(file, { flags: 'a' }));
    if (typeof opts.sink === 'string' && opts.sink !== '-') {
      this.file = opts.sink;
      this.ownsStream = true;
      fs.mkdirSync(path.dirname(opts.sink), { recursive: true });
      this.attach(this.openFile(opts.sink));
    } else {
      this.file = null;
      this.ownsStream = false;
      this.attach(opts.sink === '-' ? process.stdout : (opts.sink as Writable));
    }
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
      // Room for a deny: evict the newest buffered allow, if any; otherwise exceed the bound, up to the hard cap.
      if (this.allows.length > 0) {
        this.allows.pop();
        this.drop();
      } else if (this.buffered >= this.hardCapacity) {
        return this.dropProtected();
      }
    }
    let line: string;
    try {
      line = JSON.stringify(entry) + '\n';
    } catch {
      return false;
    }
    if (this.muted) return false;
    (keep ? this.protectedItems : this.allows).push({ seq: this.seq++, line, keep });
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

  /**
   * Writes everything buffered; resolves once the sink confirmed it, or at once when the sink has failed
   * (what is buffered then stays buffered for a reopened file; see close()).
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.stream?.destroyed) this.fail(this.gen, new Error('decision log sink destroyed'));
      if (!this.stream) return;
      if (this.buffered > 0 && !this.waitingDrain) this.writeSome();
      if (!this.stream || (this.buffered === 0 && this.unacked.length === 0)) return;
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
    this.cancelRetry?.();
    this.cancelRetry = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (!this.stream && this.file !== null && this.buffered > 0) this.reopen();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeTimeoutMs);
    });
    try {
      await Promise.race([this.flush(), deadline]);
      const unwritten = this.buffered + this.unacked.reduce((n, c) => n + c.items.length, 0);
      const stream = this.stream;
      this.detach();
      if (stream && this.ownsStream) {
        if (unwritten > 0) stream.destroy();
        else await Promise.race([new Promise<void>((resolve) => stream.end(resolve)), deadline]);
      }
      this.allows = [];
      this.protectedItems = [];
      this.metrics?.setDecisionLogBuffered(0);
      if (unwritten > 0) this.report(new Error(`decision log closed with ${unwritten} lines not written`), 'close', { buffered: unwritten, unwritten });
      return { unwritten };
    } finally {
      clearTimeout(timer);
    }
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
      this.report(new Error(`decision log buffer at its hard cap of ${this.hardCapacity} entries: dropping denies and break-glass decisions`), 'overflow');
    }
    return false;
  }

  private report(err: Error, kind: DecisionLogErrorInfo['kind'], extra: Partial<DecisionLogErrorInfo> = {}): void {
    if (!this.onError) return;
    try {
      const buffered = this.buffered + this.unacked.reduce((n, c) => n + c.items.length, 0);
      this.onError(err, { kind, buffered, dropped: this.dropped, droppedProtected: this.droppedProtected, ...extra });
    } catch {
      // a failing reporter must not break the log
    }
  }

  private notify(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private bufferChanged(): void {
    this.metrics?.setDecisionLogBuffered(this.buffered);
    if (this.overflowing && this.buffered <= this.capacity) this.overflowing = false;
  }

  /** Makes `stream` the sink: its failures (error, or closing while in use) stop writes to it. */
  private attach(stream: Writable): void {
    const gen = ++this.gen;
    this.stream = stream;
    this.unacked = [];
    this.confirmedBytes = 0;
    this.waitingDrain = false;
    // This listener stays for the stream's lifetime: an error emitted after the log gave the stream up
    // must not crash the service.
    stream.on('error', (err) => this.fail(gen, err));
    stream.on('close', () => this.fail(gen, new Error('decision log sink closed')));
    stream.on('drain', () => {
      if (gen !== this.gen) return;
      this.waitingDrain = false;
      this.notify();
      if (this.buffered > 0) this.schedule();
    });
  }

  /** Stops using the current stream (its later events are ignored). */
  private detach(): void {
    this.gen++;
    this.stream = null;
    this.waitingDrain = false;
  }

  // One pending write per interval. The timer stays ref'd (it exists only while lines wait), so a
  // process that ends without close() still writes what it decided. A full batch goes out next turn.
  private schedule(): void {
    if (!this.stream || this.waitingDrain || this.immediate) return;
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
    if (this.stream && !this.waitingDrain && this.buffered > 0) this.writeSome();
  }

  /** Takes up to BATCH entries in order and writes them as one chunk, honouring backpressure. */
  private writeSome(): void {
    const stream = this.stream;
    if (!stream) return;
    if (stream.destroyed) return this.fail(this.gen, new Error('decision log sink destroyed'));
    const items: Item[] = [];
    while (items.length < BATCH && (this.allows.length > 0 || this.protectedItems.length > 0)) {
      const a = this.allows[0];
      const p = this.protectedItems[0];
      if (p === undefined || (a !== undefined && a.seq < p.seq)) items.push(this.allows.shift()!);
      else items.push(this.protectedItems.shift()!);
    }
    this.bufferChanged();
    if (items.length === 0) return;
    const text = items.map((i) => i.line).join('');
    const skip = items[0].skip ?? 0;
    // The rest of a line a failed write cut (the file was checked to end with its first `skip` bytes).
    const data: string | Buffer = skip > 0 ? Buffer.from(text).subarray(skip) : text;
    const chunk: Chunk = { items, bytes: !this.ownsStream ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length };
    this.unacked.push(chunk);
    const gen = this.gen;
    let ok: boolean;
    try {
      ok = stream.write(data, (err) => this.written(gen, chunk, err));
    } catch (err) {
      this.fail(gen, err);
      return;
    }
    if (gen !== this.gen) return; // failed synchronously
    if (!ok) this.waitingDrain = true;
    else if (this.buffered > 0) this.schedule();
  }

  private written(gen: number, chunk: Chunk, err: Error | null | undefined): void {
    if (gen !== this.gen) return;
    if (err) return this.fail(gen, err);
    const i = this.unacked.indexOf(chunk);
    if (i >= 0) this.unacked.splice(i, 1);
    this.confirmedBytes += chunk.bytes;
    if (this.failedAt !== null) {
      const info: DecisionLogRecoverInfo = { buffered: this.buffered, failedForMs: Date.now() - this.failedAt, failures: this.failuresInEpisode };
      this.failedAt = null;
      this.failuresInEpisode = 0;
      this.retryDelay = this.retryMinMs;
      try {
        this.onRecover?.(info);
      } catch {
        // as report()
      }
    }
    this.notify();
  }

  /**
   * The stream failed: stop writing to it, buffer again what it did not get to disk (in order, ahead of
   * everything queued since), report, and for the log's own file schedule a reopen.
   */
  private fail(gen: number, cause: unknown): void {
    if (gen !== this.gen) return;
    const err = asError(cause);
    const stream = this.stream;
    this.detach();
    this.sinkFailures++;
    this.failuresInEpisode++;
    this.failedAt ??= Date.now();
    // fs.WriteStream counts the bytes that reached the file, including a failed write's partial part.
    const bytesWritten = this.ownsStream ? (stream as (Writable & { bytesWritten?: number }) | null)?.bytesWritten : undefined;
    let reached = typeof bytesWritten === 'number' ? Math.max(0, bytesWritten - this.confirmedBytes) : 0;
    const back: Item[] = [];
    for (const chunk of this.unacked) {
      for (const item of chunk.items) {
        if (reached > 0) {
          const rest = Buffer.byteLength(item.line) - (item.skip ?? 0);
          if (reached >= rest) {
            reached -= rest;
            continue;
          }
          item.skip = (item.skip ?? 0) + reached;
          reached = 0;
        }
        back.push(item);
      }
    }
    this.unacked = [];
    this.confirmedBytes = 0;
    // Everything taken for writing is older than what is queued: it goes back in front, in order.
    this.allows.unshift(...back.filter((i) => !i.keep));
    this.protectedItems.unshift(...back.filter((i) => i.keep));
    this.enforceHardCap();
    if (this.ownsStream) stream?.destroy();
    const retry = this.ownsStream && !this.closed;
    this.report(err, 'sink', retry ? { retryInMs: this.retryDelay } : {});
    if (retry) this.scheduleRetry();
    this.notify();
  }

  /** Over the hard cap (lines given back by a failed sink): drop the newest, allows first. */
  private enforceHardCap(): void {
    while (this.buffered > this.hardCapacity) {
      if (this.allows.length > 0) {
        this.allows.pop();
        this.drop();
      } else {
        this.protectedItems.pop();
        this.dropProtected();
      }
    }
    this.bufferChanged();
  }

  private scheduleRetry(): void {
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retryMaxMs);
    this.cancelRetry = this.setRetryTimer(() => {
      this.cancelRetry = null;
      if (!this.closed) this.reopen();
    }, delay);
  }

  /** Opens the file again (recreating its directory); a failure is reported and, unless closing, retried. */
  private reopen(): void {
    const file = this.file!;
    let stream: Writable;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.prepareTail(file);
      stream = this.openFile(file);
    } catch (err) {
      this.sinkFailures++;
      this.failuresInEpisode++;
      const retry = !this.closed;
      this.report(asError(err), 'sink', retry ? { retryInMs: this.retryDelay } : {});
      if (retry) this.scheduleRetry();
      return;
    }
    this.attach(stream);
    this.schedule();
    this.notify();
  }

  /**
   * Before appending again: if the first line to write was cut by the failure and the file still ends
   * with its first bytes, write only the rest; otherwise write it whole, after terminating whatever
   * unfinished line the file ends with (never truncating: something may be tailing the file).
   */
  private prepareTail(file: string): void {
    const first = this.firstQueued();
    const skip = first?.skip ?? 0;
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      if (first) first.skip = 0; // gone (or unreadable): nothing to continue
      return;
    }
    let unterminated = false;
    try {
      const size = fs.fstatSync(fd).size;
      if (first && skip > 0 && size >= skip) {
        const tail = Buffer.alloc(skip);
        fs.readSync(fd, tail, 0, skip, size - skip);
        if (tail.equals(Buffer.from(first.line).subarray(0, skip))) return;
      }
      if (first) first.skip = 0;
      if (size > 0) {
        const last = Buffer.alloc(1);
        fs.readSync(fd, last, 0, 1, size - 1);
        unterminated = last[0] !== 0x0a;
      }
    } finally {
      fs.closeSync(fd);
    }
    if (unterminated) fs.appendFileSync(file, '\n');
  }

  private firstQueued(): Item | undefined {
    const a = this.allows[0];
    const p = this.protectedItems[0];
    if (p === undefined) return a;
    return a !== undefined && a.seq < p.seq ? a : p;
  }
}
