// Open-loop load at an even rate over raw keep-alive sockets: request k is due at t0 + k/rate and is
// written on the first 1 ms tick at or after that, on an idle connection, whether or not earlier ones
// answered (autocannon's overallRate instead sends each connection's per-second quota back to back).
// Requests are serialized once up front and responses are parsed just enough (status, Content-Length or
// chunked, body), so the generator spends ~10x less CPU per request than node's http client; on a
// 2-core machine the generator shares the cores with the servers it measures, so its own cost and GC
// pauses would otherwise show up as server latency.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { rawRequest, responseFrame } from '../../src/api/raw-http';
import { cpuTicks, stealPct, stealShare } from './host-steal';

/** One request variant (used round-robin). */
export interface PacedVariant {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** A successful answer: one of `statuses` (default any 2xx) with a body containing every `bodyIncludes`. */
export interface PacedExpect {
  statuses?: number[];
  bodyIncludes?: string[];
}

function matcher(e: PacedExpect = {}): (status: number, body: string) => boolean {
  return (status, body) =>
    (e.statuses ? e.statuses.includes(status) : status >= 200 && status < 300) && (e.bodyIncludes ?? []).every((s) => body.includes(s));
}

/** Options of one paced run. */
export interface PacedOptions {
  port: number;
  host?: string;
  variants: PacedVariant[];
  rate: number;
  durationSec: number;
  /** Keep-alive connections (default 64: enough that a stall queues no request behind another). */
  connections?: number;
  /** What counts as success (default: any 2xx). Declarative, so a run can go to a child process. */
  expect?: PacedExpect;
  /** A request unanswered this long is an error (default 5 s). */
  timeoutMs?: number;
}

/** Latencies in ms of the successful requests, sorted, and counts. */
export interface PacedOutcome {
  sent: number;
  ok: number;
  bad: number;
  errors: number;
  /** Requests that found no idle connection when due and waited for one (0 unless the server stalls). */
  queued: number;
  seconds: number;
  statuses: Record<string, number>;
  /** From writing the request to the end of the response. */
  latency: Float64Array;
  /** From the request's scheduled time (includes generator lag and queueing for a connection). */
  fromSchedule: Float64Array;
  /** CPU the generator used for the run, ms. */
  generatorCpuMs: number;
  /** Share (0–1) of the machine's CPU time the hypervisor took during the run (./host-steal.ts). */
  hostSteal: number;
}

/** The p-th percentile (0–100) of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function serialize(v: PacedVariant, host: string, port: number): Buffer {
  return rawRequest(v.method, v.path, { host: `${host}:${port}`, ...v.headers }, v.body === undefined ? undefined : Buffer.from(v.body));
}

interface Pending {
  k: number;
  scheduled: number;
}

/** One keep-alive connection with at most one request in flight. */
class Conn {
  socket!: net.Socket;
  current?: Pending & { sent: number };
  /** The socket closed (or is closing): the next send opens a new one. */
  dead = false;
  private buf: Buffer = Buffer.alloc(0);
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onAnswer: (c: Conn, status: number, body: string) => void,
    private readonly onError: (c: Conn) => void,
  ) {
    this.open();
  }
  open(): void {
    this.buf = Buffer.alloc(0);
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.data(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (socket !== this.socket) return; // an old socket this connection already replaced
      this.dead = true;
      if (this.current) this.onError(this);
    });
  }
  send(p: Pending, bytes: Buffer): void {
    if (this.dead) {
      this.dead = false;
      this.open();
    }
    this.current = { ...p, sent: performance.now() };
    this.socket.write(bytes);
  }
  private data(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const frame = responseFrame(this.buf);
    if (!frame) return;
    const { status, head } = frame;
    const body = this.buf.subarray(frame.bodyStart, frame.bodyEnd).toString('utf8');
    this.buf = this.buf.subarray(frame.bodyEnd);
    if (/\r\nconnection:\s*close/i.test(head)) {
      // The server closes after this answer (e.g. nginx's keepalive_requests): the next send reconnects.
      this.dead = true;
      this.socket.destroy();
    }
    this.onAnswer(this, status, body);
  }
}

