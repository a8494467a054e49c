// The decision log when its file is rotated: reopen() (what SIGHUP calls) and a periodic check (the path
// moved, replaced or removed) reopen the file at its configured path. Lines already handed to the old
// file land there, the rest in the new file: none lost, none twice, none out of order, and record() is
// never held up. copytruncate keeps working (the file is appended to). Only the log's own file is reopened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { DecisionLog, type DecisionLogEntry, type DecisionLogErrorInfo, type DecisionLogReopenInfo } from '../../src/engine/decision-log';
import { entry, manualRetry } from './log-entries';

/**
 * An fs for fs.createWriteStream whose writes can be held (a slow disk): while `hold` is set, writes
 * wait until release() lets them through or failHeld() fails them.
 */
function slowDisk() {
  const held: Array<{ go: () => void; cb: (err: Error | null, n?: number) => void }> = [];
  const disk = {
    hold: false,
    held,
    fs: {
      open: fs.open,
      close: fs.close,
      write(fd: number, buf: Buffer, off: number, len: number, pos: number | null, cb: (err: Error | null, n?: number) => void) {
        const go = () => fs.write(fd, buf, off, len, pos, cb);
        if (disk.hold) held.push({ go, cb });
        else go();
      },
    },
    release(): void {
      disk.hold = false;
      for (const h of held.splice(0)) h.go();
    },
    failHeld(): void {
      disk.hold = false;
      for (const h of held.splice(0)) process.nextTick(h.cb, Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    },
  };
  return disk;
}

const openOn = (disk: ReturnType<typeof slowDisk>) => (f: string) => fs.createWriteStream(f, { flags: 'a', fs: disk.fs } as Parameters<typeof fs.createWriteStream>[1]);

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}


function recorder() {
  const errors: Array<{ err: NodeJS.ErrnoException; info: DecisionLogErrorInfo }> = [];
  const reopened: DecisionLogReopenInfo[] = [];
  let recovered = 0;
  return {
    errors,
    reopened,
    get recovered() {
      return recovered;
    },
    onError: (err: Error, info: DecisionLogErrorInfo) => errors.push({ err, info }),
    onRecover: () => recovered++,
    onReopen: (info: DecisionLogReopenInfo) => reopened.push(info),
  };
}

const ids = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as DecisionLogEntry).decision_id);

/** Records entries into `log`, remembering their ids in `want` (record() must accept each). */
function recorderOf(log: () => DecisionLog, want: string[]) {
  return (n: number, allow = false) => {
    for (let i = 0; i < n; i++) {
      const e = entry(allow || i % 2 === 1);
      want.push(e.decision_id);
      expect(log().record(e)).toBe(true);
    }
  };
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-dlog-rot-'));
  file = path.join(dir, 'decisions.log');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('reopen() after a rename: lines in flight land in the renamed file, later ones in a new file at the path, none lost or reordered', async () => {
  const disk = slowDisk();
  const r = recorder();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 0, openFile: openOn(disk), onReopen: r.onReopen, onError: r.onError });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(3);
  await log.flush();
  // A write is on its way to the file when logrotate renames it and sends SIGHUP.
  disk.hold = true;
  rec(2);
  await waitFor(() => disk.held.length === 1);
  fs.renameSync(file, `${file}.1`);
  expect(log.reopen()).toBe(true);
  // Decisions keep being recorded while the old file has not confirmed what it was given.
  rec(3);
  await new Promise((res) => setImmediate(res));
  expect(r.reopened).toEqual([]);
  expect(fs.existsSync(file)).toBe(false);
  disk.release();
  await log.flush();
  expect(ids(`${file}.1`)).toEqual(want.slice(0, 5));
  expect(ids(file)).toEqual(want.slice(5));
  expect(r.reopened).toEqual([{ reason: 'signal', buffered: 3 }]);
  rec(2);
  expect(await log.close()).toEqual({ unwritten: 0 });
  expect(ids(file)).toEqual(want.slice(5));
  expect(r.errors).toEqual([]);
});

