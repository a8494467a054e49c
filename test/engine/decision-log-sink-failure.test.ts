// The decision log when its sink fails: the failure is reported (never swallowed); the log's own file is
// reopened with backoff and what was buffered meanwhile is written once it works, in order and once;
// memory stays bounded (past a hard cap even denies are dropped, counted apart and reported once);
// flush() and close() never hang on a failed sink, and close() says how many lines it could not write.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Metrics } from '../../src/api/metrics';
import { DecisionLog, type DecisionLogEntry, type DecisionLogErrorInfo, type DecisionLogRecoverInfo } from '../../src/engine/decision-log';
import { entry, manualRetry } from './log-entries';

// An fs for fs.createWriteStream whose disk takes `room` more bytes, then fails writes with ENOSPC
// (a write that does not fit is cut, as a full disk cuts it). Set `room` again to free space.
function diskWithRoom(initial: number) {
  const disk = {
    room: initial,
    fs: {
      open: fs.open,
      close: fs.close,
      write(fd: number, buf: Buffer, off: number, len: number, pos: number | null, cb: (err: Error | null, n?: number) => void) {
        if (disk.room <= 0) return process.nextTick(cb, Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        const n = Math.min(len, disk.room);
        disk.room -= n;
        fs.write(fd, buf, off, n, pos, cb);
      },
    },
  };
  return disk;
}

// A log writing `file` through `disk`, its errors to `r`, its reopen retries fired by hand.
function logOnDisk(file: string, disk: ReturnType<typeof diskWithRoom>, r: ReturnType<typeof recorder>, retry: ReturnType<typeof manualRetry>): DecisionLog {
  return new DecisionLog({
    sink: file,
    flushIntervalMs: 0,
    onError: r.onError,
    onRecover: r.onRecover,
    setRetryTimer: retry.set,
    openFile: (f) => fs.createWriteStream(f, { flags: 'a', fs: disk.fs } as Parameters<typeof fs.createWriteStream>[1]),
  });
}


async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with 'timeout' if `p` takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}


function recorder() {
  const errors: Array<{ err: NodeJS.ErrnoException; info: DecisionLogErrorInfo }> = [];
  const recovered: DecisionLogRecoverInfo[] = [];
  return {
    errors,
    recovered,
    onError: (err: Error, info: DecisionLogErrorInfo) => errors.push({ err, info }),
    onRecover: (info: DecisionLogRecoverInfo) => recovered.push(info),
  };
}

const ids = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as DecisionLogEntry).decision_id);

/** A sink whose every write fails (a broken pipe, a dead disk). */
class FailingSink extends Writable {
  writes = 0;
  _write(_chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    this.writes++;
    cb(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
  }
}

/** A sink that never confirms a write (a hung NFS mount). */
class StalledSink extends Writable {
  constructor() {
    super({ highWaterMark: 1 });
  }
  _write(_chunk: Buffer, _enc: BufferEncoding, _cb: () => void): void {
    // never calls back
  }
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-dlog-fail-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

// /dev/full fails every write with ENOSPC: a log file symlinked to it is a disk that is full.
const withDevFull = fs.existsSync('/dev/full') ? test : test.skip;

withDevFull('a full disk is reported, retried with backoff, and the buffered lines are written in order once there is space', async () => {
  const file = path.join(dir, 'decisions.log');
  fs.symlinkSync('/dev/full', file);
  const r = recorder();
  const retry = manualRetry();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, onError: r.onError, onRecover: r.onRecover, setRetryTimer: retry.set });
  const want: string[] = [];
  const rec = (allow: boolean) => {
    const e = entry(allow);
    want.push(e.decision_id);
    expect(log.record(e)).toBe(true);
  };
  for (let i = 0; i < 5; i++) rec(i % 2 === 0);
  await waitFor(() => r.errors.length === 1);
  expect(r.errors[0].err.code).toBe('ENOSPC');
  expect(r.errors[0].info).toMatchObject({ kind: 'sink', buffered: 5, retryInMs: 1000 });
  // While the disk is full flush() does not wait, and entries keep being buffered.
  expect(await within(log.flush(), 2000)).toBeUndefined();
  rec(false);
  rec(true);
  // Still full: the attempt fails again and the next wait doubles.
  retry.fire();
  await waitFor(() => r.errors.length === 2);
  expect(r.errors[1].info).toMatchObject({ kind: 'sink', buffered: 7, retryInMs: 2000 });
  expect(retry.delays).toEqual([1000, 2000]);
  expect(r.recovered).toHaveLength(0);

