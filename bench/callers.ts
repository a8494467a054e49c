// Latency benchmark of the caller front doors (issue 5): real nginx with auth_request → Tether → a node:http
// upstream, Tether's /v1/authz/nginx called directly, and the Okta token inline hook, each at a fixed,
// evenly paced 1,000 req/s, with nginx-without-auth and a raw node:http server measured as baselines in
// the same run. Prints a Markdown table.
// Usage: node --require tsx/cjs bench/callers.ts [--identities 10000] [--duration 10] [--rate 1000 | --rates 1000,500] [--reps 3] [--warmup 10] [--profile DIR] [--tether-flags "--single-threaded-gc"]
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, startChild, stopChild, TETHER_START, tetherServeArgs } from './lib/child-server';
import { f2, median, pacedLoad, summarize, type PacedExpect, type PacedSummary } from './lib/paced';
import { cpuMs, waitIdle } from './lib/cpu';
import { BENCH_TOKEN as TOKEN, importFixture, waitForLifecycleCatchUp } from './lib/fixture';
import { findNginx, hasAuthRequest, startNginx, tetherAuthLocation, type NginxHandle } from '../test/callers/helpers/nginx';
import { oktaBodyFor } from '../src/callers/okta-example';
import { numberArg } from './lib/args';

const IDENTITIES = numberArg('identities', 10_000);
const DURATION = numberArg('duration', 10);
const RATE = numberArg('rate', 1000);
// --rates 1000,500: run the whole set once per rate (default: just --rate).
const RATES = process.argv.includes('--rates') ? process.argv[process.argv.indexOf('--rates') + 1].split(',').map(Number) : [RATE];
const WARMUP = numberArg('warmup', 10);
// --reps 3: rounds of the whole set per rate, interleaved so the VM's noise spreads over every path.
const REPS = numberArg('reps', 3);
// --profile DIR: write a V8 CPU profile of the Tether process there (for finding where its time goes).
const PROFILE_DIR = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined;
// --tether-flags "--single-threaded-gc": extra node flags for the Tether process only (tuning experiments).
const TETHER_FLAGS = process.argv.includes('--tether-flags') ? process.argv[process.argv.indexOf('--tether-flags') + 1].split(' ').filter(Boolean) : [];
const OKTA_SECRET = 'bench-okta-hook-secret-5c2e81f0';
const APP = 'payroll'; // the shipped catalog's high-sensitivity app: the strictest gate
const OKTA_CLIENT = 'customClientIdNative'; // client_id in protocols.md §5.3's body
// Run TypeScript in the server process itself (the tsx CLI would fork a child that outlives SIGTERM/SIGKILL).
const tsNode = [process.execPath, '--require', 'tsx/cjs'];

const login = (i: number) => `user-${i}@example.com`;
const oktaId = (i: number) => `00u${String(i).padStart(17, '0')}`;

/** One request shape; variants are sent round-robin so subjects and devices vary. */
interface Variant { path: string; headers: Record<string, string>; body?: Buffer }

/** The figures of one paced run (latencies in ms), with the CPU it cost and the load around it. */
interface PacedResult extends PacedSummary {
  round: number;
  baseline?: string;
  sent: number;
  load1: number;
  /** CPU ms per answered request used by Tether, and by all servers (Tether, nginx, upstream) together. */
  tetherCpu: number;
  serversCpu: number;
  /** CPU ms per request used by this load generator. */
  genCpu: number;
  statuses: Record<string, number>;
}

/**
 * One paced run (bench/lib/paced.ts: open loop, evenly spaced, raw keep-alive sockets), plus the CPU
 * the servers and this generator used per request.
 */
async function paced(opts: {
  label: string; port: number; method: 'GET' | 'POST'; variants: Variant[]; rate: number; durationSec: number;
  expect: PacedExpect; baseline?: string; round: number; pids: { tether?: number; others: Array<number | undefined> };
}): Promise<PacedResult> {
  const sumCpu = () => [opts.pids.tether, ...opts.pids.others].reduce<number>((a, p) => a + (cpuMs(p) || 0), 0);
  const tetherBefore = cpuMs(opts.pids.tether);
  const serversBefore = sumCpu();
  const load1 = loadavg()[0];
  const o = await pacedLoad({
    port: opts.port, rate: opts.rate, durationSec: opts.durationSec, expect: opts.expect,
    variants: opts.variants.map((v) => ({ method: opts.method, ...v })),
  });
  return {
    ...summarize(opts.label, opts.rate, o),
    round: opts.round, baseline: opts.baseline, sent: o.sent, load1, statuses: o.statuses,
    tetherCpu: (cpuMs(opts.pids.tether) - tetherBefore) / o.sent,
    serversCpu: (sumCpu() - serversBefore) / o.sent,
    genCpu: o.generatorCpuMs / o.sent,
  };
}

