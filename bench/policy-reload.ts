// Decisions during policy hot reloads: `POST /v1/decide` paced at 1,000 req/s while the policies are
// recompiled every second (`POST /v1/policies/reload` after a policy file changed, so each reload builds new
// wasm), against the same server with no reloads, in interleaved rounds. Prints a Markdown table.
// The lifecycle runs at its default pace: a new policy revision makes it re-derive every identity in the
// background, as it does in production, and that work is part of what a reload costs.
// Usage: node --require tsx/cjs bench/policy-reload.ts [--identities 10000] [--duration 10] [--reps 3] [--every 1000]
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, stopChild, TETHER_START, tetherServeArgs } from './lib/child-server';
import { waitIdle } from './lib/cpu';
import { BENCH_TOKEN, decideVariants, importFixture, waitForLifecycleCatchUp, waitForResident } from './lib/fixture';
import { f2, median, pacedLoad, pacedTable, summarize, type PacedSummary } from './lib/paced';
import { numberArg } from './lib/args';

const IDENTITIES = numberArg('identities', 10_000);
const DURATION = numberArg('duration', 10);
const REPS = numberArg('reps', 3);
const EVERY_MS = numberArg('every', 1000);
const RATE = 1000;

/** What the reloads of one run did. */
interface ReloadStats {
  count: number;
  failed: number;
  /** Server-reported reload durations (compile and load), ms. */
  serverMs: number[];
}

/** Changes a policy file, then asks for a reload, every EVERY_MS until `stop()`; the marker makes every build new wasm. */
function reloadLoop(base: string, policyDir: string, round: number): { stop(): Promise<ReloadStats> } {
  const stats: ReloadStats = { count: 0, failed: 0, serverMs: [] };
  let running = true;
  const loop = (async () => {
    for (let k = 0; running; k++) {
      const due = Date.now() + EVERY_MS;
      writeFileSync(join(policyDir, 'tether', 'zz_bench_marker.rego'), `package tether.bench_marker\n\nreload := ${round * 100_000 + k}\n`);
      const res = await fetch(`${base}/v1/policies/reload`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_TOKEN}` } });
      const body = (await res.json()) as { last_reload?: { ms?: number } };
      stats.count++;
      if (!res.ok) stats.failed++;
      else if (typeof body.last_reload?.ms === 'number') stats.serverMs.push(body.last_reload.ms);
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return stats;
    },
  };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-bench-reload-'));
  const policyDir = mkdtempSync(join(tmpdir(), 'tether-bench-policies-'));
  cpSync(join(__dirname, '..', 'policies'), policyDir, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...TETHER_START.env,
    PORT: String(port),
    TETHER_DATA_DIR: dataDir,
    TETHER_POLICY_DIR: policyDir,
    TETHER_POLICY_WATCH: 'false', // reloads come from this script only, one at a time
    TETHER_API_TOKEN: BENCH_TOKEN,
    TETHER_LOG_LEVEL: 'warn',
  };
  const report: string[] = [`Load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}.`];
  const child = await startChild(tetherServeArgs(), env, `${base}/health/ready`);
  const rows: Array<PacedSummary & { reloads?: ReloadStats }> = [];
  try {
    const rate = await importFixture(base, IDENTITIES);
    await waitForLifecycleCatchUp(base);
    await waitForResident(base);
    await waitIdle(child.pid);
    report.push(`Store: ${IDENTITIES} identities + ${2 * IDENTITIES} devices (imported at ${rate.toFixed(0)} records/s). Policies: a copy of policies/, a marker rule rewritten before each reload.`);
    const variants = decideVariants(IDENTITIES);
    await pacedLoad({ port, variants, rate: RATE, durationSec: DURATION }); // warm-up, discarded
    for (let r = 1; r <= REPS; r++) {
      for (const reloading of [false, true]) {
        const loop = reloading ? reloadLoop(base, policyDir, r) : undefined;
        const o = await pacedLoad({ port, variants, rate: RATE, durationSec: DURATION });
        const reloads = await loop?.stop();
        const label = `${reloading ? `reload every ${EVERY_MS} ms` : 'no reloads'} (round ${r}, load ${loadavg()[0].toFixed(1)})`;
        rows.push({ ...summarize(label, RATE, o), reloads });
        if (reloading) await waitIdle(child.pid);
      }
    }
  } finally {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(policyDir, { recursive: true, force: true });
  }
  const quiet = rows.filter((r) => !r.reloads);
  const busy = rows.filter((r) => r.reloads);
  const baseline = quiet[0];
  report.push('', pacedTable(rows, baseline), '');
  for (const r of busy) {
    const s = r.reloads!;
    report.push(`- ${r.label}: ${s.count} reloads (${s.failed} failed), server-reported reload time median ${f2(median(s.serverMs))} ms, max ${f2(Math.max(...s.serverMs))} ms.`);
  }
  const q = median(quiet.map((r) => r.p99));
  const b = median(busy.map((r) => r.p99));
  report.push('', `Median p99: ${f2(q)} ms without reloads, ${f2(b)} ms with a reload every ${EVERY_MS} ms (${(b / q).toFixed(2)}×). Median max: ${f2(median(quiet.map((r) => r.max)))} against ${f2(median(busy.map((r) => r.max)))} ms.`);
  report.push(`Load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' / ')}.`);
  console.log(report.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
