// Where the decision log's lines go: a stream the log writes batches to, confirmation by confirmation.
// For a file the log opened itself (a path, not stdout or a Writable passed in):
//
// - failure: a write or open error (e.g. ENOSPC) gives the stream up; the lines it did not get to disk
//   go back to the buffer (the byte count of the failed stream says exactly which) and the file is
//   reopened with backoff (1 s doubling to 30 s by default). A line the failure cut in the middle is
//   completed when the file still ends with its first bytes, otherwise the file's unfinished line is
//   terminated and the line written again whole (never truncating: something may be tailing the file).
// - rotation: reopen() (SIGHUP, src/server.ts) and a periodic check (an unref'd timer, one fs.stat of the
//   path compared with the open file's dev/ino) reopen the file at its path once logrotate or an operator
//   moved or removed it. Nothing is lost or reordered: the current stream gets no new lines, and once it
//   confirmed everything it was given (which lands in the renamed file) it is closed and the path opened
//   again; lines recorded meanwhile wait in the buffer. The file is opened for appending (O_APPEND), so
//   after `copytruncate` writes continue at the file's new end.
//
// A Writable passed in (or stdout) that fails is not written again, and is never reopened.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { types } from 'node:util';
import type { BufferedLine } from './decision-log-buffer';

/** Options of the sink (part of DecisionLogOptions). */
export interface DecisionLogSinkOptions {
  /** First wait before reopening a failed file, ms (default 1,000); doubles per failure. */
  retryMinMs?: number;
  /** Longest wait between reopen attempts, ms (default 30,000). */
  retryMaxMs?: number;
  /** Schedules a reopen attempt; returns its cancel (tests; default an unref'd setTimeout). */
  setRetryTimer?: (fn: () => void, ms: number) => () => void;
  /** Opens the log's own file for appending (tests; default fs.createWriteStream(file, { flags: 'a' })). */
  openFile?: (file: string) => Writable;
  /**
   * How often the log's own file is checked for having been moved, replaced or removed, to reopen it at
   * its path (rotation without a signal), ms (default 5,000; 0 = never). An unref'd timer; one fs.stat each.
   */
  rotationCheckMs?: number;
}

/**
 * Why the file was reopened at its path: `signal` reopen() was called (SIGHUP); `replaced` the path now
 * names another file (renamed away, a new one created); `missing` the path names no file.
 */
export type DecisionLogReopenReason = 'signal' | 'replaced' | 'missing';

/** What the sink tells the log that owns it (DecisionLog). */
export interface DecisionLogSinkEvents {
  /** The oldest line waiting: a reopened file continues it if a failed write cut it. */
  firstPending(): BufferedLine | undefined;
  /** Lines a failed stream did not get to disk, oldest first: they go back in front of the buffer. */
  returned(lines: BufferedLine[]): void;
  /** The sink takes writes again (drained, reopened). */
  writable(): void;
  /** A write was confirmed or the stream given up: whoever waits for the sink looks again. */
  settled(): void;
  /** A write or an open failed; `retryInMs` when the file will be tried again. */
  failed(err: Error, retryInMs: number | undefined): void;
  /** The first write after a failure was confirmed. */
  recovered(failedForMs: number, failures: number): void;
  /** The file was reopened at its path (rotation). */
  reopened(reason: DecisionLogReopenReason): void;
}

/** Lines handed to the stream in one write, and their bytes (0 when the log does not own the stream). */
type Chunk = { lines: BufferedLine[]; bytes: number };

function defaultRetryTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref(); // a broken disk must not keep a finished process alive
  return () => clearTimeout(t);
}

// isNativeError, not instanceof: errors from node internals come from another realm under jest's vm.
const asError = (err: unknown): Error => (err instanceof Error || types.isNativeError(err) ? (err as Error) : new Error(String(err)));

/** The decision log's sink: its stream, its failures and, for its own file, reopening and rotation. */
export class DecisionLogSink {
  /** Failures since start (each failed write or open attempt). */
  failures = 0;
  /** The log's own file; null for stdout or a Writable passed in. */
  readonly file: string | null;
  private readonly events: DecisionLogSinkEvents;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly setRetryTimer: (fn: () => void, ms: number) => () => void;
  private readonly openFile: (file: string) => Writable;
  /** The stream being written; null while a failed file waits to be reopened, after a Writable failed, and after end(). */
  private stream: Writable | null = null;
  /** Bumped whenever the stream is replaced or given up, so events of an old stream are ignored. */
  private gen = 0;
  /** Chunks handed to the stream whose write callback has not come yet, in write order. */
  private unacked: Chunk[] = [];
  /** Bytes of this stream's confirmed chunks (with bytesWritten: how far a failed write got). */
  private confirmedBytes = 0;
  private waitingDrain = false;
  private closed = false;
  private failedAt: number | null = null;
  private failuresInEpisode = 0;
  private retryDelay: number;
  private cancelRetry: (() => void) | null = null;
  /** A reopen at the path waiting for the current stream to confirm what it was given. */
  private rotation: DecisionLogReopenReason | null = null;
  /** The open file's dev/ino (fstat of its fd), for the rotation check; null until known. */
  private identity: { dev: bigint; ino: bigint } | null = null;
  /** Interval of the rotation check (0: none, e.g. not a file). */
  private readonly rotationCheckMs: number;
  private rotationTimer: NodeJS.Timeout | null = null;
  private statPending = false;
  /** The previous rotation check found no file at the path. */
  private missingSeen = false;