/** Markdown table of every run; ratios are latency ratios against the named baseline row of the same round. */
function report(results: PacedResult[]): string {
  const key = (label: string, r: PacedResult) => `${label}@${r.rate}#${r.round}`;
  const byLabel = new Map(results.map((r) => [key(r.label, r), r]));
  const rows = results.map((r) => {
    const b = r.baseline ? byLabel.get(key(r.baseline, r)) : undefined;
    const ratio = (x: number, y: number | undefined) => (b && y ? `${(x / y).toFixed(1)}×` : '–');
    const st = Object.entries(r.statuses).map(([k, v]) => `${k}:${v}`).join(' ');
    return `| ${r.label} | ${r.round} | ${r.rate} | ${r.reqPerSec.toFixed(0)} | ${f2(r.p50)} | ${f2(r.p99)} | ${f2(r.p999)} | ${f2(r.max)} | ${f2(r.p99Sched)} | ${ratio(r.p50, b?.p50)} | ${ratio(r.p99, b?.p99)} | ${r.p99 <= 5 ? 'yes' : '**no**'} | ${st}${r.bad ? ` (bad ${r.bad})` : ''}${r.errors ? ` errors:${r.errors}` : ''} | ${r.load1.toFixed(1)} | ${r.tetherCpu.toFixed(3)} | ${r.serversCpu.toFixed(3)} | ${r.genCpu.toFixed(3)} |`;
  });
  return [
    '| run | round | target req/s | req/s | p50 ms | p99 ms | p99.9 ms | max ms | p99 from schedule ms | p50 ratio | p99 ratio | p99 ≤ 5 ms | statuses | load (1 min) | Tether CPU ms/req | servers CPU ms/req | load-gen CPU ms/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** Medians over the rounds, one row per path and rate. */
function summary(results: PacedResult[]): string {
  const groups = new Map<string, PacedResult[]>();
  for (const r of results) groups.set(`${r.label}@${r.rate}`, [...(groups.get(`${r.label}@${r.rate}`) ?? []), r]);
  const rows = [...groups.values()].map((rs) => {
    const m = (f: (r: PacedResult) => number) => median(rs.map(f));
    const p99 = m((r) => r.p99);
    return `| ${rs[0].label} | ${rs[0].rate} | ${rs.length} | ${f2(m((r) => r.p50))} | ${f2(p99)} | ${rs.map((r) => f2(r.p99)).join(' / ')} | ${f2(m((r) => r.p999))} | ${p99 <= 5 ? 'yes' : '**no**'} | ${m((r) => r.tetherCpu).toFixed(3)} |`;
  });
  return [
    '| run | target req/s | rounds | median p50 ms | median p99 ms | p99 per round ms | median p99.9 ms | median p99 ≤ 5 ms | median Tether CPU ms/req |',
    '|---|---:|---:|---:|---:|---|---:|:-:|---:|',
    ...rows,
  ].join('\n');
}

/** Sample of users spread over the whole fixture (stride coprime with typical sizes). */
function sampleUsers(n: number, count = 5000): number[] {
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push((k * 7919) % n);
  return out;
}

function nginxServerBlock(tetherPort: number, upstreamPort: number) {
  // protocols.md §3.3's configuration, with keepalive pools as large as the load generator's 64 sockets
  // so that even a backlog never opens fresh connections (worker_connections 256 ≥ 3 × 64).
  // /direct/ is the same proxy without auth_request: the nginx baseline.
  return (port: number) => `
  upstream tether { server 127.0.0.1:${tetherPort}; keepalive 64; }
  upstream app    { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location /direct/ {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /${APP}/ {
      auth_request     /_tether;
      auth_request_set $tether_decision $upstream_http_x_tether_decision_id;
      auth_request_set $tether_subject  $upstream_http_x_tether_subject;
      auth_request_set $tether_reasons  $upstream_http_x_tether_reasons;
      proxy_set_header X-Tether-Decision-Id $tether_decision;
      proxy_set_header X-Tether-Subject     $tether_subject;
      add_header       X-Tether-Reasons     $tether_reasons always;
      add_header       X-Tether-Decision-Id $tether_decision always;
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
${tetherAuthLocation('/_tether', APP)}
  }`;
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`pre-flight check failed: ${msg}`);
}

/**
 * Processes we started that are still alive: the given pids, plus any child of this process (pgrep -P)
 * other than tsx's own esbuild service, which belongs to this process and exits with it.
 */
function leftovers(pids: number[]): string[] {
  const alive = pids.filter((p) => spawnSync('kill', ['-0', String(p)]).status === 0).map((p) => `${p} (still running)`);
  const r = spawnSync('pgrep', ['-a', '-P', String(process.pid)], { encoding: 'utf8' });
  const kids = r.stdout.split('\n').filter((l) => l.trim() && !/\bpgrep\b|esbuild --service/.test(l));
  return [...alive, ...kids];
}

async function main() {
  const bin = findNginx();
  if (!bin || !hasAuthRequest(bin)) throw new Error('nginx with auth_request is required: run `bash scripts/nginx-test-setup.sh` as root');
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-callers-'));
  const children: ChildProcess[] = [];
  let nginx: NginxHandle | undefined;
  let stopping: Promise<void> | undefined;
  const cleanup = () => (stopping ??= (async () => {
    await nginx?.stop();
    await Promise.all(children.map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  })());
  const onSignal = () => { void cleanup().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: PacedResult[] = [];
  const started: number[] = [];
  const notes: string[] = [];
  const uptimeAt = (when: string) => notes.push(`uptime ${when}: ${spawnSync('uptime', { encoding: 'utf8' }).stdout.trim()}`);
  uptimeAt('at start');
  try {
    // Tether in its own process, callers configured: trusted subject header for nginx, Okta hook with a shared secret.
    const callersFile = join(dir, 'callers.json');
    writeFileSync(callersFile, JSON.stringify({
      proxy: { subject_header: 'X-Auth-Request-Email', upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Lifecycle': 'lifecycle' } },
      okta: { auth: { type: 'header', header: 'Authorization', secret: OKTA_SECRET }, client_apps: { [OKTA_CLIENT]: APP } },
    }));
    const tetherPort = await freePort();
    const base = `http://127.0.0.1:${tetherPort}`;
    const t0 = performance.now();
    const prof = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
    children.push(await startChild(tetherServeArgs([...prof, ...TETHER_FLAGS]), {
      ...TETHER_START.env, PORT: String(tetherPort), HOST: '127.0.0.1', TETHER_DATA_DIR: join(dir, 'data'), TETHER_API_TOKEN: TOKEN,
      TETHER_CALLERS_CONFIG: callersFile, TETHER_POLICY_WATCH: 'false', TETHER_LOG_LEVEL: 'warn', TETHER_LIFECYCLE_CATCHUP_PERCENT: '100',
    }, `${base}/health/ready`));
    notes.push(`Tether ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (compiles the shipped policies).`);
    const rate = await importFixture(base, IDENTITIES, (i) => [login(i), oktaId(i)]);
    notes.push(`Fixture: ${IDENTITIES} identities (email + Okta id aliases) and ${2 * IDENTITIES} devices via POST /v1/state/import at ${rate.toFixed(0)} records/s.`);

    // The upstream (and baseline (e)): the raw node:http hello server, in its own process.
    const upPort = await freePort();
    children.push(await startChild([...tsNode, join(__dirname, 'baseline-servers.ts'), 'raw', String(upPort)], {}, `http://127.0.0.1:${upPort}/`));
    nginx = await startNginx(bin, nginxServerBlock(tetherPort, upPort));
    const nginxPid = Number(readFileSync(join(nginx.dir, 'nginx.pid'), 'utf8').trim());
    started.push(...children.map((c) => c.pid!), nginxPid);
    const pids = { tether: children[0].pid, others: [children[1].pid, nginxPid] };
    const settled = await waitForLifecycleCatchUp(base);
    const idle = await waitIdle(pids.tether);
    notes.push(`Before measuring, waited ${settled.toFixed(0)} s for Tether's background lifecycle rechecks of the import (TETHER_LIFECYCLE_CATCHUP_PERCENT=100), then ${idle.toFixed(0)} s for its CPU to go idle.`);

    const users = sampleUsers(IDENTITIES);
    const proxyHeaders = (i: number) => ({ host: 'payroll.example.com', 'x-auth-request-email': login(i), 'x-device-id': `dev-${i}-a` });
    const viaNginx = (prefix: string): Variant[] => users.map((i) => ({ path: `${prefix}/reports?q=${i}`, headers: proxyHeaders(i) }));
    const direct: Variant[] = users.map((i) => ({
      path: `/v1/authz/nginx?app=${APP}`,
      headers: { ...proxyHeaders(i), 'x-original-uri': `/${APP}/reports?q=${i}`, 'x-original-method': 'GET', 'x-forwarded-host': 'payroll.example.com', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' },
    }));
    const okta: Variant[] = users.slice(0, 2000).map((i) => ({
      path: '/v1/hooks/okta/token',
      headers: { authorization: OKTA_SECRET, 'content-type': 'application/json', accept: 'application/json' },
      body: Buffer.from(JSON.stringify(oktaBodyFor(oktaId(i), login(i)))),
    }));

    // Pre-flight: the paths really do what we think (auth_request in the path, allow and deny, hook allow).
    const get = (port: number, v: Variant) => fetch(`http://127.0.0.1:${port}${v.path}`, { headers: v.headers });
    const allowed = await get(nginx.port, viaNginx(`/${APP}`)[1]);
    assert(allowed.status === 200 && /^[0-9a-f-]{36}$/.test(allowed.headers.get('x-tether-decision-id') ?? ''), `nginx allow → ${allowed.status}`);
    const denied = await get(nginx.port, { path: `/${APP}/x`, headers: { ...proxyHeaders(0), 'x-device-id': 'dev-0-b' } });
    assert(denied.status === 403 && denied.headers.get('x-tether-reasons') === 'device_not_compliant', `nginx deny → ${denied.status} ${denied.headers.get('x-tether-reasons')}`);
    const noSubject = await get(nginx.port, { path: `/${APP}/x`, headers: { host: 'payroll.example.com' } });
    assert(noSubject.status === 401, `nginx no subject → ${noSubject.status}`);
    const hook = await fetch(`${base}${okta[1].path}`, { method: 'POST', headers: okta[1].headers, body: okta[1].body });
    const hookBody = await hook.text();
    assert(hook.status === 200 && hookBody.includes('"com.okta.identity.patch"') && hookBody.includes('"trusted"'), `okta hook → ${hook.status} ${hookBody.slice(0, 200)}`);
    notes.push('Pre-flight: nginx allow 200 with X-Tether-Decision-Id, non-compliant device 403 device_not_compliant, no subject 401; Okta hook allow adds the claims.');

    const is200: PacedExpect = { statuses: [200] };
    const oktaAllow: PacedExpect = { statuses: [200], bodyIncludes: ['"commands"'] };
    const runs: Array<Omit<Parameters<typeof paced>[0], 'pids' | 'round'>> = [
      { label: '(a) nginx → upstream (no auth)', port: nginx.port, method: 'GET', variants: viaNginx('/direct'), rate: RATE, durationSec: DURATION, expect: is200 },
      { label: '(b) nginx auth_request → Tether → upstream', port: nginx.port, method: 'GET', variants: viaNginx(`/${APP}`), rate: RATE, durationSec: DURATION, expect: is200, baseline: '(a) nginx → upstream (no auth)' },
      { label: '(c) Tether /v1/authz/nginx direct', port: tetherPort, method: 'GET', variants: direct, rate: RATE, durationSec: DURATION, expect: is200, baseline: '(a) nginx → upstream (no auth)' },
      { label: '(e) node:http hello (POST Okta body)', port: upPort, method: 'POST', variants: okta.map((v) => ({ ...v, path: '/' })), rate: RATE, durationSec: DURATION, expect: is200 },
      { label: '(d) Okta token hook POST /v1/hooks/okta/token', port: tetherPort, method: 'POST', variants: okta, rate: RATE, durationSec: DURATION, expect: oktaAllow, baseline: '(e) node:http hello (POST Okta body)' },
    ];
    const rounds = Array.from({ length: REPS }, (_, i) => i + 1);
    for (const spec of RATES.flatMap((rate) => rounds.flatMap((round) => runs.map((r) => ({ ...r, rate, round }))))) {
      const run = { ...spec, pids };
      await paced({ ...run, label: 'warmup', durationSec: WARMUP });
      const r = await paced(run);
      results.push(r);
      process.stderr.write(`${r.label} (round ${r.round}): ${r.reqPerSec.toFixed(0)} req/s p50 ${f2(r.p50)} p99 ${f2(r.p99)} p99.9 ${f2(r.p999)} ms (load ${r.load1.toFixed(1)})\n`);
    }
    const errLog = nginx.errorLog().split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    notes.push(`nginx error log: ${errLog.length ? `${errLog.length} error lines, first: ${errLog[0]}` : 'no errors'}.`);
    uptimeAt('at end');
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const left = leftovers(started);
  notes.push(`Processes left after stop (pids ${started.join(', ')}, and pgrep -P ${process.pid}): ${left.length ? left.join('; ') : 'none'}.`);

  console.log(`## Callers at ${RATES.join(', ')} req/s (${DURATION} s per run after ${WARMUP} s warmup; ${IDENTITIES} identities, ${2 * IDENTITIES} devices${TETHER_FLAGS.length ? `; Tether runs with ${TETHER_FLAGS.join(' ')}` : ''})\n`);
  console.log(summary(results));
  console.log(`\nEvery run (rounds interleaved: each round runs every path once, ${WARMUP} s warm-up each):\n`);
  console.log(report(results));
  console.log('\n' + notes.map((n) => `- ${n}`).join('\n'));
  if (left.length) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
