// The Decider over a real SQLite store and the shipped policies compiled by our compiler: answers,
// alias resolution, read-your-writes (devices, apps), batches, metrics, decision log, and failing
// closed when the engine is missing, errors, returns nothing or garbage, or the store is closed.
import { PassThrough } from 'node:stream';
import { Metrics } from '../../src/api/metrics';
import { compile } from '../../src/compiler';
import { Decider } from '../../src/engine/decider';
import { DecisionLog } from '../../src/engine/decision-log';
import { loadEngine } from '../../src/engine/engine';
import { openSqliteStore } from '../../src/state/store';
import type { StateStore } from '../../src/state/store';
import { shippedEngine, TestEngines } from '../policies/shipped-policies';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

const NOW = Date.parse('2026-03-01T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const HOUR = 3600_000;
const DAY = 24 * HOUR;

let store: StateStore;
let engines: TestEngines;

function seed(s: StateStore): void {
  s.putIdentity('alice', { status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: iso(30 * DAY) });
  s.putDevice('mac-1', { owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: iso(HOUR) });
}

beforeAll(async () => {
  engines = new TestEngines(await shippedEngine());
});

beforeEach(() => {
  store = openSqliteStore({ path: ':memory:', now: () => new Date(NOW) });
  seed(store);
});

afterEach(() => store.close());

const body = (extra: Record<string, unknown> = {}) => ({ action: 'access', subject: 'alice', device: 'mac-1', resource: { app: 'email' }, ...extra });

test('a healthy identity on its healthy device is allowed, with id and revision', () => {
  const d = new Decider({ store, engines, now: () => NOW });
  const r = d.decide(body());
  expect(r).toMatchObject({ allow: true, limited: false, reasons: [], obligations: [], lifecycle: 'healthy', exception: null, policy_revision: 'test-revision' });
  expect(r.decision_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(d.decide(body()).decision_id).not.toBe(r.decision_id);
});

test('the subject may be any alias and the device owner an alias', () => {
  const d = new Decider({ store, engines, now: () => NOW });
  expect(d.decide(body({ subject: 'ALICE@example.com' })).allow).toBe(true);
});

test('a decision after a write already sees it (read-your-writes)', () => {
  const d = new Decider({ store, engines, now: () => NOW });
  expect(d.decide(body()).allow).toBe(true);
  store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: false, encrypted: true, observed_at: iso(HOUR - 1000) });
  const r = d.decide(body());
  expect(r.allow).toBe(false);
  expect(r.reasons).toEqual(['device_not_compliant']);
  expect(r.lifecycle).toBe('active_noncompliant');
});

test('apps stored through the catalog are policy data at once', () => {
  const d = new Decider({ store, engines, now: () => NOW });
  expect(d.decide(body({ resource: { app: 'crm' } })).reasons).toEqual(['app_unknown']);
  store.putApp('crm', { sensitivity: 'high' });
  expect(d.decide(body({ resource: { app: 'crm' } })).allow).toBe(true);
  // A stored app overrides the shipped entry: email raised to high needs encryption.
  store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: false, observed_at: iso(HOUR - 1) });
  expect(d.decide(body()).allow).toBe(true);
  store.putApp('email', { sensitivity: 'high' });
  expect(d.decide(body()).reasons).toEqual(['device_not_encrypted']);
});

test('a hot-swapped engine gets the stored apps too', async () => {
  const own = new TestEngines(await shippedEngine());
  const d = new Decider({ store, engines: own, now: () => NOW });
  store.putApp('crm', { sensitivity: 'moderate' });
  expect(d.decide(body({ resource: { app: 'crm' } })).allow).toBe(true);
  own.engine = await shippedEngine();
  expect(d.decide(body({ resource: { app: 'crm' } })).allow).toBe(true);
});

test('time is passed in: the same state goes stale as the clock moves', () => {
  let now = NOW;
  const d = new Decider({ store, engines, now: () => now });
  expect(d.decide(body()).allow).toBe(true);
  now = NOW + 4 * DAY;
  expect(d.decide(body()).reasons).toEqual(['device_state_stale']);
});

test('batches answer in order at one instant', () => {
  const d = new Decider({ store, engines, now: () => NOW });
  const rs = d.decideBatch([body(), body({ subject: 'nobody' }), body({ device: 'ghost' })]);
  expect(rs.map((r) => r.reasons)).toEqual([[], ['identity_unknown'], ['device_unknown']]);
});