  /** `sink`: a file path (appended, directories created), "-" for stdout, or a Writable. */
  constructor(sink: string | Writable, opts: DecisionLogSinkOptions, events: DecisionLogSinkEvents) {
    this.events = events;
    this.retryMinMs = Math.max(1, opts.retryMinMs ?? 1000);
    this.retryMaxMs = Math.max(this.retryMinMs, opts.retryMaxMs ?? 30_000);
    this.retryDelay = this.retryMinMs;
    this.setRetryTimer = opts.setRetryTimer ?? defaultRetryTimer;
    this.openFile = opts.openFile ?? ((file) => fs.createWriteStream(file, { flags: 'a' }));
    if (typeof sink === 'string' && sink !== '-') {
      this.file = sink;
      this.rotationCheckMs = Math.max(0, opts.rotationCheckMs ?? 5000);
      fs.mkdirSync(path.dirname(sink), { recursive: true });
      this.attach(this.openFile(sink));
      if (this.rotationCheckMs > 0) {
        this.rotationTimer = setInterval(() => this.checkRotation(), this.rotationCheckMs);
        this.rotationTimer.unref(); // never what keeps a finished process alive
      }
    } else {
      this.file = null;
      this.rotationCheckMs = 0;
      this.attach(sink === '-' ? process.stdout : (sink as Writable));
    }
  }

  /** There is a stream (no: a failed file waiting to be reopened, a failed Writable, after end()). */
  get attached(): boolean {
    return this.stream !== null;
  }

  /** A write may be handed over now: a stream, not waiting for it to drain or for a rotation. */
  get ready(): boolean {
    return this.stream !== null && !this.waitingDrain && this.rotation === null;
  }

  /** Every write handed to the stream was confirmed. */
  get idle(): boolean {
    return this.unacked.length === 0;
  }

  /** Lines handed to the stream and not confirmed. */
  get inFlight(): number {
    return this.unacked.reduce((n, c) => n + c.lines.length, 0);
  }

  /** There is a stream to write to; one destroyed under the log is given up (a failure) first. */
  usable(): boolean {
    if (this.stream?.destroyed) this.fail(this.gen, new Error('decision log sink destroyed'));
    return this.stream !== null;
  }

  /** Writes `lines` (taken from the buffer, in order) as one chunk; call only when ready. */
  write(lines: BufferedLine[]): void {
    const stream = this.stream!;
    const text = lines.map((l) => l.line).join('');
    const skip = lines[0].skip ?? 0;
    // The rest of a line a failed write cut (the file was checked to end with its first `skip` bytes).
    const data: string | Buffer = skip > 0 ? Buffer.from(text).subarray(skip) : text;
    const chunk: Chunk = { lines, bytes: this.file === null ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length };
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
  }

  /**
   * Reopens the log's own file at its path: at once when nothing is in flight (or the file failed and
   * waits for its next attempt), else once the current stream confirmed what it was given. False when
   * there is no file to reopen (stdout, a Writable) or the log is closing.
   */
  reopen(reason: DecisionLogReopenReason): boolean {
    if (this.file === null || this.closed) return false;
    if (!this.stream) {
      this.cancelRetry?.();
      this.cancelRetry = null;
      this.open(reason);
    } else {
      this.rotation ??= reason;
      if (this.unacked.length === 0) this.rotate();
    }
    return true;
  }

  /** close() begins: no more retries or rotation checks; a failed file gets one more attempt if lines wait. */
  closing(linesWaiting: boolean): void {
    this.closed = true;
    this.cancelRetry?.();
    this.cancelRetry = null;
    if (this.rotationTimer) clearInterval(this.rotationTimer);
    this.rotationTimer = null;
    if (!this.stream && this.file !== null && linesWaiting) this.open(null);
  }

