// The service issue's /metrics requirements, each proven on a real server (serve(): SQLite store, shipped
// policies in a temp copy, decision log, lifecycle, outbox) by driving the real thing over HTTP, scraping
// /metrics before and after, and asserting the exact series (name + label set) and how its value moved:
//   decision duration per action · decisions by action, allow and reason · identities per lifecycle state ·
//   records per kind · age of the newest update per source · policy revision · reload failures ·
//   outbox depth and delivery failures · decision-log drops.
// Other suites prove some of these on components (test/engine/decider.test.ts, test/lifecycle/*,
// test/engine/decision-log-sink-failure.test.ts); test/api/app.test.ts sets most gauges by hand.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/api/context';
import { serveTemp, type TempServer } from '../helpers/serve-temp';

jest.setTimeout(60_000);

const POLICIES = path.join(__dirname, '../../policies');
const SUBJECT_HEADER = 'X-Auth-Request-Email';
const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

let t: TempServer;
let policyDir: string;
let sink: { url: string; status: number; ssfStatus: number; ssfHits: number; close(): Promise<void> };

beforeAll(async () => {
  sink = await startSink();
  t = await serveTemp({
    prefix: 'tether-metrics-',
    logger: createLogger('silent'),
    env: {
      // A decision log that can never be written (ENOSPC) with a one-entry buffer: drops are certain.
      TETHER_DECISION_LOG: '/dev/full',
      TETHER_DECISION_LOG_BUFFER: '1',
      TETHER_SHUTDOWN_TIMEOUT_MS: '2000',
    },
    processEnv: (dir) => {
      policyDir = path.join(dir, 'policies');
      fs.cpSync(POLICIES, policyDir, { recursive: true });
      // A static SSF receiver (the transmitter's own outbox): answers sink.ssfStatus.
      const receivers = JSON.stringify([{ endpoint_url: sink.url.replace('/hook', '/ssf') }]);
      return { TETHER_POLICY_DIR: policyDir, TETHER_PROXY_SUBJECT_HEADER: SUBJECT_HEADER, TETHER_SSF_RECEIVERS: receivers };
    },
  });
  const store = t.server.ctx.store;
  store.putIdentity('alice', { status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: ago(30 * DAY), aliases: ['alice@example.com'] });
  store.putDevice('mac-alice', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: ago(60_000) });
  store.putIdentity('bob', { status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: ago(30 * DAY), aliases: ['bob@example.com'] });
});
afterAll(async () => {
  await t?.stop();
  await sink?.close();
});

// ---- helpers

async function startSink(): Promise<typeof sink> {
  const s = { url: '', status: 200, ssfStatus: 200, ssfHits: 0, close: async (): Promise<void> => undefined };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const ssf = req.url === '/ssf';
      if (ssf) s.ssfHits++;
      res.writeHead(ssf ? s.ssfStatus : s.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  s.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return s;
}

const auth = () => ({ authorization: `Bearer ${t.apiToken}`, 'content-type': 'application/json' });

async function api(method: string, p: string, body?: unknown, headers: Record<string, string> = auth()): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** /metrics, parsed into samples. */
async function scrape(): Promise<Sample[]> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the series with exactly these labels (undefined when absent). */
function val(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels);
  return samples.find((s) => s.name === name && Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k]))?.value;
}

/** val(), 0 when absent (a counter not yet incremented). */
const num = (samples: Sample[], name: string, labels: Record<string, string> = {}) => val(samples, name, labels) ?? 0;