test('a write to the old file that fails while a reopen waits for it is not lost: its lines go first into the new file', async () => {
  const disk = slowDisk();
  const r = recorder();
  const retry = manualRetry();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 0, openFile: openOn(disk), setRetryTimer: retry.set, onReopen: r.onReopen, onError: r.onError, onRecover: r.onRecover });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(2);
  await log.flush();
  disk.hold = true;
  rec(3);
  await waitFor(() => disk.held.length === 1);
  fs.renameSync(file, `${file}.1`);
  log.reopen();
  rec(2);
  disk.failHeld();
  await waitFor(() => r.errors.length === 1);
  expect(r.errors[0].info).toMatchObject({ kind: 'sink', buffered: 5, retryInMs: 1000 });
  retry.fire();
  await log.flush();
  expect(ids(`${file}.1`)).toEqual(want.slice(0, 2));
  expect(ids(file)).toEqual(want.slice(2));
  expect(r.recovered).toBe(1);
  expect(await log.close()).toEqual({ unwritten: 0 });
});

test('close() while a reopen waits for the old file still writes everything', async () => {
  const disk = slowDisk();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 0, openFile: openOn(disk) });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  disk.hold = true;
  rec(2);
  await waitFor(() => disk.held.length === 1);
  fs.renameSync(file, `${file}.1`);
  log.reopen();
  rec(2);
  const closing = log.close();
  disk.release();
  expect(await closing).toEqual({ unwritten: 0 });
  expect([...ids(`${file}.1`), ...ids(file)]).toEqual(want);
  expect(ids(file)).toEqual(want.slice(2));
  expect(log.reopen()).toBe(false); // closed: nothing more to reopen
});

test('without a signal, the periodic check reopens a file renamed away and replaced (logrotate `create`)', async () => {
  const r = recorder();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 10, onReopen: r.onReopen, onError: r.onError });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(3);
  await log.flush();
  fs.renameSync(file, `${file}.1`);
  fs.writeFileSync(file, '', { mode: 0o640 }); // what logrotate's `create` leaves at the path
  await waitFor(() => r.reopened.length === 1);
  expect(r.reopened[0]).toEqual({ reason: 'replaced', buffered: 0 });
  rec(2);
  await log.flush();
  expect(ids(`${file}.1`)).toEqual(want.slice(0, 3));
  expect(ids(file)).toEqual(want.slice(3));
  expect(await log.close()).toEqual({ unwritten: 0 });
  expect(r.errors).toEqual([]);
});

test('without a signal, the periodic check recreates a log file that was removed', async () => {
  const r = recorder();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 10, onReopen: r.onReopen });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(2);
  await log.flush();
  fs.unlinkSync(file);
  await waitFor(() => r.reopened.length === 1);
  expect(r.reopened[0].reason).toBe('missing');
  rec(2);
  await log.flush();
  expect(ids(file)).toEqual(want.slice(2));
  await log.close();
});

test('a path missing at one check only (logrotate between its rename and its create) is left for logrotate to create, then reopened', async () => {
  const r = recorder();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 3_600_000, onReopen: r.onReopen });
  // The checks are driven by hand here (the timer is an hour away): the private check, then its stat.
  const sink = (log as unknown as { sink: { checkRotation(): void; statPending: boolean } }).sink;
  const check = async () => {
    sink.checkRotation();
    await waitFor(() => !sink.statPending);
  };
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(2);
  await log.flush();
  fs.renameSync(file, `${file}.1`);
  await check();
  expect(fs.existsSync(file)).toBe(false); // not created by Tether: logrotate's O_EXCL create would fail
  expect(r.reopened).toEqual([]);
  fs.writeFileSync(file, '');
  await check();
  expect(r.reopened).toEqual([{ reason: 'replaced', buffered: 0 }]);
  rec(2);
  await log.flush();
  expect(ids(`${file}.1`)).toEqual(want.slice(0, 2));
  expect(ids(file)).toEqual(want.slice(2));
  await log.close();
});

