// The decision log: JSON lines with every field, asynchronous, bounded; when full it drops allows
// (counted) and never a deny or a break-glass decision; close() flushes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Metrics } from '../../src/api/metrics';
import { DecisionLog } from '../../src/engine/decision-log';
import { entry } from './log-entries';


/** A sink that accepts nothing until release() (a stalled disk). */
class StalledSink extends Writable {
  readonly chunks: string[] = [];
  private pending: Array<() => void> = [];
  constructor() {
    super({ highWaterMark: 1 });
  }
  _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString());
    this.pending.push(cb);
  }
  release(): void {
    for (const cb of this.pending.splice(0)) cb();
  }
  lines(): Array<Record<string, unknown>> {
    return this.chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('writes one JSON line per decision with the documented fields', async () => {
  const sink = new PassThrough();
  const out: string[] = [];
  sink.on('data', (c) => out.push(String(c)));
  const log = new DecisionLog({ sink });
  log.record(entry(true));
  log.record(entry(false));
  await log.flush();
  const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines).toHaveLength(2);
  for (const key of ['decision_id', 'time', 'action', 'subject', 'device', 'app', 'allow', 'reasons', 'revision', 'duration']) {
    expect(lines[0]).toHaveProperty(key);
  }
  expect(lines[1].allow).toBe(false);
  expect(lines[1].reasons).toEqual(['device_not_compliant']);
});

test('record() returns immediately even when the sink is stalled', () => {
  const sink = new StalledSink();
  const log = new DecisionLog({ sink, capacity: 1000 });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 500; i++) log.record(entry(i % 2 === 0));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  expect(ms).toBeLessThan(200);
  expect(log.buffered).toBe(500);
});

test('when full it drops allows, counts them, and never drops denies or break-glass decisions', async () => {
  const sink = new StalledSink();
  const metrics = new Metrics();
  const log = new DecisionLog({ sink, capacity: 4, metrics });
  // The first write goes to the stalled sink; let it leave the buffer.
  log.record(entry(true, { decision_id: 'first' }));
  await new Promise((r) => setImmediate(r));
  await waitFor(() => sink.chunks.length === 1);
  for (let i = 0; i < 4; i++) expect(log.record(entry(true, { decision_id: `a${i}` }))).toBe(true);
  expect(log.record(entry(true, { decision_id: 'dropped-allow' }))).toBe(false);
  expect(log.dropped).toBe(1);
  // A deny while full evicts a buffered allow.
  expect(log.record(entry(false, { decision_id: 'deny-1' }))).toBe(true);
  expect(log.dropped).toBe(2);
  // A break-glass allow is kept like a deny.
  expect(log.record(entry(true, { decision_id: 'bg-1', break_glass: true }))).toBe(true);
  // Denies beyond the bound with no allow left to evict are still kept.
  for (let i = 0; i < 6; i++) expect(log.record(entry(false, { decision_id: `deny-x${i}` }))).toBe(true);
  expect(log.buffered).toBeGreaterThan(4);
  const dropped = await metrics.registry.getSingleMetricAsString('tether_decision_log_dropped_total');
  expect(dropped).toMatch(/tether_decision_log_dropped_total\{allow="true"\} [1-9]/);

  sink.release();
  const done = log.flush();
  // Release every chunk as it arrives until the buffer is empty.
  const pump = setInterval(() => sink.release(), 2);
  await done;
  clearInterval(pump);
  const ids = sink.lines().map((l) => l.decision_id);
  expect(ids).toContain('deny-1');
  expect(ids).toContain('bg-1');
  for (let i = 0; i < 6; i++) expect(ids).toContain(`deny-x${i}`);
  expect(ids).not.toContain('dropped-allow');
  // Order of what was kept is the order of record().
  expect(ids.indexOf('deny-1')).toBeLessThan(ids.indexOf('bg-1'));
  expect(ids.length + log.dropped).toBe(1 + 4 + 1 + 1 + 1 + 6);
});

test('close() flushes everything to the file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-dlog-'));
  const file = path.join(dir, 'sub', 'decisions.log');
  const log = new DecisionLog({ sink: file });
  for (let i = 0; i < 2500; i++) log.record(entry(i % 3 !== 0));
  await log.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(2500);
  expect(log.record(entry(false))).toBe(false);
  fs.rmSync(dir, { recursive: true, force: true });
});