test('decisions are counted in metrics and written to the decision log', async () => {
  const metrics = new Metrics();
  const sink = new PassThrough();
  const out: string[] = [];
  sink.on('data', (c) => out.push(String(c)));
  const log = new DecisionLog({ sink });
  const d = new Decider({ store, engines, now: () => NOW, metrics, log });
  const allowed = d.decide(body());
  d.decide(body({ subject: 'nobody' }));
  await log.flush();
  const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines[0]).toMatchObject({ decision_id: allowed.decision_id, action: 'access', subject: 'alice', device: 'mac-1', app: 'email', allow: true, reasons: [], revision: 'test-revision' });
  expect(typeof lines[0].duration).toBe('number');
  expect(lines[1]).toMatchObject({ allow: false, reasons: ['identity_unknown'] });
  const text = await metrics.text();
  expect(text).toMatch(/tether_decisions_total\{action="access",allow="false",reason="identity_unknown"\} 1/);
  expect(text).toMatch(/tether_decision_duration_seconds_count\{action="access"\} 2/);
});

describe('fails closed', () => {
  async function engineFor(rego: string) {
    const r = await compile({ files: [{ name: 'p.rego', text: rego }], entrypoints: ['tether/decision'] });
    if (!r.ok) throw new Error('test policy does not compile');
    return loadEngine(r.wasm!, { revision: 'bad' });
  }

  test('no engine loaded → policy_error', () => {
    const d = new Decider({ store, engines: new TestEngines(undefined), now: () => NOW });
    expect(d.decide(body())).toMatchObject({ allow: false, reasons: ['policy_error'], lifecycle: 'unknown' });
  });

  test('a policy that raises an evaluation error → policy_error', async () => {
    const e = await engineFor('package tether\nimport rego.v1\ndecision := 1 if input.action\ndecision := 2 if input.subject\n');
    const d = new Decider({ store, engines: new TestEngines(e), now: () => NOW });
    expect(d.decide(body())).toMatchObject({ allow: false, reasons: ['policy_error'], policy_revision: 'bad' });
  });

  test('an undefined decision → policy_error', async () => {
    const e = await engineFor('package tether\nimport rego.v1\ndecision := {"allow": true, "reasons": []} if input.nothing\n');
    const d = new Decider({ store, engines: new TestEngines(e), now: () => NOW });
    expect(d.decide(body())).toMatchObject({ allow: false, reasons: ['policy_error'] });
  });

  test('a malformed decision (allow not a boolean) → policy_error', async () => {
    const e = await engineFor('package tether\nimport rego.v1\ndecision := {"allow": "yes", "reasons": []}\n');
    const d = new Decider({ store, engines: new TestEngines(e), now: () => NOW });
    expect(d.decide(body())).toMatchObject({ allow: false, reasons: ['policy_error'] });
  });

  test('a deny without reasons still says why', async () => {
    const e = await engineFor('package tether\nimport rego.v1\ndecision := {"allow": false, "reasons": []}\n');
    const d = new Decider({ store, engines: new TestEngines(e), now: () => NOW });
    expect(d.decide(body())).toMatchObject({ allow: false, reasons: ['policy_error'] });
  });

  test('an unreadable store → state_unavailable', () => {
    const d = new Decider({ store, engines, now: () => NOW });
    store.close();
    expect(d.decide(body())).toMatchObject({ allow: false, reasons: ['state_unavailable'] });
  });
});

describe('data paths (OPA Data API)', () => {
  test('tether/decision composes the input from the store; client-supplied state is ignored', () => {
    const d = new Decider({ store, engines, now: () => NOW });
    const r = d.evaluatePath('tether/decision', body());
    expect(r.defined).toBe(true);
    expect(r.result).toMatchObject({ allow: true, reasons: [] });
    const spoof = d.evaluatePath('tether/decision', { action: 'access', subject: { id: 'eve', status: 'active' }, app: 'email' });
    expect(spoof.result).toMatchObject({ allow: false, reasons: ['identity_unknown'] });
  });

  test('other rules, base data, values inside a rule, and undefined paths', () => {
    const d = new Decider({ store, engines, now: () => NOW });
    expect(d.evaluatePath('tether/lifecycle/state', body()).result).toBe('healthy');
    expect(d.evaluatePath('tether/decision/allow', body()).result).toBe(true);
    expect(d.evaluatePath('config/max_age_ns/high', undefined).result).toBe(86400000000000);
    store.putApp('crm', { sensitivity: 'low' });
    expect(d.evaluatePath('apps/crm', undefined).result).toEqual({ sensitivity: 'low' });
    expect(d.evaluatePath('tether/identity', body()).result).toMatchObject({ known: true, active: true, tier: 'standard' });
    expect(d.evaluatePath('no/such/path', undefined).defined).toBe(false);
    expect(d.evaluatePath('tether/decision/nope', body()).defined).toBe(false);
  });
});