test('copytruncate: after the file is truncated in place, lines start again at its beginning (appended, no hole)', async () => {
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 0 });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(3);
  await log.flush();
  fs.copyFileSync(file, `${file}.1`);
  fs.truncateSync(file, 0);
  rec(2);
  await log.flush();
  const text = fs.readFileSync(file);
  expect(text.indexOf(0)).toBe(-1); // a write at the old offset would leave a run of zero bytes
  expect(ids(file)).toEqual(want.slice(3));
  expect(ids(`${file}.1`)).toEqual(want.slice(0, 3));
  await log.close();
});

test('reopen() does nothing for a Writable passed in or stdout: only a file the log opened is reopened', async () => {
  const sink = new PassThrough();
  const out: string[] = [];
  sink.on('data', (c) => out.push(String(c)));
  const r = recorder();
  const log = new DecisionLog({ sink, flushIntervalMs: 0, onReopen: r.onReopen });
  expect(log.reopen()).toBe(false);
  log.record(entry(false, { decision_id: 'after' }));
  await log.flush();
  expect(out.join('')).toContain('"decision_id":"after"');
  expect(sink.writableEnded).toBe(false);
  expect(r.reopened).toEqual([]);
  await log.close();
  const stdoutLog = new DecisionLog({ sink: '-' });
  expect(stdoutLog.reopen()).toBe(false);
  await stdoutLog.close();
  expect(process.stdout.writableEnded).toBe(false);
});

// /dev/full fails every write with ENOSPC: a log file symlinked to it is a disk that is full.
const withDevFull = fs.existsSync('/dev/full') ? test : test.skip;

withDevFull('reopen() on a file that failed tries at once instead of waiting for the backoff', async () => {
  fs.symlinkSync('/dev/full', file);
  const r = recorder();
  const retry = manualRetry();
  const log = new DecisionLog({ sink: file, flushIntervalMs: 0, rotationCheckMs: 0, setRetryTimer: retry.set, onError: r.onError, onRecover: r.onRecover, onReopen: r.onReopen });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(2);
  await waitFor(() => r.errors.length === 1);
  expect(retry.pending).toBe(1);
  fs.unlinkSync(file); // the operator rotated the broken file away
  expect(log.reopen()).toBe(true);
  expect(retry.pending).toBe(0);
  await log.flush();
  expect(ids(file)).toEqual(want);
  expect(r.reopened).toEqual([{ reason: 'signal', buffered: 2 }]);
  expect(r.recovered).toBe(1);
  await log.close();
});

test('a reopen whose new file cannot be created keeps the lines, is reported, retried with backoff, and reports the recovery', async () => {
  const sub = path.join(dir, 'logs');
  const subFile = path.join(sub, 'decisions.log');
  const r = recorder();
  const retry = manualRetry();
  const log = new DecisionLog({ sink: subFile, flushIntervalMs: 0, rotationCheckMs: 0, setRetryTimer: retry.set, onError: r.onError, onRecover: r.onRecover, onReopen: r.onReopen });
  const want: string[] = [];
  const rec = recorderOf(() => log, want);
  rec(2);
  await log.flush();
  // The whole directory is rotated away and a file takes its place: the path cannot be opened.
  fs.renameSync(sub, `${sub}.1`);
  fs.writeFileSync(sub, 'not a directory');
  expect(log.reopen()).toBe(true);
  expect(r.errors).toHaveLength(1);
  expect(r.errors[0].info).toMatchObject({ kind: 'sink', retryInMs: 1000 });
  rec(3);
  expect(log.buffered).toBe(3);
  fs.rmSync(sub);
  fs.mkdirSync(sub);
  retry.fire();
  await log.flush();
  expect(ids(path.join(`${sub}.1`, 'decisions.log'))).toEqual(want.slice(0, 2));
  expect(ids(subFile)).toEqual(want.slice(2));
  expect(r.recovered).toBe(1);
  expect(await log.close()).toEqual({ unwritten: 0 });
});

test('the rotation check timer does not keep the process alive', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
  const before = timers();
  const log = new DecisionLog({ sink: file, rotationCheckMs: 1000 });
  try {
    expect(timers()).toBe(before);
  } finally {
    await log.close();
  }
});