  /** Stops using the stream; the log's own file is ended (or destroyed if `discard`), waiting at most for `deadline`. */
  async end(discard: boolean, deadline: Promise<void>): Promise<void> {
    const stream = this.stream;
    this.detach();
    if (!stream || this.file === null) return;
    if (discard) stream.destroy();
    else await Promise.race([new Promise<void>((resolve) => stream.end(resolve)), deadline]);
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
      this.events.writable();
    });
    if (this.rotationCheckMs > 0 && !this.closed) {
      const fd = (stream as { fd?: unknown }).fd;
      if (typeof fd === 'number') this.readIdentity(gen, fd);
      else stream.once('open', (opened: unknown) => typeof opened === 'number' && this.readIdentity(gen, opened));
    }
  }

  /** Stops using the current stream (its later events are ignored). */
  private detach(): void {
    this.gen++;
    this.stream = null;
    this.waitingDrain = false;
    this.rotation = null;
    this.identity = null;
  }

  private readIdentity(gen: number, fd: number): void {
    fs.fstat(fd, { bigint: true }, (err, st) => {
      if (!err && gen === this.gen) this.identity = { dev: st.dev, ino: st.ino };
    });
  }

  /** The rotation check: the path names no file, or another file than the one open: reopen it. */
  private checkRotation(): void {
    const identity = this.identity;
    if (identity === null || this.rotation !== null || this.statPending || this.closed) return;
    const gen = this.gen;
    this.statPending = true;
    fs.stat(this.file!, { bigint: true }, (err, st) => {
      this.statPending = false;
      if (gen !== this.gen || this.closed) return;
      const code = (err as NodeJS.ErrnoException | null)?.code;
      // Missing at two checks in a row: logrotate's rename → create gap is not mistaken for a deletion
      // (a file created in it would make logrotate's O_EXCL create fail and set ours aside as .backup).
      const missing = code === 'ENOENT' || code === 'ENOTDIR';
      if (missing && this.missingSeen) this.reopen('missing');
      this.missingSeen = missing;
      if (!err && (st.ino !== identity.ino || st.dev !== identity.dev)) this.reopen('replaced');
    });
  }

  /** Everything given to the current stream is confirmed: close it and open the path again. */
  private rotate(): void {
    const reason = this.rotation!;
    const old = this.stream;
    this.detach();
    old?.end();
    this.open(reason);
  }

  private written(gen: number, chunk: Chunk, err: Error | null | undefined): void {
    if (gen !== this.gen) return;
    if (err) return this.fail(gen, err);
    const i = this.unacked.indexOf(chunk);
    if (i >= 0) this.unacked.splice(i, 1);
    this.confirmedBytes += chunk.bytes;
    if (this.failedAt !== null) {
      const failedForMs = Date.now() - this.failedAt;
      const failures = this.failuresInEpisode;
      this.failedAt = null;
      this.failuresInEpisode = 0;
      this.retryDelay = this.retryMinMs;
      this.events.recovered(failedForMs, failures);
    }
    if (this.rotation !== null && this.unacked.length === 0) this.rotate();
    this.events.settled();
  }

  /**
   * The stream failed: stop writing to it, give back what it did not get to disk (in order, ahead of
   * everything queued since), report, and for the log's own file schedule a reopen.
   */
  private fail(gen: number, cause: unknown): void {
    if (gen !== this.gen) return;
    const err = asError(cause);
    const stream = this.stream;
    const owns = this.file !== null;
    this.detach();
    this.failures++;
    this.failuresInEpisode++;
    this.failedAt ??= Date.now();
    // fs.WriteStream counts the bytes that reached the file, including a failed write's partial part.
    const bytesWritten = owns ? (stream as (Writable & { bytesWritten?: number }) | null)?.bytesWritten : undefined;
    let reached = typeof bytesWritten === 'number' ? Math.max(0, bytesWritten - this.confirmedBytes) : 0;
    const back: BufferedLine[] = [];
    for (const chunk of this.unacked) {
      for (const line of chunk.lines) {
        if (reached > 0) {
          const rest = Buffer.byteLength(line.line) - (line.skip ?? 0);
          if (reached >= rest) {
            reached -= rest;
            continue;
          }
          line.skip = (line.skip ?? 0) + reached;
          reached = 0;
        }
        back.push(line);
      }
    }
    this.unacked = [];
    this.confirmedBytes = 0;
    this.events.returned(back);
    if (owns) stream?.destroy();
    const retry = owns && !this.closed;
    this.events.failed(err, retry ? this.retryDelay : undefined);
    if (retry) this.scheduleRetry();
    this.events.settled();
  }

  private scheduleRetry(): void {
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retryMaxMs);
    this.cancelRetry = this.setRetryTimer(() => {
      this.cancelRetry = null;
      if (!this.closed) this.open(null);
    }, delay);
  }

  /**
   * Opens the file at its path (recreating its directory): after a failure (`reason` null) or for a
   * rotation. A failure is reported and, unless closing, retried with backoff.
   */
  private open(reason: DecisionLogReopenReason | null): void {
    const file = this.file!;
    let stream: Writable;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.prepareTail(file);
      stream = this.openFile(file);
    } catch (err) {
      this.failures++;
      this.failuresInEpisode++;
      this.failedAt ??= Date.now();
      const retry = !this.closed;
      this.events.failed(asError(err), retry ? this.retryDelay : undefined);
      if (retry) this.scheduleRetry();
      return;
    }
    this.attach(stream);
    if (reason !== null) this.events.reopened(reason);
    this.events.writable();
  }

  /**
   * Before appending again: if the first line to write was cut by a failure and the file still ends
   * with its first bytes, write only the rest; otherwise write it whole, after terminating whatever
   * unfinished line the file ends with (never truncating: something may be tailing the file).
   */
  private prepareTail(file: string): void {
    const first = this.events.firstPending();
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
}
