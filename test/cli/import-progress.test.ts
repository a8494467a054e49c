// `tether import` progress: the percentage is what the server (or --direct) has acknowledged, mapped
// from committed_through_line to bytes by LineOffsets, and rejected lines are named as acknowledged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineOffsets, Progress } from '../../src/cli/import-progress';
import { runImport } from '../../src/cli/import';
import { serve } from '../../src/server';

jest.setTimeout(60_000);

const TOKEN = 'test-api-token-0123456789';
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tether-import-progress-'));

/** Feeds `chunks` to a fresh tracker, ends it, and returns the acknowledged offset of each line 1..n. */
function offsetsOf(chunks: Buffer[]): { total: number; ends: number[] } {
  const t = new LineOffsets();
  for (const c of chunks) t.push(c);
  t.end();
  const ends: number[] = [];
  for (let l = 1; l <= t.lineTotal; l++) ends.push(t.ack(l));
  return { total: t.lineTotal, ends };
}

describe('LineOffsets numbers lines as the import route does', () => {
  test('LF, CRLF, blank lines and a last line without newline', () => {
    // lines: "a\r\n" | "\n" | "  \r\n" | "bb\n" | "c"
    expect(offsetsOf([Buffer.from('a\r\n\n  \r\nbb\nc')])).toEqual({ total: 5, ends: [3, 4, 8, 11, 12] });
    expect(offsetsOf([Buffer.from('a\nb\n')])).toEqual({ total: 2, ends: [2, 4] });
    expect(offsetsOf([Buffer.from('')])).toEqual({ total: 0, ends: [] });
  });

  test('a blank unterminated tail (also Unicode spaces) is no line, but its bytes are done with the line before', () => {
    expect(offsetsOf([Buffer.from('a\n \r\t')])).toEqual({ total: 1, ends: [5] });
    expect(offsetsOf([Buffer.from('a\n\u3000\u00a0')])).toEqual({ total: 1, ends: [7] });
    expect(offsetsOf([Buffer.from('a\n\u3000x')])).toEqual({ total: 2, ends: [2, 6] });
  });

  test('chunk boundaries inside a line, inside CRLF and inside a UTF-8 character change nothing', () => {
    for (const text of ['{"a":1}\r\n\r\n{"b":"é"}\n  \n{"c":"ü"}', 'x\r\n\u3000é', 'x\n\u3000\u00a0', 'ab\r\n\r\n']) {
      const bytes = Buffer.from(text);
      const whole = offsetsOf([bytes]);
      for (let i = 0; i <= bytes.length; i++) {
        for (let j = i; j <= bytes.length; j++) {
          expect(offsetsOf([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)])).toEqual(whole);
        }
      }
      expect(offsetsOf([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
    }
  });

  test('memory stays bounded: at most maxPending checkpoints, and an acknowledgement then lags, never leads', () => {
    const t = new LineOffsets(100);
    for (let i = 0; i < 10_000; i++) t.push(Buffer.from('x\n'));
    expect(t.pending).toBe(100);
    const mid = t.ack(5000);
    expect(mid).toBeLessThanOrEqual(10_000); // line 5000 ends at byte 10000
    expect(mid).toBeGreaterThan(0);
    expect(t.ack(10_000)).toBe(20_000);
    expect(t.pending).toBe(0);
    // Acknowledged as it goes (the normal case), every offset is exact and nothing piles up.
    for (let i = 1; i <= 3000; i++) {
      t.push(Buffer.from('yy\n'));
      if (i % 7 === 0) expect(t.ack(10_000 + i)).toBe(20_000 + 3 * i);
    }
    expect(t.pending).toBeLessThan(7);
  });
});

describe('Progress', () => {
  const sink = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, stream: { isTTY, write: (s: string) => writes.push(s) } };
  };
  const bad = (line: number) => ({ line, code: 'invalid_json', message: 'line is not JSON: Unexpected token' });

  test('on a terminal a rejected line clears the bar, is printed, and the bar is redrawn; --quiet prints nothing', () => {
    const { writes, stream } = sink(true);
    const p = new Progress({ quiet: false, total: 100, stream, now: () => 0 });
    p.update({ imported: 1, rejected: 0, line: 1, acked: 40 });
    expect(writes).toEqual([expect.stringMatching(/^\r\x1b\[2K\[#{12}\.{18}\]  40% line 1: 1 imported, 0 rejected/)]);
    p.update({ imported: 1, rejected: 1, line: 2, acked: 60, errors: [bad(2)] });
    expect(writes[1]).toBe(`\r\x1b[2Ktether import: rejected line 2: invalid_json: line is not JSON: Unexpected token\n${writes[0].slice(5)}`);
    expect(writes).toHaveLength(2); // the redraw waits for the interval

    const quiet = sink(true);
    const q = new Progress({ quiet: true, total: 100, stream: quiet.stream });
    q.update({ imported: 1, rejected: 1, line: 2, acked: 60, errors: [bad(2)] });
    q.finish({ imported: 1, rejected: 1, errors: [bad(2)], done: true });
    expect(quiet.writes).toEqual([]);
  });

  test('not a terminal: one line per redraw, rate-limited; the first 5 rejected lines named, then a count', () => {
    const { writes, stream } = sink(false);
    let now = 0;
    const p = new Progress({ quiet: false, total: 1000, stream, now: () => now });
    p.update({ imported: 1, rejected: 0, line: 1, acked: 100 });
    now = 50;
    p.update({ imported: 1, rejected: 6, line: 7, acked: 995, errors: [2, 3, 4, 5, 6, 7].map(bad) });
    now = 300;
    p.update({ imported: 3, rejected: 6, line: 9, acked: 999 });
    p.finish({ imported: 4, rejected: 7, errors: [2, 3, 4, 5, 6, 7, 10].map(bad), done: true });
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes.map((w) => w.replace(/ [\d,]+ rec\/s\n$/, ''))).toEqual([
      '[###...........................]  10% line 1: 1 imported, 0 rejected,',
      ...[2, 3, 4, 5, 6].map((l) => `tether import: rejected line ${l}: invalid_json: line is not JSON: Unexpected token\n`),
      '[#############################.]  99% line 9: 3 imported, 6 rejected,', // 999 of 1000 bytes: not 100%
      'tether import: … and 2 more rejected (see the summary)\n',
      '[##############################] 100% line 11: 4 imported, 7 rejected,',
    ]);
  });
});

// 25 lines: CRLF and LF endings, blank lines, six bad ones, and no newline after the last.
const good = (i: number) => `{"kind":"identity","record":{"id":"u${i}","status":"active"}}`;
const LINES: string[] = [];
for (let i = 1; i <= 25; i++) LINES.push(good(i));
Object.assign(LINES, { 1: 'not json', 3: '', 5: '{"kind":"identity","record":{"id":"u6","status":"nope"}}', 7: '{', 9: '   ', 11: '{"kind":"nope","record":{"id":"x"}}', 13: 'nope', 15: '{"kind":"identity","record":{"id":""}}' });
const TEXT = LINES.map((l, i) => (i === 24 ? l : l + (i % 3 === 0 ? '\r\n' : '\n'))).join('');
const BAD = [2, 6, 8, 12, 14, 16];

/** Byte offset just past line `line` of TEXT (the last line ends at the end of the file). */
function endOf(line: number): number {
  return Buffer.byteLength(LINES.slice(0, line).map((l, i) => (i === 24 ? l : l + (i % 3 === 0 ? '\r\n' : '\n'))).join(''));
}

/** Runs the import with process.stderr forced to be no terminal; what it wrote there, and the summary. */
async function importCapturingStderr(argv: string[]): Promise<{ code: number; err: string; summary: any }> {
  const file = path.join(tempDir(), 'state.ndjson');
  fs.writeFileSync(file, TEXT);
  let err = '';
  let out = '';
  const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += chunk.toString();
    return true;
  });
  try {
    const code = await runImport([file, ...argv], { out: (s) => (out += s), err: (s) => (err += s + '\n') }, { intervalMs: 0 });
    return { code, err, summary: JSON.parse(out) };
  } finally {
    spy.mockRestore();
    if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  }
}

/** The progress lines must follow the acknowledgements; the rejected lines are named as they come. */
function checkOutput(err: string): void {
  const lines = err.split('\n');
  const bars = lines.flatMap((l, at) => {
    const m = /^\[[#.]{30}\] +(\d+)% line (\d+):/.exec(l);
    return m ? [{ at, pct: Number(m[1]), line: Number(m[2]) }] : [];
  });
  expect(bars.length).toBeGreaterThanOrEqual(5); // one per acknowledged batch, then the final one
  const size = Buffer.byteLength(TEXT);
  for (const [i, b] of bars.entries()) {
    expect(b.pct).toBe(Math.floor((100 * endOf(b.line)) / size)); // what is committed, not what was sent
    if (i > 0) expect(b.pct).toBeGreaterThanOrEqual(bars[i - 1].pct);
    if (b.pct === 100) expect(b.line).toBe(25);
  }
  expect(bars.filter((b) => b.pct < 100).length).toBeGreaterThanOrEqual(4);
  expect(bars[bars.length - 1].pct).toBe(100);

  const named = lines.flatMap((l, at) => {
    const m = /^tether import: rejected line (\d+): (\w+): /.exec(l);
    return m ? [{ at, line: Number(m[1]), code: m[2] }] : [];
  });
  expect(named.map((n) => [n.line, n.code])).toEqual([[2, 'invalid_json'], [6, 'invalid_input'], [8, 'invalid_json'], [12, 'invalid_input'], [14, 'invalid_json']]);
  expect(named[0].at).toBeLessThan(bars.find((b) => b.pct === 100)!.at); // as acknowledged, not at the end
  expect(lines).toContain('tether import: … and 1 more rejected (see the summary)');
}

describe('tether import end to end (stderr not a terminal)', () => {
  test('against a real server with 2-line batches: percentages follow the acknowledgements, rejected lines named', async () => {
    const running = await serve({
      env: { PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: tempDir(), TETHER_API_TOKEN: TOKEN, TETHER_IMPORT_BATCH: '2', TETHER_LOG_LEVEL: 'error' },
      services: [],
      handleSignals: false,
    });
    try {
      const { code, err, summary } = await importCapturingStderr(['--url', running.url, '--token', TOKEN]);
      expect(code).toBe(2);
      expect(summary).toMatchObject({ imported: 17, rejected: 6, done: true });
      expect(summary.errors.map((e: { line: number }) => e.line)).toEqual(BAD);
      checkOutput(err);
    } finally {
      await running.shutdown();
    }
  });

  test('--direct with --batch 2: the same line numbers, percentages at its commit points', async () => {
    const { code, err, summary } = await importCapturingStderr(['--direct', '--data-dir', tempDir(), '--batch', '2']);
    expect(code).toBe(2);
    expect(summary).toMatchObject({ imported: 17, rejected: 6, done: true });
    expect(summary.errors.map((e: { line: number }) => e.line)).toEqual(BAD);
    checkOutput(err);
  });
});