  // Space is freed (the file is a regular file again): the next attempt writes everything, in order.
  fs.unlinkSync(file);
  retry.fire();
  rec(false);
  await log.flush();
  expect(ids(file)).toEqual(want);
  expect(r.recovered).toHaveLength(1);
  expect(r.recovered[0].failures).toBe(2);
  expect(log.sinkFailures).toBe(2);
  // Backoff starts over after a success; later lines keep arriving.
  rec(true);
  expect(await log.close()).toEqual({ unwritten: 0 });
  expect(ids(file)).toEqual(want);
  expect(r.errors).toHaveLength(2);
});

test('a log directory replaced by a file is retried until the directory is back, then later lines arrive', async () => {
  const sub = path.join(dir, 'logs');
  const file = path.join(sub, 'decisions.log');
  const r = recorder();
  const retry = manualRetry();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, onError: r.onError, onRecover: r.onRecover, setRetryTimer: retry.set });
  // Before the file is opened, the directory goes away and a file takes its place.
  fs.rmSync(sub, { recursive: true });
  fs.writeFileSync(sub, 'not a directory');
  const want: string[] = [];
  for (let i = 0; i < 3; i++) {
    const e = entry(i === 1);
    want.push(e.decision_id);
    log.record(e);
  }
  await waitFor(() => r.errors.length === 1);
  expect(r.errors[0].info).toMatchObject({ kind: 'sink', buffered: 3, retryInMs: 1000 });
  // The attempt cannot recreate the directory: reported, retried later.
  retry.fire();
  expect(r.errors).toHaveLength(2);
  expect(r.errors[1].info.retryInMs).toBe(2000);
  expect(retry.pending).toBe(1);

  // The operator puts the directory back.
  fs.rmSync(sub);
  fs.mkdirSync(sub);
  retry.fire();
  for (let i = 0; i < 2; i++) {
    const e = entry(false);
    want.push(e.decision_id);
    log.record(e);
  }
  await log.flush();
  expect(ids(file)).toEqual(want);
  expect(r.recovered).toHaveLength(1);
  expect(await log.close()).toEqual({ unwritten: 0 });
});

test('a write that fills the disk part-way through a line: the line is completed on reopen, nothing is written twice', async () => {
  const file = path.join(dir, 'decisions.log');
  const disk = diskWithRoom(150); // bytes the disk takes before it is full: the first line is cut
  const r = recorder();
  const retry = manualRetry();
  const log = logOnDisk(file, disk, r, retry);
  const want: string[] = [];
  for (let i = 0; i < 5; i++) {
    const e = entry(i % 2 === 1);
    want.push(e.decision_id);
    log.record(e);
  }
  await waitFor(() => r.errors.length === 1);
  expect(fs.statSync(file).size).toBe(150);
  disk.room = Infinity;
  retry.fire();
  await log.flush();
  expect(ids(file)).toEqual(want); // every line whole and once
  expect(await log.close()).toEqual({ unwritten: 0 });
});

test('a file rotated away during the outage: the cut line is written whole to the new file', async () => {
  const file = path.join(dir, 'decisions.log');
  const disk = diskWithRoom(100);
  const r = recorder();
  const retry = manualRetry();
  const log = logOnDisk(file, disk, r, retry);
  const want: string[] = [];
  for (let i = 0; i < 3; i++) {
    const e = entry(false);
    want.push(e.decision_id);
    log.record(e);
  }
  await waitFor(() => r.errors.length === 1);
  fs.renameSync(file, `${file}.1`);
  disk.room = Infinity;
  retry.fire();
  await log.flush();
  expect(ids(file)).toEqual(want);
  expect(fs.statSync(`${file}.1`).size).toBe(100); // the cut line stays where it was, unterminated
  await log.close();
});

