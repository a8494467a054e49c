// decision-model.md rule by rule over HTTP, on an injected clock: state written through the state
// routes, decisions asked through POST /v1/decide, lifecycle read through /v1/lifecycle, revocation /
// lifecycle events received by a real webhook subscriber. Covers what test/policies/http-decisions
// leaves open: exact boundaries (max ages, grace end, tolerance end, exception and break-glass expiry,
// clock skew), mixed reasons, the lifecycle states and every revocation trigger of §4 and README 17,
// and fail-closed answers of §5. `test.failing` marks contract gaps (see the report of this matrix).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { createContext, createLogger } from '../../src/api/context';
import { routeModules } from '../../src/api/routes';
import { loadConfig } from '../../src/config';
import { Decider } from '../../src/engine/decider';
import type { PolicyEngine } from '../../src/engine/types';
import { LifecycleService } from '../../src/lifecycle/service';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { shippedData, shippedEngine, TestEngines } from '../policies/shipped-policies';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

const TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const SECRET = 'whsec-0123456789abcdef';
const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Config = { max_age_ns: Record<string, number>; enrollment_grace_ns: number; provisioned_tolerance_ns: number; max_clock_skew_ns: number; ownership_limits: Record<string, string> };
const config = shippedData().config as Config;
const MAX_AGE = (level: string) => config.max_age_ns[level] / 1e6;
const GRACE = config.enrollment_grace_ns / 1e6;
const TOLERANCE = config.provisioned_tolerance_ns / 1e6;
const SKEW = config.max_clock_skew_ns / 1e6;

interface DecisionBody {
  allow: boolean;
  reasons: string[];
  limited: boolean;
  obligations: string[];
  lifecycle: string;
  exception: { id: string; [k: string]: unknown } | null;
  decision_id: string;
  policy_revision: string;
}
interface Event {
  type: string;
  identity: string | null;
  reason: string;
  reasons: string[];
  [k: string]: unknown;
}

// ---- the server under test, rebuilt per test on the test clock -------------------------------------

let now = T0;
let engine: PolicyEngine;
let dir: string;
let store: StateStore;
let engines: TestEngines;
let decider: Decider;
let lifecycle: LifecycleService;
let app: http.RequestListener;

// A webhook receiver shared by the file; `got` holds what it received.
let receiver: http.Server;
let hook: string;
const got: Event[] = [];

function build(data: unknown = shippedData()): void {
  now = T0;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-matrix-'));
  const cfg = { ...loadConfig({ TETHER_DATA_DIR: dir, TETHER_DECISION_LOG: 'off' }), apiToken: TOKEN };
  store = openSqliteStore({ path: ':memory:', now: () => new Date(now) });
  const ctx = createContext({ config: cfg, store, logger: createLogger('silent') });
  engines = new TestEngines(engine, data);
  // Wired as startDecisions wires them, on the test clock (lifecycle timers started only where a test says so).
  let l: LifecycleService | undefined;
  decider = new Decider({ store, engines, now: () => now, statusSince: (id) => l?.statusSince(id) });
  l = new LifecycleService({ store, engine: () => decider.engine(), policyData: () => engines.baseData(), now: () => now, deadlineMs: 10, outbox: { pollMs: 10, baseDelayMs: 10 } });
  lifecycle = l;
  ctx.decider = decider;
  ctx.lifecycle = lifecycle;
  ctx.outbox = lifecycle.outbox;
  app = createApp(ctx, routeModules.filter((m) => ['state', 'decide', 'lifecycle', 'subscriptions'].includes(m.name)));
  got.length = 0;
}

async function teardown(): Promise<void> {
  await lifecycle.stop();
  decider.close();
  if (store.isOpen) store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

beforeAll(async () => {
  engine = await shippedEngine();
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push(JSON.parse(Buffer.concat(chunks).toString()) as Event);
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
});
afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
});
beforeEach(async () => {
  build();
  await putIdentity('alice', { status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: iso(T0 - 30 * DAY) });
  await putDevice('mac-1', device());
});
afterEach(() => teardown());

// ---- helpers ------------------------------------------------------------------------------------------

const iso = (ms: number) => new Date(ms).toISOString();

function device(fields: Record<string, unknown> = {}) {
  return { owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: iso(now - HOUR), ...fields };
}

