// Progress of `tether import` on stderr. It shows what is ACKNOWLEDGED (committed), not what was sent:
// the bytes of the file through the last committed line, so 100% means stored and a kill loses at most
// what the bar had not reached. Rejected lines are named as their batch is acknowledged (the first few).
import { StringDecoder } from 'node:string_decoder';
import type { ImportLineError } from '../state/store';
import { engineErrorText } from './args';

/**
 * Maps a line number to the byte offset just past that line, numbering lines as the import route does
 * (importNdjson in src/api/routes/state.ts) and --direct now does too: every "\n" ends a line, blank ones
 * included (a "\r" before it is part of the line); a last line without "\n" counts only if not blank.
 *
 * Only checkpoints not yet acknowledged are kept, at most `maxPending` (the lines in flight): past that
 * the newest checkpoint is moved forward instead of appending one, so an acknowledgement may map to an
 * earlier line end. The percentage then lags, never leads, and memory stays bounded for any file size.
 */
export class LineOffsets {
  private lineCount = 0;
  private byteCount = 0;
  private readonly lines: number[] = [];
  private readonly ends: number[] = [];
  private head = 0;
  private acked = 0;
  private recordedEnd = 0;
  // The unterminated last line is decoded only to tell blank from not (as the server's trim() does).
  private readonly tail = new StringDecoder('utf8');
  private tailNonBlank = false;

  constructor(private readonly maxPending = 100_000) {}

  /** Lines seen so far (complete ones, plus the last one after end()). */
  get lineTotal(): number {
    return this.lineCount;
  }

  /** Checkpoints held (lines read but not acknowledged). */
  get pending(): number {
    return this.lines.length - this.head;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.record(++this.lineCount, this.byteCount + nl + 1);
      start = nl + 1;
    }
    if (start > 0) {
      this.tail.end(); // a new line starts: forget the previous one's undecoded bytes
      this.tailNonBlank = false;
    }
    if (!this.tailNonBlank && start < chunk.length) this.tailNonBlank = /\S/.test(this.tail.write(chunk.subarray(start)));
    this.byteCount += chunk.length;
  }

  /** The input ended: the unterminated last line, if any. */
  end(): void {
    if (/\S/.test(this.tail.end()) || this.tailNonBlank) this.lineCount++;
    this.tailNonBlank = false;
    // A blank unterminated tail is no line for the server: it is done once the line before it is.
    if (this.byteCount > this.recordedEnd) this.record(this.lineCount, this.byteCount);
  }

  /** Bytes of the input through line `line` (acknowledged: every line up to it); forgets checkpoints up to it. */
  ack(line: number): number {
    while (this.head < this.lines.length && this.lines[this.head] <= line) this.acked = this.ends[this.head++];
    if (this.head === this.lines.length) {
      this.lines.length = this.ends.length = this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines.splice(0, this.head);
      this.ends.splice(0, this.head);
      this.head = 0;
    }
    return this.acked;
  }

  private record(line: number, end: number): void {
    if (this.pending >= this.maxPending) {
      this.lines[this.lines.length - 1] = line;
      this.ends[this.ends.length - 1] = end;
    } else {
      this.lines.push(line);
      this.ends.push(end);
    }
    this.recordedEnd = end;
  }
}

/** Where progress goes (process.stderr by default); `isTTY` chooses the redrawn bar over one line per update. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  quiet: boolean;
  /** The file's size in bytes; undefined (stdin): no percentage. */
  total?: number;
  stream?: ProgressStream;
  /** Least time between two redraws. */
  intervalMs?: number;
  now?: () => number;
}

/** One acknowledgement: running totals, the last committed line and its byte offset, the batch's rejections. */
export interface ProgressUpdate {
  imported: number;
  rejected: number;
  line: number;
  acked: number;
  errors?: unknown;
}

/** Rejected lines named on stderr as they are acknowledged; the rest only in the summary. */
export const SHOWN_REJECTIONS = 5;

/** A one-line bar redrawn in place on a terminal; elsewhere one line per update. Nothing when quiet. */
export class Progress {
  private acked = 0;
  private line = 0;
  private lastDraw = -Infinity;
  private text = '';
  private drawn = false;
  private readonly shown = new Set<number>();
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly started: number;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.now = opts.now ?? Date.now;
    this.started = this.now();
  }

  update(u: ProgressUpdate): void {
    if (this.opts.quiet) return;
    this.acked = Math.max(this.acked, u.acked);
    this.line = Math.max(this.line, u.line);
    if (Array.isArray(u.errors)) for (const e of u.errors) this.reject(e);
    const now = this.now();
    if (now - this.lastDraw < (this.opts.intervalMs ?? 200)) return;
    this.lastDraw = now;
    this.draw(u.imported, u.rejected);
  }

  /** A message that must not break the bar (shown even when quiet: it explains the exit code). */
  note(message: string): void {
    if (this.tty && this.drawn) this.stream.write(`\r\x1b[2K${message}\n${this.text}`);
    else this.stream.write(message + '\n');
  }

  clear(): void {
    if (this.drawn && this.tty) this.stream.write('\n');
    this.drawn = false;
  }

  /** The last bar (100% once the import is done) and the rejections not named yet, then a newline. */
  finish(s: { imported: number; rejected: number; errors: ImportLineError[]; done: boolean }): void {
    if (this.opts.quiet) return;
    // line_too_long rejections are not in any batch acknowledgement, only in the summary.
    for (const e of s.errors) this.reject(e);
    const more = s.rejected - this.shown.size;
    if (more > 0 && this.shown.size > 0) this.note(`tether import: … and ${more.toLocaleString('en-US')} more rejected (see the summary)`);
    if (s.done && this.opts.total) this.acked = this.opts.total;
    this.line = Math.max(this.line, s.imported + s.rejected);
    this.draw(s.imported, s.rejected);
    this.clear();
  }

  private reject(e: unknown): void {
    if (this.shown.size >= SHOWN_REJECTIONS || !e || typeof e !== 'object') return;
    const { line, code, message } = e as Partial<ImportLineError>;
    if (typeof line !== 'number' || this.shown.has(line)) return;
    this.shown.add(line);
    const why = engineErrorText({ code: String(code), message: String(message) }).replace(/\s+/g, ' ');
    this.note(`tether import: rejected line ${line}: ${why.length > 200 ? `${why.slice(0, 200)}…` : why}`);
  }

  private draw(imported: number, rejected: number): void {
    const secs = Math.max((this.now() - this.started) / 1000, 0.001);
    const rate = Math.round(imported / secs);
    let bar = '';
    if (this.opts.total) {
      // Floor, not round: 100% only once the last byte is acknowledged.
      const frac = Math.min(1, this.acked / this.opts.total);
      const width = 30;
      const full = Math.floor(frac * width);
      bar = `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}% `;
    }
    const n = (x: number) => x.toLocaleString('en-US');
    this.text = `${bar}line ${n(this.line)}: ${n(imported)} imported, ${n(rejected)} rejected, ${n(rate)} rec/s`;
    if (this.tty) this.stream.write('\r\x1b[2K' + this.text);
    else this.stream.write(this.text + '\n');
    this.drawn = true;
  }
}
