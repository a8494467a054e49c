// HTTP benchmark of POST /v1/decide (issue 3): loads N identities and 2N devices through the bulk
// import route (measuring records/s), then runs autocannon against Tether, an express hello-world
// app and a raw node:http hello server, all in this one run, and prints a Markdown report.
// After the import it waits until the lifecycle service has re-derived every imported identity
// (tether_lifecycle_rechecks_due reads 0 on /metrics), so the decision figures measure decisions
// alone, not decisions competing with the background catch-up.
// The fixed-rate rows: autocannon's overallRate sends each second's 1,000 requests as a burst over
// 16 connections, so its p99 is the p99 of a saturating burst; the "steady (open loop)" row spreads the
// same rate evenly and is the figure for "p99 at 1,000 req/s" (issue 3).
// Usage: tsx bench/http-decide.ts [--identities 100000] [--duration 10]
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, stopChild } from './lib/child-server';
import { runLoad, table, LoadResult } from './lib/load';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const IDENTITIES = arg('identities', 100_000);
const DURATION = arg('duration', 10);
const TOKEN = 'bench-token-0123456789abcdef';
// Run TypeScript in the server process itself (the tsx CLI would fork a child that outlives SIGTERM/SIGKILL).
const tsNode = [process.execPath, '--require', 'tsx/cjs'];

/** NDJSON lines for n identities (each with two devices, one compliant). */
export function* fixture(n: number): Generator<string> {
  const now = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const id = `user-${i}`;
    yield JSON.stringify({ kind: 'identity', record: { id, status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, aliases: [`${id}@example.com`], activated_at: '2026-01-01T00:00:00Z', source: 'bench', observed_at: now, version: 1 } });
    for (const [suffix, compliant] of [['a', true], ['b', i % 10 !== 0]] as const) {
      yield JSON.stringify({ kind: 'device', record: { id: `dev-${i}-${suffix}`, owner: id, enrolled: true, compliant, encrypted: true, platform: 'macos', os_version: '14.6.1', ownership: 'corporate', source: 'bench', observed_at: now, version: 1 } });
    }
  }
}

/** Imports the fixture in chunks over HTTP; returns records per second. */
async function importFixture(base: string, n: number): Promise<number> {
  const started = process.hrtime.bigint();
  let batch: string[] = [];
  let total = 0;
  const send = async () => {
    const res = await fetch(`${base}/v1/state/import`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' }, body: batch.join('\n') + '\n' });
    const out = (await res.json()) as { imported: number; rejected: number };
    if (!res.ok || out.rejected) throw new Error(`import failed: ${res.status} ${JSON.stringify(out).slice(0, 300)}`);
    total += out.imported;
    batch = [];
    process.stderr.write(`\rimported ${total} records`);
  };
  for (const line of fixture(n)) {
    batch.push(line);
    if (batch.length >= 50_000) await send();
  }
  if (batch.length) await send();
  process.stderr.write('\n');
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  return total / secs;
}

/** Polls /metrics until no lifecycle recheck is due (the post-import catch-up is done); returns seconds waited. */
async function waitForLifecycleCatchUp(base: string, timeoutMs = 600_000): Promise<number> {
  const started = Date.now();
  let zeroes = 0;
  while (Date.now() - started < timeoutMs) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^tether_lifecycle_rechecks_due (\d+(?:\.\d+)?)$/m.exec(text);
    if (!m) throw new Error('tether_lifecycle_rechecks_due is missing from /metrics');
    // Two zero readings in a row: the drain also finished the refreshes it had already started.
    zeroes = Number(m[1]) === 0 ? zeroes + 1 : 0;
    if (zeroes >= 2) return (Date.now() - started) / 1000;
    process.stderr.write(`\rlifecycle catch-up: ${m[1]} identities due   `);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`lifecycle catch-up not done within ${timeoutMs} ms`);
}