/** Runs one paced load in this process and returns every latency. */
export function pacedLoadHere(opts: PacedOptions): Promise<PacedOutcome> {
  const host = opts.host ?? '127.0.0.1';
  const expect = matcher(opts.expect);
  const requests = opts.variants.map((v) => serialize(v, host, opts.port));
  const total = Math.round(opts.rate * opts.durationSec);
  const interval = 1000 / opts.rate;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const latency = new Float64Array(total);
  const fromSchedule = new Float64Array(total);
  const statuses: Record<string, number> = {};
  let ok = 0, bad = 0, errors = 0, done = 0, sent = 0, queued = 0;
  const idle: Conn[] = [];
  const queue: Pending[] = [];
  const cpu0 = process.cpuUsage();
  const ticks0 = cpuTicks();
  const t0 = performance.now();
  let lastEnd = t0;

  return new Promise<PacedOutcome>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (++done < total) return;
      if (timer) clearTimeout(timer);
      for (const c of conns) c.socket.destroy();
      resolve({
        sent, ok, bad, errors, queued, statuses,
        seconds: (lastEnd - t0) / 1000,
        latency: latency.subarray(0, ok).sort(),
        fromSchedule: fromSchedule.subarray(0, ok).sort(),
        generatorCpuMs: ((c) => (c.user + c.system) / 1000)(process.cpuUsage(cpu0)),
        hostSteal: stealShare(ticks0, cpuTicks()),
      });
    };
    const dispatch = (c: Conn) => {
      const p = queue.shift();
      if (!p) return void idle.push(c);
      c.send(p, requests[p.k % requests.length]);
    };
    const onAnswer = (c: Conn, status: number, body: string) => {
      const p = c.current!;
      c.current = undefined;
      const end = performance.now();
      lastEnd = end;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (expect(status, body)) {
        latency[ok] = end - p.sent;
        fromSchedule[ok] = end - p.scheduled;
        ok++;
      } else bad++;
      dispatch(c);
      finish();
    };
    const onError = (c: Conn) => {
      errors++;
      c.current = undefined;
      dispatch(c);
      finish();
    };
    const conns = Array.from({ length: opts.connections ?? 64 }, () => new Conn(host, opts.port, onAnswer, onError));
    idle.push(...conns);
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
      while (sent < due) {
        queue.push({ k: sent, scheduled: t0 + sent * interval });
        sent++;
        const c = idle.pop();
        if (c) dispatch(c);
        else queued++;
      }
      // Requests stuck past the timeout count as errors (their connection is replaced).
      for (const c of conns) {
        if (c.current && now - c.current.sent > timeoutMs) {
          c.current = undefined;
          errors++;
          c.socket.destroy();
          c.dead = true;
          dispatch(c);
          finish();
        }
      }
      if (done < total) timer = setTimeout(tick, 1);
    };
    tick();
  });
}

/** The figures reported for one paced run (ms). */
export interface PacedSummary {
  label: string;
  rate: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  p99Sched: number;
  queued: number;
  ok: number;
  bad: number;
  errors: number;
  /** Share of the machine's CPU time the host stole during the run. */
  steal: number;
}

/** Reduces an outcome to the reported figures. */
export function summarize(label: string, rate: number, o: PacedOutcome): PacedSummary {
  return {
    label, rate,
    reqPerSec: o.ok / o.seconds,
    p50: percentile(o.latency, 50), p99: percentile(o.latency, 99), p999: percentile(o.latency, 99.9),
    max: o.latency[o.latency.length - 1] ?? NaN,
    p99Sched: percentile(o.fromSchedule, 99),
    queued: o.queued, ok: o.ok, bad: o.bad, errors: o.errors,
    steal: o.hostSteal,
  };
}

/** A latency for a table cell: two decimals, '-' when there is none. */
export const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

/** The middle value of unsorted numbers (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Markdown table of paced runs; `ratioTo` adds p50/p99 ratios against that row. */
export function pacedTable(rows: PacedSummary[], ratioTo?: PacedSummary): string {
  const ratio = (x: number, y?: number) => (y ? `${(x / y).toFixed(1)}×` : '–');
  return [
    '| run | target req/s | req/s | p50 ms | p99 ms | p99.9 ms | max ms | p99 from schedule ms | p99 ratio | queued | ok / bad / errors | host steal |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
    ...rows.map((r) => `| ${r.label} | ${r.rate} | ${r.reqPerSec.toFixed(0)} | ${f2(r.p50)} | ${f2(r.p99)} | ${f2(r.p999)} | ${f2(r.max)} | ${f2(r.p99Sched)} | ${r === ratioTo ? '1.0×' : ratio(r.p99, ratioTo?.p99)} | ${r.queued} | ${r.ok} / ${r.bad} / ${r.errors} | ${stealPct(r.steal)} |`),
  ].join('\n');
}

/**
 * Runs one paced load in a fresh child process (./paced-child.ts), so the generator's heap and GC are
 * its own: after an autocannon run in the same process, the generator's GC pauses showed up as
 * milliseconds of "server" latency.
 */
export async function pacedLoad(opts: PacedOptions): Promise<PacedOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-paced-'));
  try {
    const file = join(dir, 'options.json');
    writeFileSync(file, JSON.stringify({ ...opts, variants: opts.variants.map((v) => ({ ...v, body: v.body === undefined ? undefined : Buffer.from(v.body).toString('base64') })) }));
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(__dirname, 'paced-child.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (text += c));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`paced-child exited with ${code}`))));
    });
    const r = JSON.parse(out) as Omit<PacedOutcome, 'latency' | 'fromSchedule'> & { latency: number[]; fromSchedule: number[] };
    // JSON has no NaN: an unknown steal share arrives as null.
    return { ...r, latency: Float64Array.from(r.latency), fromSchedule: Float64Array.from(r.fromSchedule), hostSteal: r.hostSteal ?? NaN };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