test('a failing Writable is reported and not written again; denies are kept only up to the hard cap, counted and reported once', async () => {
  const sink = new FailingSink();
  const metrics = new Metrics();
  const r = recorder();
  const log = new DecisionLog({ sink, capacity: 10, hardCapacity: 50, flushIntervalMs: 0, metrics, onError: r.onError });
  log.record(entry(false, { decision_id: 'first' }));
  await waitFor(() => r.errors.length === 1);
  expect(r.errors[0].err.message).toMatch(/EIO/);
  // Not retried: a Writable the log did not open is not its to reopen.
  expect(r.errors[0].info).toMatchObject({ kind: 'sink', buffered: 1 });
  expect(r.errors[0].info.retryInMs).toBeUndefined();

  let recorded = 1;
  for (let i = 0; i < 30; i++, recorded++) log.record(entry(true));
  for (let i = 0; i < 500; i++, recorded++) log.record(entry(false));
  expect(log.record(entry(true, { break_glass: true }))).toBe(false);
  recorded++;
  expect(log.buffered).toBe(50);
  expect(log.droppedProtected).toBeGreaterThan(0);
  expect(log.buffered + log.dropped + log.droppedProtected).toBe(recorded);
  expect(sink.writes).toBe(1);
  // One report for the episode, not one per dropped entry.
  const overflow = r.errors.filter((e) => e.info.kind === 'overflow');
  expect(overflow).toHaveLength(1);
  expect(overflow[0].info.buffered).toBe(50);
  const text = await metrics.registry.getSingleMetricAsString('tether_decision_log_dropped_total');
  expect(text).toContain(`tether_decision_log_dropped_total{allow="false"} ${log.droppedProtected}`);
  expect(text).toContain(`tether_decision_log_dropped_total{allow="true"} ${log.dropped}`);

  expect(await within(log.flush(), 2000)).toBeUndefined();
  const closed = await within(log.close(), 2000);
  expect(closed).toEqual({ unwritten: 50 });
  expect(r.errors.at(-1)?.info).toMatchObject({ kind: 'close', unwritten: 50 });
});

withDevFull('close() on a full disk resolves at once and reports the lines it could not write', async () => {
  const file = path.join(dir, 'decisions.log');
  fs.symlinkSync('/dev/full', file);
  const r = recorder();
  const retry = manualRetry();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, onError: r.onError, setRetryTimer: retry.set });
  for (let i = 0; i < 1500; i++) log.record(entry(i % 2 === 0));
  await waitFor(() => r.errors.length === 1);
  // close() tries the file once more, fails the same way, and gives up without waiting for its timeout.
  const t0 = Date.now();
  expect(await within(log.close(), 3000)).toEqual({ unwritten: 1500 });
  expect(Date.now() - t0).toBeLessThan(3000);
  expect(r.errors.map((e) => e.info.kind)).toEqual(['sink', 'sink', 'close']);
  expect(r.errors[2].info.unwritten).toBe(1500);
  expect(retry.pending).toBe(0); // no reopen left scheduled after close
  expect(log.record(entry(false))).toBe(false);
});

test('close() on a sink that never confirms gives up after closeTimeoutMs and reports what is left', async () => {
  const r = recorder();
  const log = new DecisionLog({ sink: new StalledSink(), flushIntervalMs: 0, closeTimeoutMs: 50, onError: r.onError });
  for (let i = 0; i < 10; i++) log.record(entry(false));
  expect(await within(log.close(), 3000)).toEqual({ unwritten: 10 });
  expect(r.errors.map((e) => e.info.kind)).toEqual(['close']);
});

test('a sink destroyed under the log does not make flush() or close() hang', async () => {
  const sink = new StalledSink();
  const r = recorder();
  const log = new DecisionLog({ sink, flushIntervalMs: 0, onError: r.onError });
  for (let i = 0; i < 5; i++) log.record(entry(false));
  await new Promise((res) => setImmediate(res));
  sink.destroy();
  expect(await within(log.flush(), 2000)).toBeUndefined();
  expect(await within(log.close(), 2000)).toEqual({ unwritten: 5 });
  expect(r.errors[0].info.kind).toBe('sink');
});