/**
 * An open-loop steady load: `rate` requests per second spread evenly (autocannon's overallRate fires
 * each second's quota as one back-to-back burst at the top of the second), over up to `connections`
 * keep-alive sockets. Latency runs from each request's scheduled send time, so queueing behind a
 * slow response is counted (no coordinated omission).
 */
export async function steadyLoad(label: string, url: string, bodies: string[], rate: number, durationSec: number, connections = 16): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  const total = Math.round(rate * durationSec);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let done = 0;
    const finish = () => {
      if (++done === total) resolve();
    };
    const fire = (scheduled: number) => {
      const body = bodies[sent % bodies.length];
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - scheduled);
          finish();
        });
      });
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end(body);
    };
    const tick = () => {
      // Send every request whose slot has come (timers fire late; the schedule does not drift).
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) fire(t0 + (sent * 1000) / rate), sent++;
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsedSec = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10) / 10;
  return { label, requestsPerSec: total / elapsedSec, p50: q(0.5), p99: q(0.99), p999: q(0.999), errors, non2xx };
}

function decideBodies(n: number): string[] {
  const bodies: string[] = [];
  for (let k = 0; k < 5000; k++) {
    const i = Math.floor((k * 7919) % n);
    bodies.push(JSON.stringify({ action: 'access', subject: `user-${i}@example.com`, device: `dev-${i}-${k % 2 ? 'a' : 'b'}`, resource: { app: 'wiki' } }));
  }
  return bodies;
}

async function main() {
  const results: LoadResult[] = [];
  const report: string[] = [];

  for (const kind of ['raw', 'express'] as const) {
    const port = await freePort();
    const child = await startChild([...tsNode, join(__dirname, 'baseline-servers.ts'), kind, String(port)], {}, `http://127.0.0.1:${port}/`);
    await runLoad({ label: 'warmup', url: `http://127.0.0.1:${port}/`, durationSec: 2 });
    results.push(await runLoad({ label: kind === 'raw' ? 'node:http hello' : 'express hello', url: `http://127.0.0.1:${port}/v1/decide`, method: 'POST', bodies: decideBodies(IDENTITIES), durationSec: DURATION }));
    await stopChild(child);
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = await startChild([...tsNode, join(__dirname, '..', 'src', 'cli.ts'), 'serve'], { PORT: String(port), TETHER_DATA_DIR: dataDir, TETHER_API_TOKEN: TOKEN }, `${base}/health/ready`);
  try {
    const rate = await importFixture(base, IDENTITIES);
    report.push(`Bulk import over HTTP: ${IDENTITIES} identities + ${2 * IDENTITIES} devices at ${rate.toFixed(0)} records/s.`);
    const caughtUp = await waitForLifecycleCatchUp(base);
    process.stderr.write('\n');
    report.push(`Lifecycle catch-up after the import finished ${caughtUp.toFixed(1)} s later; decisions were measured after it.`);
    const bodies = decideBodies(IDENTITIES);
    await runLoad({ label: 'warmup', url: `${base}/v1/decide`, method: 'POST', bodies, durationSec: 3 });
    results.push(await runLoad({ label: 'tether /v1/decide', url: `${base}/v1/decide`, method: 'POST', bodies, durationSec: DURATION }));
    const fixed = await runLoad({ label: 'tether /v1/decide @1000 req/s', url: `${base}/v1/decide`, method: 'POST', bodies, durationSec: DURATION, overallRate: 1000, connections: 16 });
    results.push(fixed);
    results.push(await steadyLoad('tether /v1/decide @1000 req/s steady (open loop)', `${base}/v1/decide`, bodies, 1000, DURATION));
  } finally {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  }

  const express = results.find((r) => r.label === 'express hello')!;
  console.log(`## /v1/decide with ${IDENTITIES} identities and ${2 * IDENTITIES} devices (${DURATION}s per run, 32 connections)\n`);
  console.log(table(results, express));
  console.log('\n' + report.join('\n'));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