/** Scrapes until `cond` holds on the samples (background work: lifecycle drains, outbox deliveries). */
async function scrapeUntil(cond: (s: Sample[]) => boolean, what: string, ms = 8000): Promise<Sample[]> {
  const end = Date.now() + ms;
  let s = await scrape();
  while (!cond(s)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last scrape: ${JSON.stringify(s.filter((x) => x.name.startsWith('tether_')).slice(0, 80))}`);
    await new Promise((r) => setTimeout(r, 50));
    s = await scrape();
  }
  return s;
}

const decideBody = (action: string, subject: string, extra: Record<string, unknown> = {}) => ({ action, subject, resource: { app: 'wiki' }, ...extra });

// ---- decisions

test('decisions by action, allow and reason, and the duration histogram per action, move with every front door', async () => {
  const before = await scrape();
  // An allow, a deny with one reason, a batch of two, a multi-reason deny, the Data API, OPA's default decision, a proxy check.
  const allow = await api('POST', '/v1/decide', decideBody('access', 'alice@example.com', { device: 'mac-alice' }));
  expect(allow.json).toMatchObject({ allow: true, reasons: [] });
  const unknown = await api('POST', '/v1/decide', decideBody('token', 'nobody@example.com'));
  expect(unknown.json.reasons).toEqual(['identity_unknown']);
  await api('POST', '/v1/decide/batch', { requests: [decideBody('entitle', 'nobody@example.com'), { action: 'activate', subject: 'nobody@example.com' }] });
  const multi = await api('POST', '/v1/decide', { action: 'access', subject: 'bob@example.com', resource: { app: 'payroll' } });
  expect(multi.json.allow).toBe(false);
  expect(multi.json.reasons.length).toBeGreaterThanOrEqual(1);
  await api('POST', '/v1/data/tether/decision', { input: decideBody('access', 'alice@example.com', { device: 'mac-alice' }) });
  await api('POST', '/', decideBody('access', 'alice@example.com', { device: 'mac-alice' }));
  const proxy = await fetch(`${t.url}/v1/authz/nginx?app=wiki`, { headers: { [SUBJECT_HEADER]: 'alice@example.com', 'x-device-id': 'mac-alice', 'x-original-method': 'GET', 'x-original-uri': '/' } });
  expect(proxy.status).toBe(200);
  const after = await scrape();

  const d = (labels: Record<string, string>) => num(after, 'tether_decisions_total', labels) - num(before, 'tether_decisions_total', labels);
  expect(d({ action: 'access', allow: 'true', reason: 'none' })).toBe(4); // decide, Data API, POST /, nginx
  expect(d({ action: 'token', allow: 'false', reason: 'identity_unknown' })).toBe(1);
  expect(d({ action: 'entitle', allow: 'false', reason: 'identity_unknown' })).toBe(1);
  expect(d({ action: 'activate', allow: 'false', reason: 'identity_unknown' })).toBe(1);
  for (const reason of multi.json.reasons as string[]) expect(d({ action: 'access', allow: 'false', reason })).toBe(1); // once per reason

  const h = (suffix: string, labels: Record<string, string>) =>
    num(after, `tether_decision_duration_seconds_${suffix}`, labels) - num(before, `tether_decision_duration_seconds_${suffix}`, labels);
  expect(h('count', { action: 'access' })).toBe(5);
  expect(h('count', { action: 'token' })).toBe(1);
  expect(h('count', { action: 'entitle' })).toBe(1);
  expect(h('count', { action: 'activate' })).toBe(1);
  expect(h('bucket', { le: '+Inf', action: 'access' })).toBe(5);
  expect(h('sum', { action: 'access' })).toBeGreaterThan(0);
  // Buckets are cumulative and the +Inf bucket equals the count.
  const buckets = after.filter((s) => s.name === 'tether_decision_duration_seconds_bucket' && s.labels.action === 'access').map((s) => s.value);
  expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  expect(val(after, 'tether_decision_duration_seconds_bucket', { le: '+Inf', action: 'access' })).toBe(val(after, 'tether_decision_duration_seconds_count', { action: 'access' }));
});

test('an action the client makes up is counted as "unknown", never as a label of its own (bounded cardinality)', async () => {
  // The Data API and OPA's v0 endpoints take any input: without a bound, each made-up action would add a
  // counter series and a 14-series histogram (an open decision port lets anyone grow /metrics at will).
  const before = await scrape();
  const made = ['x-made-up-1', 'x-made-up-2', 'y'.repeat(300)];
  await api('POST', '/v1/data/tether/decision', { input: decideBody(made[0], 'alice@example.com') });
  await api('POST', '/v0/data/tether/decision', decideBody(made[1], 'alice@example.com'));
  await api('POST', '/', decideBody(made[2], 'alice@example.com'));
  const after = await scrape();
  for (const a of made) expect(after.some((s) => s.labels.action === a)).toBe(false);
  expect(num(after, 'tether_decision_duration_seconds_count', { action: 'unknown' }) - num(before, 'tether_decision_duration_seconds_count', { action: 'unknown' })).toBe(3);
  expect(num(after, 'tether_decisions_total', { action: 'unknown', allow: 'false', reason: 'action_unknown' }) - num(before, 'tether_decisions_total', { action: 'unknown', allow: 'false', reason: 'action_unknown' })).toBe(3);
});

// ---- state

test('identities per lifecycle state follow creation, a transition and deletion', async () => {
  const state = (s: Sample[], st: string) => num(s, 'tether_identities_by_lifecycle_state', { state: st });
  const s0 = await scrape();
  await api('PUT', '/v1/identities/lc-1', { status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, activated_at: ago(30 * DAY) });
  const s1 = await scrapeUntil((s) => state(s, 'active_unenrolled') === state(s0, 'active_unenrolled') + 1, 'lc-1 to count as active_unenrolled');
  await api('PUT', '/v1/devices/lc-1-mac', { owner: 'lc-1', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: ago(60_000) });
  await scrapeUntil((s) => state(s, 'healthy') === state(s1, 'healthy') + 1 && state(s, 'active_unenrolled') === state(s0, 'active_unenrolled'), 'lc-1 to move to healthy');
  expect((await api('DELETE', '/v1/identities/lc-1')).status).toBe(204);
  await scrapeUntil((s) => state(s, 'healthy') === state(s1, 'healthy'), 'the deleted identity to leave the healthy count');
});

test('records per kind count every kind, up on writes and down on deletes', async () => {
  const kinds = ['identity', 'device', 'exception', 'break_glass', 'app', 'subscription'];
  const count = (s: Sample[]) => Object.fromEntries(kinds.map((k) => [k, val(s, 'tether_state_records', { kind: k })]));
  const before = count(await scrape());
  for (const k of kinds) expect(before[k]).toEqual(expect.any(Number));
  await api('PUT', '/v1/identities/rec-1', { status: 'active', type: 'break_glass' });
  await api('PUT', '/v1/devices/rec-1-mac', { owner: 'rec-1', ownership: 'corporate' });
  await api('PUT', '/v1/apps/rec-app', { sensitivity: 'low' });
  const ex = await api('POST', '/v1/exceptions', { identity: 'bob', waives: ['device_missing'], scope: { apps: ['wiki'] }, reason: 'r', approved_by: 'a', expires_at: new Date(Date.now() + 3_600_000).toISOString() });
  await api('POST', '/v1/break-glass/rec-1', { minutes: 10, reason: 'r', approved_by: 'a' });
  const sub = await api('POST', '/v1/subscriptions', { url: sink.url, secret: 'records-per-kind-secret', events: ['drift'] });
  const up = count(await scrape());
  for (const k of kinds) expect(up[k]).toBe(before[k]! + 1);
  await api('DELETE', `/v1/subscriptions/${sub.json.id}`);
  await api('DELETE', `/v1/exceptions/${ex.json.id}`);
  await api('DELETE', '/v1/break-glass/rec-1');
  await api('DELETE', '/v1/apps/rec-app');
  await api('DELETE', '/v1/devices/rec-1-mac');
  await api('DELETE', '/v1/identities/rec-1');
  expect(count(await scrape())).toEqual(before);
});

test('age of the newest update per source: appears on the first write, grows, and resets on the next', async () => {
  const age = (s: Sample[], kind: string, source: string) => val(s, 'tether_state_newest_update_age_seconds', { kind, source });
  expect(age(await scrape(), 'identity', 'hr-feed')).toBeUndefined();
  await api('PUT', '/v1/identities/src-1', { status: 'active', source: 'hr-feed' });
  await api('PUT', '/v1/devices/src-1-mac', { owner: 'src-1', ownership: 'corporate', source: 'mdm-x' });
  const first = await scrape();
  expect(age(first, 'identity', 'hr-feed')).toBeLessThan(1);
  expect(age(first, 'device', 'mdm-x')).toBeLessThan(1);
  await new Promise((r) => setTimeout(r, 1300));
  const later = await scrape();
  expect(age(later, 'identity', 'hr-feed')).toBeGreaterThanOrEqual(1.2);
  expect(age(later, 'device', 'mdm-x')).toBeGreaterThanOrEqual(1.2);
  await api('PUT', '/v1/identities/src-2', { status: 'active', source: 'hr-feed' });
  const again = await scrape();
  expect(age(again, 'identity', 'hr-feed')).toBeLessThan(1);
  expect(age(again, 'device', 'mdm-x')).toBeGreaterThanOrEqual(1.2); // another source, untouched
});

// ---- policies

test('policy revision follows a reload; a failed reload is counted and leaves the revision alone', async () => {
  const revision = async () => (await api('GET', '/v1/policies')).json.revision as string;
  const r1 = await revision();
  const s1 = await scrape();
  expect(s1.filter((s) => s.name === 'tether_policy_revision_info')).toEqual([{ name: 'tether_policy_revision_info', labels: { revision: r1 }, value: 1 }]);

  fs.writeFileSync(path.join(policyDir, 'tether', 'zz_metrics_matrix.rego'), 'package tether.zz_metrics_matrix\n\nimport rego.v1\n\nmarker := 1\n');
  const ok = await api('POST', '/v1/policies/reload');
  expect(ok.status).toBe(200);
  const r2 = ok.json.revision as string;
  expect(r2).not.toBe(r1);
  const s2 = await scrape();
  expect(s2.filter((s) => s.name === 'tether_policy_revision_info')).toEqual([{ name: 'tether_policy_revision_info', labels: { revision: r2 }, value: 1 }]);
  expect(num(s2, 'tether_policy_reloads_total', { result: 'ok' })).toBe(num(s1, 'tether_policy_reloads_total', { result: 'ok' }) + 1);
  expect(num(s2, 'tether_policy_reload_failures_total')).toBe(num(s1, 'tether_policy_reload_failures_total'));

  const broken = path.join(policyDir, 'tether', 'zz_broken.rego');
  fs.writeFileSync(broken, 'package tether.zz_broken\n\nimport rego.v1\n\nx if {\n  y > 1\n}\n');
  try {
    expect((await api('POST', '/v1/policies/reload')).status).toBe(422);
  } finally {
    fs.rmSync(broken);
  }
  const s3 = await scrape();
  expect(num(s3, 'tether_policy_reload_failures_total')).toBe(num(s2, 'tether_policy_reload_failures_total') + 1);
  expect(num(s3, 'tether_policy_reloads_total', { result: 'failed' })).toBe(num(s2, 'tether_policy_reloads_total', { result: 'failed' }) + 1);
  expect(s3.filter((s) => s.name === 'tether_policy_revision_info')).toEqual([{ name: 'tether_policy_revision_info', labels: { revision: r2 }, value: 1 }]);
  expect(await revision()).toBe(r2);
});

// ---- outbox

test('outbox depth rises while a subscriber fails, failures are counted per subscriber, and both settle on delivery', async () => {
  sink.status = 500;
  const sub = await api('POST', '/v1/subscriptions', { url: sink.url, secret: 'outbox-metrics-secret-0123', events: ['revocation'] });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  const s0 = await scrape();
  await api('PUT', '/v1/identities/ob-1', { status: 'active' });
  await api('PUT', '/v1/identities/ob-1', { status: 'suspended' }); // leaving active: a revocation
  const failing = await scrapeUntil((s) => num(s, 'tether_outbox_delivery_failures_total', { subscriber: id }) >= 1 && num(s, 'tether_outbox_depth') >= 1, 'a failed delivery and a queued event');
  expect(num(s0, 'tether_outbox_delivery_failures_total', { subscriber: id })).toBe(0);
  expect(num(failing, 'tether_outbox_depth')).toBe(1);
  sink.status = 200;
  const done = await scrapeUntil((s) => num(s, 'tether_outbox_depth') === 0, 'the outbox to drain once the subscriber answers', 10_000);
  expect(num(done, 'tether_outbox_delivered_total', { event: 'revocation' })).toBe(num(s0, 'tether_outbox_delivered_total', { event: 'revocation' }) + 1);
  expect(num(done, 'tether_outbox_delivery_failures_total', { subscriber: id })).toBeGreaterThanOrEqual(1);
  await api('DELETE', `/v1/subscriptions/${id}`);
});

test('SET deliveries that fail count in the same delivery-failure counter (its help: "webhook/SET"), per stream', async () => {
  const streams = (await api('GET', '/ssf/streams')).json as Array<{ stream_id: string }>;
  expect(streams).toHaveLength(1);
  const label = { subscriber: `ssf:${streams[0].stream_id}` };
  sink.ssfStatus = 503;
  const s0 = await scrape();
  const hits = sink.ssfHits;
  await api('PUT', '/v1/identities/ob-2', { status: 'active', aliases: ['ob-2@example.com'] });
  await api('PUT', '/v1/identities/ob-2', { status: 'suspended', aliases: ['ob-2@example.com'] }); // session-revoked SET
  const end = Date.now() + 8000;
  while (sink.ssfHits === hits && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(sink.ssfHits).toBeGreaterThan(hits); // the transmitter tried, and the receiver refused
  const failing = await scrapeUntil((s) => num(s, 'tether_outbox_delivery_failures_total', label) >= 1, 'the failed SET delivery to be counted', 3000);
  expect(num(s0, 'tether_outbox_delivery_failures_total', label)).toBe(0);
  expect(num(failing, 'tether_ssf_outbox_depth')).toBeGreaterThanOrEqual(1);
  sink.ssfStatus = 202;
  await scrapeUntil((s) => num(s, 'tether_ssf_outbox_depth') === 0, 'the SET to be delivered', 10_000);
});

// ---- decision log

test('decision-log drops are counted: allows beyond the buffer, denies beyond the hard cap', async () => {
  // TETHER_DECISION_LOG=/dev/full (every write fails: ENOSPC) and TETHER_DECISION_LOG_BUFFER=1 (hard cap 10).
  const before = await scrape();
  for (let i = 0; i < 20; i++) await api('POST', '/v1/decide', decideBody('access', 'alice@example.com', { device: 'mac-alice' }));
  const mid = await scrape();
  expect(num(mid, 'tether_decision_log_dropped_total', { allow: 'true' }) - num(before, 'tether_decision_log_dropped_total', { allow: 'true' })).toBeGreaterThanOrEqual(18);
  for (let i = 0; i < 30; i++) await api('POST', '/v1/decide', decideBody('access', `ghost-${i}@example.com`));
  const after = await scrape();
  expect(num(after, 'tether_decision_log_dropped_total', { allow: 'false' }) - num(mid, 'tether_decision_log_dropped_total', { allow: 'false' })).toBeGreaterThanOrEqual(19);
  expect(val(after, 'tether_decision_log_buffered')).toBeLessThanOrEqual(10);
});