async function call(method: 'put' | 'post' | 'delete', url: string, body?: unknown): Promise<request.Response> {
  const req = request(app)[method](url).set(auth);
  const res = body === undefined ? await req : await req.send(body as object);
  if (res.status >= 300) throw new Error(`${method.toUpperCase()} ${url} → ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}
const putIdentity = (id: string, body: Record<string, unknown>) => call('put', `/v1/identities/${id}`, body);
/** A device write; pass `observed_at` newer than the stored one (the store refuses older check-ins). */
const putDevice = (id: string, body: Record<string, unknown>) => call('put', `/v1/devices/${id}`, body);

/** A newer check-in of mac-1 (one second later on the test clock) with `fields` changed. */
async function checkIn(fields: Record<string, unknown>): Promise<void> {
  now += 1000;
  await putDevice('mac-1', device({ observed_at: iso(now), ...fields }));
}

async function decide(body: Record<string, unknown> = {}): Promise<DecisionBody> {
  const res = await request(app).post('/v1/decide').send({ action: 'access', subject: 'alice', device: 'mac-1', resource: { app: 'email' }, ...body });
  expect(res.status).toBe(200);
  return res.body as DecisionBody;
}

async function lifecycleOf(id: string) {
  const res = await request(app).get(`/v1/lifecycle/${id}`).set(auth).expect(200);
  return res.body as { state: string; drift: boolean; kind: string | null; reasons: string[]; since: string };
}

async function driftReport() {
  const res = await request(app).get('/v1/lifecycle/drift').set(auth).expect(200);
  return (res.body.identities as Array<{ identity: string; state: string; kind: string; reasons: string[]; since: string }>).map((r) => [r.identity, r.state, r.kind, r.reasons]);
}

async function subscribe(events: string[]): Promise<void> {
  await call('post', '/v1/subscriptions', { url: hook, secret: SECRET, events });
}

/** Delivers what is queued (and re-derives what writes marked) and returns the events received since the last call. */
async function received(): Promise<Event[]> {
  lifecycle.flushRefresh();
  await lifecycle.outbox.flush();
  return got.splice(0);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

const exception = (fields: Record<string, unknown> = {}) => ({
  identity: 'alice@example.com',
  waives: ['device_not_compliant'],
  scope: { apps: ['email'] },
  reason: 'laptop in repair',
  approved_by: 'boss',
  expires_at: iso(now + DAY),
  ...fields,
});

// ---- rule 1: identity ------------------------------------------------------------------------------------

describe('rule 1: no active identity, no access', () => {
  test.each(['provisioned', 'suspended', 'deprovisioned'])('identity_not_active (%s) on access, token and entitle; device posture not evaluated', async (status) => {
    await checkIn({ compliant: false, encrypted: false });
    await putIdentity('alice', { status, aliases: ['alice@example.com'] });
    for (const action of ['access', 'token', 'entitle']) {
      expect(await decide({ action, resource: { app: 'payroll' } })).toMatchObject({ allow: false, reasons: ['identity_not_active'], limited: false, obligations: [], exception: null });
    }
  });

  test('identity_unknown with app_unknown: both reported; identity_not_active with app_unknown: both reported', async () => {
    expect((await decide({ subject: 'mallory', resource: { app: 'nope' } })).reasons).toEqual(['app_unknown', 'identity_unknown']);
    await putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
    expect((await decide({ resource: { app: 'nope' } })).reasons).toEqual(['app_unknown', 'identity_not_active']);
  });

  test('activate for an unknown identity: identity_unknown only', async () => {
    expect(await decide({ action: 'activate', subject: 'mallory' })).toMatchObject({ allow: false, reasons: ['identity_unknown'], lifecycle: 'unknown' });
  });
});

// ---- rule 2: activate ------------------------------------------------------------------------------------

describe('rule 2: activate', () => {
  beforeEach(async () => {
    await putIdentity('newbie', { status: 'provisioned', proofed: true });
  });

  test('a device exactly at the moderate max age qualifies; 1 ms older → no_compliant_device', async () => {
    await putDevice('nb-1', device({ owner: 'newbie', observed_at: iso(T0) }));
    now = T0 + MAX_AGE('moderate');
    expect(await decide({ action: 'activate', subject: 'newbie' })).toMatchObject({ allow: true, reasons: [], lifecycle: 'ready_for_activation' });
    now += 1;
    expect(await decide({ action: 'activate', subject: 'newbie' })).toMatchObject({ allow: false, reasons: ['no_compliant_device'] });
  });

  test('high/privileged tiers: the high max age', async () => {
    await putIdentity('newbie', { status: 'provisioned', proofed: true, risk_tier: 'high' });
    await putDevice('nb-1', device({ owner: 'newbie', observed_at: iso(T0) }));
    now = T0 + MAX_AGE('high');
    expect((await decide({ action: 'activate', subject: 'newbie' })).allow).toBe(true);
    now += 1;
    expect((await decide({ action: 'activate', subject: 'newbie' })).reasons).toEqual(['no_compliant_device']);
  });

  test('ownership limits do not apply; exceptions do not lift no_compliant_device', async () => {
    await putDevice('nb-1', device({ owner: 'newbie', ownership: 'byod' }));
    expect((await decide({ action: 'activate', subject: 'newbie' })).allow).toBe(true);
    await putDevice('nb-1', device({ owner: 'newbie', ownership: 'byod', compliant: false, observed_at: iso(now - HOUR + 1000) }));
    await call('post', '/v1/exceptions', exception({ identity: 'newbie', scope: { max_sensitivity: 'high' } }));
    expect(await decide({ action: 'activate', subject: 'newbie' })).toMatchObject({ allow: false, reasons: ['no_compliant_device'], exception: null, obligations: [] });
  });
});

// ---- rule 3: gates per sensitivity ------------------------------------------------------------------------

describe('rule 3: device posture by sensitivity', () => {
  test('high risk tier: hard gate on a low app (encryption, high max age, ownership limit)', async () => {
    await putIdentity('alice', { status: 'active', risk_tier: 'high', aliases: ['alice@example.com'] });
    await checkIn({ encrypted: false });
    expect((await decide({ resource: { app: 'wiki' } })).reasons).toEqual(['device_not_encrypted']);
    await checkIn({ ownership: 'byod' });
    expect((await decide({ resource: { app: 'wiki' } })).reasons).toEqual(['device_ownership_not_allowed']);
    await checkIn({ ownership: 'contractor' });
    expect((await decide({ resource: { app: 'email' } })).reasons).toEqual(['device_ownership_not_allowed']);
    await putDevice('old-1', device({ observed_at: iso(now - 30 * HOUR) }));
    expect((await decide({ device: 'old-1', resource: { app: 'wiki' } })).reasons).toEqual(['device_state_stale']);
  });

  test('every failed device condition is listed at once, sorted', async () => {
    await putIdentity('bob', { status: 'active' });
    await putDevice('bob-1', device({ owner: 'bob', enrolled: false, compliant: false, encrypted: false, ownership: 'byod', observed_at: iso(now - 2 * DAY) }));
    expect((await decide({ device: 'bob-1', resource: { app: 'payroll' } })).reasons).toEqual([
      'device_not_compliant',
      'device_not_encrypted',
      'device_not_enrolled',
      'device_not_owned_by_subject',
      'device_ownership_not_allowed',
      'device_state_stale',
    ]);
  });

  test('ownership exactly at its limit is allowed: byod on low, contractor on moderate, corporate on high', async () => {
    await checkIn({ ownership: 'byod' });
    expect((await decide({ resource: { app: 'wiki' } })).allow).toBe(true);
    await checkIn({ ownership: 'contractor' });
    expect((await decide({ resource: { app: 'email' } })).allow).toBe(true);
    await checkIn({ ownership: 'corporate' });
    expect((await decide({ resource: { app: 'payroll' } })).allow).toBe(true);
  });

  test('ownership limits come from policy data (rule 5: configurable)', async () => {
    await teardown();
    const base = shippedData();
    build({ ...base, config: { ...(base.config as object), ownership_limits: { ...config.ownership_limits, byod: 'moderate' } } });
    await putIdentity('alice', { status: 'active', activated_at: iso(T0 - 30 * DAY) });
    await putDevice('mac-1', device({ owner: 'alice', ownership: 'byod' }));
    expect((await decide({})).allow).toBe(true);
    expect((await decide({ resource: { app: 'payroll' } })).reasons).toEqual(['device_ownership_not_allowed']);
  });
});

describe('rule 3, low apps: enrollment grace', () => {
  test('exactly at the grace end still allowed, limited; 1 ms later device_missing; lifecycle follows', async () => {
    await putIdentity('fresh', { status: 'active' }); // activated_at = now (T0)
    now = T0 + GRACE;
    expect(await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).toMatchObject({ allow: true, limited: true, reasons: ['enrollment_pending'], lifecycle: 'active_in_grace' });
    expect((await lifecycleOf('fresh')).state).toBe('active_in_grace');
    now += 1;
    expect(await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).toMatchObject({ allow: false, limited: false, reasons: ['device_missing'], lifecycle: 'active_unenrolled' });
    expect(await lifecycleOf('fresh')).toMatchObject({ state: 'active_unenrolled', drift: true, kind: 'drift', reasons: ['no_enrolled_device'] });
  });

  test('the grace ends as soon as the identity owns an enrolled device (then moderate rules, low max age)', async () => {
    await putIdentity('fresh', { status: 'active' });
    expect((await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).reasons).toEqual(['enrollment_pending']);
    await putDevice('fr-1', device({ owner: 'fresh', compliant: false, observed_at: iso(now - 5 * DAY) }));
    expect(await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).toMatchObject({ allow: false, limited: false, reasons: ['device_missing'] });
    expect((await decide({ subject: 'fresh', device: 'fr-1', resource: { app: 'wiki' } })).reasons).toEqual(['device_not_compliant']);
    await putDevice('fr-1', device({ owner: 'fresh', observed_at: iso(now - 5 * DAY + 1000) }));
    expect(await decide({ subject: 'fresh', device: 'fr-1', resource: { app: 'wiki' } })).toMatchObject({ allow: true, limited: false, reasons: [] });
  });

  test('hard-gated identities get no grace; an active identity without activated_at gets none either', async () => {
    await putIdentity('vip', { status: 'active', risk_tier: 'privileged' });
    expect((await decide({ subject: 'vip', device: undefined, resource: { app: 'wiki' } })).reasons).toEqual(['device_missing']);
    await putIdentity('legacy', { status: 'active', activated_at: null });
    expect((await decide({ subject: 'legacy', device: undefined, resource: { app: 'wiki' } })).reasons).toEqual(['device_missing']);
  });

  test('a soft-gated decision uses no exception', async () => {
    await putIdentity('fresh', { status: 'active', aliases: ['fresh@example.com'] });
    await call('post', '/v1/exceptions', exception({ identity: 'fresh', waives: ['device_missing'], scope: { apps: ['wiki'] } }));
    expect(await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).toMatchObject({ allow: true, limited: true, reasons: ['enrollment_pending'], exception: null, obligations: [] });
  });
});

// ---- rule 4: freshness --------------------------------------------------------------------------------------

describe('rule 4: freshness', () => {
  test('exactly at the max age of the sensitivity fresh, 1 ms past it device_state_stale', async () => {
    await checkIn({ observed_at: iso(T0 + 1000) });
    const checkedIn = T0 + 1000;
    for (const [app_, level] of [['payroll', 'high'], ['email', 'moderate'], ['wiki', 'low']]) {
      now = checkedIn + MAX_AGE(level);
      expect(await decide({ resource: { app: app_ } })).toMatchObject({ allow: true, reasons: [] });
      now += 1;
      expect(await decide({ resource: { app: app_ } })).toMatchObject({ allow: false, reasons: ['device_state_stale'] });
    }
  });

  test('a device record without observed_at is stale (missing state fails closed)', async () => {
    await putDevice('nots-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true });
    expect((await decide({ device: 'nots-1', resource: { app: 'wiki' } })).reasons).toEqual(['device_state_stale']);
  });

  test('stale and not compliant: both reported', async () => {
    await putDevice('old-1', device({ compliant: false, observed_at: iso(now - 4 * DAY) }));
    expect((await decide({ device: 'old-1' })).reasons).toEqual(['device_not_compliant', 'device_state_stale']);
  });

  test('clock skew: a check-in or activated_at up to max_clock_skew ahead is trusted, further ahead is not', async () => {
    await putDevice('ahead-1', device({ observed_at: iso(T0 + SKEW) }));
    await putIdentity('fresh', { status: 'active', activated_at: iso(T0 + SKEW) });
    expect((await decide({ device: 'ahead-1', resource: { app: 'payroll' } })).allow).toBe(true);
    expect((await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).reasons).toEqual(['enrollment_pending']);
    now = T0 - 1; // the server clock stepped back: both times are now further ahead than the skew
    expect((await decide({ device: 'ahead-1', resource: { app: 'wiki' } })).reasons).toEqual(['device_state_stale']);
    expect((await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).reasons).toEqual(['device_missing']);
  });
});

// ---- rule 6: exceptions ---------------------------------------------------------------------------------------

describe('rule 6: exceptions', () => {
  // Per waivable code: a state raising exactly it (and the request asking for it).
  const raising: Array<[string, () => Promise<Record<string, unknown>>]> = [
    ['device_missing', async () => ({ device: undefined })],
    ['device_unknown', async () => ({ device: 'ghost' })],
    ['device_not_owned_by_subject', async () => {
      await putIdentity('bob', { status: 'active' });
      await putDevice('bob-1', device({ owner: 'bob' }));
      return { device: 'bob-1' };
    }],
    ['device_not_enrolled', async () => (await checkIn({ enrolled: false }), {})],
    ['device_not_compliant', async () => (await checkIn({ compliant: false }), {})],
    ['device_not_encrypted', async () => (await checkIn({ encrypted: false }), { resource: { app: 'payroll' } })],
    ['device_state_stale', async () => (await putDevice('old-1', device({ observed_at: iso(now - 4 * DAY) })), { device: 'old-1' })],
    ['device_ownership_not_allowed', async () => (await checkIn({ ownership: 'byod' }), {})],
  ];

  test.each(raising)('an exception waiving %s lifts exactly it, is named, adds exception_used', async (code, setup) => {
    const req = await setup();
    expect((await decide(req)).reasons).toEqual([code]);
    const created = await call('post', '/v1/exceptions', exception({ waives: [code], scope: { max_sensitivity: 'high' } }));
    const r = await decide(req);
    expect(r).toMatchObject({ allow: true, reasons: [], obligations: ['exception_used'] });
    expect(r.exception).toMatchObject({ id: created.body.id, identity: 'alice', waives: [code] });
  });

  test('named, with exception_used, even when other reasons still deny', async () => {
    await putDevice('old-1', device({ compliant: false, observed_at: iso(now - 4 * DAY) }));
    const created = await call('post', '/v1/exceptions', exception());
    const r = await decide({ device: 'old-1' });
    expect(r).toMatchObject({ allow: false, reasons: ['device_state_stale'], obligations: ['exception_used'] });
    expect(r.exception?.id).toBe(created.body.id);
  });

  test('expiry: lifts until its last instant; at exactly expires_at it is ignored', async () => {
    await checkIn({ compliant: false });
    await call('post', '/v1/exceptions', exception({ expires_at: iso(now + HOUR) }));
    const expires = now + HOUR;
    now = expires - 1;
    expect((await decide({})).allow).toBe(true);
    now = expires;
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['device_not_compliant'], exception: null, obligations: [] });
  });

  test('the one lifting the most reasons is used; a tie goes to the smallest id', async () => {
    await checkIn({ compliant: false, enrolled: false });
    const one = await call('post', '/v1/exceptions', exception());
    const two = await call('post', '/v1/exceptions', exception({ waives: ['device_not_compliant', 'device_not_enrolled'] }));
    expect((await decide({})).exception?.id).toBe(two.body.id);
    await checkIn({ compliant: false });
    expect((await decide({})).exception?.id).toBe([one.body.id, two.body.id].sort()[0]);
  });

  test('admin apps count as high for a max_sensitivity scope', async () => {
    await checkIn({ compliant: false });
    await call('post', '/v1/exceptions', exception({ scope: { max_sensitivity: 'moderate' } }));
    expect(await decide({ resource: { app: 'admin-console' } })).toMatchObject({ reasons: ['device_not_compliant'], exception: null });
    expect((await decide({})).allow).toBe(true); // email: moderate
  });

  test('§1: expires_at at most the configured maximum (72 h): exactly 72 h accepted, 1 ms more refused naming /expires_at', async () => {
    await call('post', '/v1/exceptions', exception({ expires_at: iso(now + 72 * HOUR) }));
    const res = await request(app).post('/v1/exceptions').set(auth).send(exception({ expires_at: iso(now + 72 * HOUR + 1) })).expect(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['/expires_at']);
  });
});

// ---- rule 7: break-glass -----------------------------------------------------------------------------------------

describe('rule 7: break-glass', () => {
  beforeEach(async () => {
    await putIdentity('bg', { status: 'active', type: 'break_glass' });
  });
  const bg = (body: Record<string, unknown> = {}) => decide({ subject: 'bg', device: undefined, resource: { app: 'payroll' }, ...body });

  test('open from opened_at until just before expires_at; at expires_at break_glass_inactive; alert every time', async () => {
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    expect(await bg()).toMatchObject({ allow: true, reasons: [], obligations: ['alert'], lifecycle: 'active_exempt' });
    now = T0 + 30 * MINUTE - 1;
    expect((await bg()).allow).toBe(true);
    now = T0 + 30 * MINUTE;
    expect(await bg()).toMatchObject({ allow: false, reasons: ['break_glass_inactive'], obligations: ['alert'] });
  });

  test('inside the window device rules are skipped, even for a bad device named', async () => {
    await putDevice('bg-1', device({ owner: 'bg', compliant: false, enrolled: false, ownership: 'byod', observed_at: iso(now - 30 * DAY) }));
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    expect(await bg({ device: 'bg-1' })).toMatchObject({ allow: true, reasons: [], obligations: ['alert'] });
  });

  test('a break-glass identity that is not active: identity_not_active (with alert) even inside the window', async () => {
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    await putIdentity('bg', { status: 'suspended', type: 'break_glass' });
    expect(await bg()).toMatchObject({ allow: false, reasons: ['identity_not_active'], obligations: ['alert'] });
  });

  test('unknown app: inside the window app_unknown; outside, app_unknown and break_glass_inactive', async () => {
    expect(await bg({ resource: { app: 'nope' } })).toMatchObject({ reasons: ['app_unknown', 'break_glass_inactive'], obligations: ['alert'] });
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    expect(await bg({ resource: { app: 'nope' } })).toMatchObject({ reasons: ['app_unknown'], obligations: ['alert'] });
  });

  test('a window is ignored once the identity is no longer of type break_glass', async () => {
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    await putIdentity('bg', { status: 'active', type: 'employee' });
    expect(await bg()).toMatchObject({ allow: false, reasons: ['device_missing'], obligations: [] });
  });

  // README choice 9: "Every decision about a break-glass identity carries obligation alert, allowed or not".
  test('an activate decision about a break-glass identity carries alert', async () => {
    await putIdentity('bg2', { status: 'provisioned', type: 'break_glass', proofed: true });
    await putDevice('bg2-1', device({ owner: 'bg2' }));
    const r = await decide({ action: 'activate', subject: 'bg2', device: undefined, resource: undefined });
    expect(r.allow).toBe(true);
    expect(r.obligations).toEqual(['alert']);
  });
});

// ---- rule 8: service identities ------------------------------------------------------------------------------------

describe('rule 8: service identities', () => {
  test('not active: identity_not_active only; active: device ignored even a bad one; unknown app: app_unknown only', async () => {
    await putIdentity('svc', { status: 'suspended', type: 'service' });
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'ci' } })).reasons).toEqual(['identity_not_active']);
    await putIdentity('svc', { status: 'active', type: 'service', risk_tier: 'privileged' });
    await putDevice('svc-1', device({ owner: 'svc', compliant: false, enrolled: false, ownership: 'byod', observed_at: iso(now - 30 * DAY) }));
    expect(await decide({ subject: 'svc', device: 'svc-1', resource: { app: 'ci' } })).toMatchObject({ allow: true, reasons: [], obligations: [], lifecycle: 'active_exempt' });
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'nope' } })).reasons).toEqual(['app_unknown']);
  });
});

// ---- §3 lifecycle states --------------------------------------------------------------------------------------------

describe('§3 lifecycle states over /v1/lifecycle', () => {
  test('pending → ready_for_activation (a ready_for_activation event)', async () => {
    await subscribe(['ready_for_activation', 'drift']);
    await putIdentity('newbie', { status: 'provisioned', proofed: true });
    expect(await lifecycleOf('newbie')).toMatchObject({ state: 'pending', drift: false, kind: null, reasons: [] });
    await putDevice('nb-1', device({ owner: 'newbie' }));
    expect(await lifecycleOf('newbie')).toMatchObject({ state: 'ready_for_activation', drift: false });
    expect((await received()).map((e) => [e.type, e.identity])).toEqual([['ready_for_activation', 'newbie']]);
  });

  test('provisioned with a non-qualifying enrolled device: pending at exactly the tolerance, enrolled_not_active 1 ms later (drift)', async () => {
    await subscribe(['drift']);
    await putIdentity('newbie', { status: 'provisioned', proofed: false });
    await putDevice('nb-1', device({ owner: 'newbie' }));
    now = T0 + TOLERANCE;
    expect((await lifecycleOf('newbie')).state).toBe('pending');
    now += 1;
    expect(await lifecycleOf('newbie')).toMatchObject({ state: 'enrolled_not_active', drift: true, kind: 'drift', reasons: ['onboarding_incomplete'] });
    expect(await driftReport()).toContainEqual(['newbie', 'enrolled_not_active', 'drift', ['onboarding_incomplete']]);
    expect((await received()).filter((e) => e.identity === 'newbie').map((e) => [e.type, e.state, e.reasons])).toEqual([['drift', 'enrolled_not_active', ['onboarding_incomplete']]]);
  });

  test('suspended: enrolled_not_active with an enrolled device, suspended without; deprovisioned without: offboarded', async () => {
    await putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
    expect(await lifecycleOf('alice')).toMatchObject({ state: 'enrolled_not_active', drift: true, kind: 'drift', reasons: ['offboarding_incomplete'] });
    await checkIn({ enrolled: false });
    expect(await lifecycleOf('alice')).toMatchObject({ state: 'suspended', drift: false, kind: null, reasons: [] });
    await putIdentity('alice', { status: 'deprovisioned', aliases: ['alice@example.com'] });
    expect(await lifecycleOf('alice')).toMatchObject({ state: 'offboarded', drift: false, kind: null, reasons: [] });
    expect(await driftReport()).toEqual([]);
  });

  test('active_noncompliant is listed with kind risk; healthy again once one device qualifies', async () => {
    await checkIn({ compliant: false });
    expect(await lifecycleOf('alice')).toMatchObject({ state: 'active_noncompliant', drift: true, kind: 'risk', reasons: ['no_compliant_device'] });
    expect(await driftReport()).toEqual([['alice', 'active_noncompliant', 'risk', ['no_compliant_device']]]);
    await putDevice('mac-2', device());
    expect(await lifecycleOf('alice')).toMatchObject({ state: 'healthy', drift: false });
    expect(await driftReport()).toEqual([]);
  });
});

// ---- §4 revocation triggers --------------------------------------------------------------------------------------------

describe('§4 revocation: one event per write, to webhook subscribers, and read-your-writes decisions', () => {
  beforeEach(async () => {
    await subscribe(['revocation']);
  });
  const revocations = async () => (await received()).filter((e) => e.type === 'revocation').map((e) => ({ identity: e.identity, reasons: e.reasons }));

  test.each<[string, Record<string, unknown>, string[], string[]]>([
    ['device_not_enrolled', { enrolled: false }, ['device_not_enrolled'], ['device_not_enrolled']],
    ['device_not_compliant', { compliant: false }, ['device_not_compliant'], ['device_not_compliant']],
    ['device_not_encrypted', { encrypted: false }, ['device_not_encrypted'], []], // email needs no encryption
    ['device_ownership_changed', { ownership: 'byod' }, ['device_ownership_changed'], ['device_ownership_not_allowed']],
    ['two at once', { enrolled: false, compliant: false }, ['device_not_enrolled', 'device_not_compliant'], ['device_not_compliant', 'device_not_enrolled']],
  ])('device write (%s)', async (_name, change, reasons, denied) => {
    await checkIn(change);
    expect(await revocations()).toEqual([{ identity: 'alice', reasons }]);
    expect((await decide({})).reasons).toEqual(denied);
  });

  test('device_owner_changed (revocation for the previous owner) and device_deleted', async () => {
    await putIdentity('bob', { status: 'active' });
    await checkIn({ owner: 'bob' });
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['device_owner_changed'] }]);
    expect((await decide({})).reasons).toEqual(['device_not_owned_by_subject']);
    await call('delete', '/v1/devices/mac-1');
    expect(await revocations()).toEqual([{ identity: 'bob', reasons: ['device_deleted'] }]);
    expect((await decide({ subject: 'bob' })).reasons).toEqual(['device_unknown']);
  });

  test('identity_not_active, identity_risk_raised, identity_type_changed, identity_deleted', async () => {
    await putIdentity('alice', { status: 'active', risk_tier: 'high', aliases: ['alice@example.com'] });
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['identity_risk_raised'] }]);
    await putIdentity('alice', { status: 'active', risk_tier: 'high', type: 'contractor', aliases: ['alice@example.com'] });
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['identity_type_changed'] }]);
    await putIdentity('alice', { status: 'suspended', risk_tier: 'privileged', type: 'service', aliases: ['alice@example.com'] });
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['identity_not_active', 'identity_risk_raised', 'identity_type_changed'] }]);
    expect((await decide({})).reasons).toEqual(['identity_not_active']);
    await call('delete', '/v1/identities/alice');
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['identity_deleted'] }]);
    expect((await decide({})).reasons).toEqual(['identity_unknown']);
  });

  test('exception_ended (deleted while valid) and exception_expired (found by the deadline timer)', async () => {
    await checkIn({ compliant: false });
    await revocations();
    const e1 = await call('post', '/v1/exceptions', exception());
    await call('delete', `/v1/exceptions/${e1.body.id}`);
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['exception_ended'] }]);
    expect((await decide({})).reasons).toEqual(['device_not_compliant']);
    await call('post', '/v1/exceptions', exception({ expires_at: iso(now + HOUR) }));
    expect((await decide({})).allow).toBe(true);
    lifecycle.start();
    now += HOUR;
    await until(() => got.some((e) => e.reason === 'exception_expired'));
    expect(await revocations()).toEqual([{ identity: 'alice', reasons: ['exception_expired'] }]);
    expect((await decide({})).reasons).toEqual(['device_not_compliant']);
  });

  test('break_glass_ended (closed) and break_glass_expired (found by the deadline timer)', async () => {
    await putIdentity('bg', { status: 'active', type: 'break_glass' });
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    await call('delete', '/v1/break-glass/bg');
    expect(await revocations()).toEqual([{ identity: 'bg', reasons: ['break_glass_ended'] }]);
    expect((await decide({ subject: 'bg', device: undefined })).reasons).toEqual(['break_glass_inactive']);
    await call('post', '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    lifecycle.start();
    now += 30 * MINUTE;
    await until(() => got.some((e) => e.reason === 'break_glass_expired'));
    expect(await revocations()).toEqual([{ identity: 'bg', reasons: ['break_glass_expired'] }]);
    expect((await decide({ subject: 'bg', device: undefined })).reasons).toEqual(['break_glass_inactive']);
  });

  test('app_sensitivity_raised, app_service_disallowed, app_deleted (identity null)', async () => {
    await putIdentity('svc', { status: 'active', type: 'service' });
    await call('put', '/v1/apps/crm', { sensitivity: 'low', allow_service: true });
    await checkIn({ encrypted: false });
    await revocations();
    await call('put', '/v1/apps/crm', { sensitivity: 'high' });
    expect(await revocations()).toEqual([{ identity: null, reasons: ['app_sensitivity_raised', 'app_service_disallowed'] }]);
    expect((await decide({ resource: { app: 'crm' } })).reasons).toEqual(['device_not_encrypted']);
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'crm' } })).reasons).toEqual(['service_not_allowed']);
    await call('delete', '/v1/apps/crm');
    expect(await revocations()).toEqual([{ identity: null, reasons: ['app_deleted'] }]);
    expect((await decide({ resource: { app: 'crm' } })).reasons).toEqual(['app_unknown']);
  });

  // §4 "Any change that removes access is a revocation trigger". A stored app replaces the shipped entry
  // of the same id (README 15), so tightening a shipped app is judged against the shipped entry.
  test('a stored app tightening a shipped one (wiki low → high, ci losing allow_service) is a revocation', async () => {
    await putIdentity('svc', { status: 'active', type: 'service' });
    await checkIn({ encrypted: false });
    await revocations();
    expect((await decide({ resource: { app: 'wiki' } })).allow).toBe(true);
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'ci' } })).allow).toBe(true);
    await call('put', '/v1/apps/wiki', { sensitivity: 'high' });
    await call('put', '/v1/apps/ci', { sensitivity: 'moderate' });
    expect((await decide({ resource: { app: 'wiki' } })).reasons).toEqual(['device_not_encrypted']);
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'ci' } })).reasons).toEqual(['service_not_allowed']);
    const events = (await received()).filter((e) => e.type === 'revocation');
    expect(events.map((e) => ({ identity: e.identity, reasons: e.reasons, record: e.record, app: e.app })).sort((a, b) => (a.app as string).localeCompare(b.app as string))).toEqual([
      { identity: null, reasons: ['app_service_disallowed'], record: { kind: 'app', id: 'ci' }, app: 'ci' },
      { identity: null, reasons: ['app_sensitivity_raised'], record: { kind: 'app', id: 'wiki' }, app: 'wiki' },
    ]);
  });

  // The enrollment grace ending takes away the limited access of enrollment_pending: a revocation
  // (besides the drift event of active_unenrolled), once, from the recheck at the grace deadline.
  test('the enrollment grace ending (limited access removed) is a revocation', async () => {
    await call('post', '/v1/subscriptions', { url: hook, secret: SECRET, events: ['drift'] });
    await putIdentity('fresh', { status: 'active' });
    expect((await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).allow).toBe(true);
    lifecycle.start();
    now = T0 + GRACE + 10;
    await until(() => got.filter((e) => e.identity === 'fresh').length >= 2);
    const fresh = (await received()).filter((e) => e.identity === 'fresh');
    expect(fresh.map((e) => [e.type, e.reasons, e.state, e.previous_state]).sort()).toEqual([
      ['drift', ['no_enrolled_device'], 'active_unenrolled', 'active_in_grace'],
      ['revocation', ['enrollment_grace_ended'], 'active_unenrolled', 'active_in_grace'],
    ]);
    expect(fresh.find((e) => e.type === 'revocation')).toMatchObject({ reason: 'enrollment_grace_ended', record: { kind: 'identity', id: 'fresh' }, activated_at: iso(T0), grace_ended_at: iso(T0 + GRACE) });
    expect((await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } })).reasons).toEqual(['device_missing']);
    // Once: later rechecks and a full sweep add nothing.
    now += DAY;
    await lifecycle.sweep();
    expect(await received()).toEqual([]);
  });
});

// ---- §5 fail closed --------------------------------------------------------------------------------------------------------

describe('§5 fail closed', () => {
  const stub = (evaluate: PolicyEngine['evaluate']): PolicyEngine => ({ revision: 'stub', entrypoints: ['tether/decision'], evaluate, setData: () => undefined });

  test('an evaluation error → deny policy_error', async () => {
    engines.engine = stub(() => {
      throw Object.assign(new Error('conflicting rules'), { code: 'eval_conflict_error' });
    });
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['policy_error'], limited: false, obligations: [], exception: null });
  });

  test.each<[string, unknown]>([
    ['undefined', undefined],
    ['not an object', 'allow'],
    ['allow not boolean', { allow: 'true', reasons: [] }],
    ['reasons not strings', { allow: true, reasons: [1] }],
  ])('a malformed tether.decision (%s) → deny policy_error', async (_name, result) => {
    engines.engine = stub(() => (result === undefined ? [] : [{ result }]));
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['policy_error'] });
  });

  test('a deny with an empty reason list gets policy_error', async () => {
    engines.engine = stub(() => [{ result: { allow: false, reasons: [], limited: false, obligations: [], lifecycle: 'healthy', exception: null } }]);
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['policy_error'] });
  });

  test('an unreadable store → deny state_unavailable', async () => {
    expect((await decide({})).allow).toBe(true);
    await lifecycle.stop();
    store.close();
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['state_unavailable'] });
  });
});
