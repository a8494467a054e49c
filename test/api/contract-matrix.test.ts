// api.md route by route, through the real app (every router of api.md's routes, the shipped policies, an
// in-memory store): the cases the other suites leave out. (a) success shapes, (b) 400 invalid_input naming
// every bad field with nothing stored, (c) 401 for a missing, wrong or wrong-kind token, (d) 409
// stale_update changing nothing, plus 413, 415, 404, 405 and 503 with api.md's error body. "Nothing stored" is
// always proven by reading the whole store back (snapshot before and after).
import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { AppContext } from '../../src/api/context';
import { routeModules } from '../../src/api/routes';
import { startDecisions } from '../../src/lifecycle/module';
import type { LifecycleService } from '../../src/lifecycle/service';
import type { StateStore } from '../../src/state/store';
import { shippedEngine, TestEngines } from '../policies/shipped-policies';
import { auth, makeApp, storeSnapshot, TOKEN } from './helpers';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

const DECISION_TOKEN = 'test-decision-token-0123456789';
const MODULES = new Set(['health', 'state', 'decide', 'lifecycle', 'subscriptions', 'policies']);

const HOUR = 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const future = (hours: number) => new Date(Date.now() + hours * HOUR).toISOString();
const NEXT_YEAR = () => future(365 * 24);

interface T {
  app: ReturnType<typeof createApp>;
  ctx: AppContext;
  store: StateStore;
  exceptionId: string;
  lifecycle: LifecycleService;
}

let open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open) await close();
  open = [];
});

/** The app with every router api.md's routes live in, seeded with one record of each kind. */
async function setup(env: Record<string, string> = {}, opts: { decider?: boolean } = {}): Promise<T> {
  const { ctx, store } = makeApp({ TETHER_BODY_LIMIT: '4kb', TETHER_DECISION_LOG: 'off', TETHER_DECISION_TOKEN: DECISION_TOKEN, ...env });
  let stop = async () => undefined as void;
  let lifecycle = undefined as unknown as LifecycleService;
  if (opts.decider !== false) {
    const started = startDecisions(ctx, new TestEngines(await shippedEngine()), { start: false });
    lifecycle = started.lifecycle;
    stop = async () => {
      await started.lifecycle.stop();
      started.decider.close();
    };
  }
  const app = createApp(ctx, routeModules.filter((m) => MODULES.has(m.name)));
  open.push(async () => {
    await stop();
    store.close();
  });
  store.putIdentity('alice', { status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: ago(30 * 24 * HOUR), observed_at: ago(2 * HOUR), version: 5 });
  store.putIdentity('bg-admin', { status: 'active', type: 'break_glass' });
  store.putDevice('mac-1', { owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: ago(HOUR), version: 3 });
  store.putApp('crm', { sensitivity: 'high', version: 2 });
  const exc = store.createException({ identity: 'alice', waives: ['device_not_compliant'], scope: { apps: ['crm'] }, reason: 'repair', approved_by: 'it', expires_at: future(24) });
  store.openBreakGlass('bg-admin', { minutes: 30, reason: 'outage', approved_by: 'ciso' });
  store.putSubscription({ id: 'sub-1', url: 'https://hooks.example.com/t', secret: 'whsec-0123456789abcdef', events: ['revocation'] });
  return { app, ctx, store, exceptionId: exc.id, lifecycle };
}


// Everything the store holds, with the seeded break-glass windows, for "nothing changed".
const snapshot = (store: StateStore): string => storeSnapshot(store, ['bg-admin', 'alice']);

/** api.md's error body: {code, message, errors?}, JSON, no stack; for 400 the exact set of bad fields. */
function expectError(res: request.Response, status: number, code: string, paths?: string[]): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.message.length).toBeGreaterThan(0);
  expect(res.text).not.toMatch(/\n\s+at /);
  if (paths) {
    expect(Array.isArray(res.body.errors)).toBe(true);
    for (const e of res.body.errors) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
    expect([...new Set(res.body.errors.map((e: { path: string }) => e.path))].sort()).toEqual([...paths].sort());
  }
}

type Method = 'get' | 'put' | 'post' | 'delete' | 'patch';
interface Call {
  method: Method;
  path: string;
  body?: unknown;
  type?: string;
}

function send(t: T, c: Call, headers: Record<string, string> = {}): request.Test {
  const path = c.path.replace('{exc}', t.exceptionId);
  let r = (request(t.app) as unknown as Record<Method, (p: string) => request.Test>)[c.method](path);
  for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
  if (c.body === undefined) return r;
  if (c.type) r = r.set('Content-Type', c.type);
  return r.send(c.body as object);
}

const decideBody = { action: 'access', subject: 'alice@example.com', device: 'mac-1', resource: { app: 'email' } };
const ndjson = (...lines: object[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
const NDJSON = 'application/x-ndjson';

// ------------------------------------------------------------------------------------------------ (c)

// Every route that writes state or reads admin data (api.md "Running": TETHER_API_TOKEN).
const ADMIN: Call[] = [
  { method: 'put', path: '/v1/identities/zed', body: { status: 'active' } },
  { method: 'get', path: '/v1/identities/alice' },
  { method: 'delete', path: '/v1/identities/alice' },
  { method: 'get', path: '/v1/identities' },
  { method: 'put', path: '/v1/devices/dz', body: { owner: 'alice', ownership: 'corporate' } },
  { method: 'get', path: '/v1/devices/mac-1' },
  { method: 'delete', path: '/v1/devices/mac-1' },
  { method: 'get', path: '/v1/devices' },
  { method: 'post', path: '/v1/state/import', body: ndjson({ kind: 'identity', record: { id: 'imp', status: 'active' } }), type: NDJSON },
  { method: 'post', path: '/v1/exceptions', body: { identity: 'alice', waives: ['device_missing'], scope: { apps: ['crm'] }, reason: 'r', approved_by: 'a', expires_at: future(1) } },
  { method: 'get', path: '/v1/exceptions' },
  { method: 'get', path: '/v1/exceptions/{exc}' },
  { method: 'delete', path: '/v1/exceptions/{exc}' },
  { method: 'post', path: '/v1/break-glass/bg-admin', body: { minutes: 5, reason: 'r', approved_by: 'a' } },
  { method: 'get', path: '/v1/break-glass/bg-admin' },
  { method: 'delete', path: '/v1/break-glass/bg-admin' },
  { method: 'put', path: '/v1/apps/zapp', body: { sensitivity: 'low' } },
  { method: 'get', path: '/v1/apps' },
  { method: 'get', path: '/v1/apps/crm' },
  { method: 'delete', path: '/v1/apps/crm' },
  { method: 'get', path: '/v1/lifecycle/alice' },
  { method: 'get', path: '/v1/lifecycle/drift' },
  { method: 'post', path: '/v1/subscriptions', body: { url: 'https://hooks.example.com/new', secret: 'whsec-0123456789abcdef', events: ['drift'] } },
  { method: 'get', path: '/v1/subscriptions' },
  { method: 'get', path: '/v1/subscriptions/sub-1' },
  { method: 'delete', path: '/v1/subscriptions/sub-1' },
  { method: 'get', path: '/v1/policies' },
  { method: 'post', path: '/v1/policies/reload' },
];

describe('(c) admin routes: the API token only', () => {
  test.each(ADMIN.map((c) => [c.method.toUpperCase(), c.path, c] as const))(
    '%s %s: missing, wrong, non-Bearer or decision token → 401 unauthorized, nothing changed; the API token passes',
    async (_m, _p, c) => {
      const t = await setup();
      const before = snapshot(t.store);
      for (const header of [undefined, 'Bearer wrong-token', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, `Bearer ${DECISION_TOKEN}`, `Bearer ${TOKEN}x`]) {
        const r = await send(t, c, header ? { Authorization: header } : {});
        expectError(r, 401, 'unauthorized');
        expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
      }
      expect(snapshot(t.store)).toBe(before);
      const ok = await send(t, c, auth);
      // /v1/policies* answer 503 not_ready here (no policy service in this app; tested in policies.test.ts).
      if (c.path.startsWith('/v1/policies')) expectError(ok, 503, 'not_ready');
      else expect(ok.status).toBeLessThan(300);
    },
  );
});

// Decision routes (api.md "Decisions"): TETHER_DECISION_TOKEN when set (Tether also takes the API token); open when unset.
const DECISION: Call[] = [
  { method: 'post', path: '/v1/decide', body: decideBody },
  { method: 'post', path: '/v1/decide/batch', body: { requests: [decideBody, { ...decideBody, subject: 'nobody' }] } },
  { method: 'post', path: '/v1/data/tether/decision', body: { input: decideBody } },
  { method: 'get', path: `/v1/data/tether/decision?input=${encodeURIComponent(JSON.stringify(decideBody))}` },
];

describe('(c) decision routes: the decision token', () => {
  test.each(DECISION.map((c) => [c.method.toUpperCase(), c.path.split('?')[0], c] as const))(
    '%s %s: 401 without or with a wrong token; 200 with the decision or the API token; open when no decision token is set',
    async (_m, _p, c) => {
      const t = await setup();
      for (const header of [undefined, 'Bearer wrong-token', `Basic ${Buffer.from(`x:${DECISION_TOKEN}`).toString('base64')}`]) {
        const r = await send(t, c, header ? { Authorization: header } : {});
        expectError(r, 401, 'unauthorized');
        expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
      }
      expect((await send(t, c, { Authorization: `Bearer ${DECISION_TOKEN}` })).status).toBe(200);
      expect((await send(t, c, auth)).status).toBe(200);
      const sidecar = await setup({ TETHER_DECISION_TOKEN: '' });
      expect(sidecar.ctx.config.decisionToken).toBeFalsy();
      expect((await send(sidecar, c)).status).toBe(200);
    },
  );

  test.each(DECISION.filter((c) => c.method === 'post').map((c) => [c.path] as const))(
    'POST %s without the token: 401 before the body is read (malformed, not JSON, oversized)',
    async (path) => {
      const t = await setup();
      for (const [type, body] of [['application/json', '{bad'], ['text/plain', 'hello'], ['application/json', JSON.stringify({ big: 'x'.repeat(64 * 1024) })]]) {
        const r = await request(t.app).post(path).set('Content-Type', type).send(body);
        expectError(r, 401, 'unauthorized');
      }
    },
  );

  test('/health, /health/ready and /metrics take no token (open, as OPA\'s), also with a decision token set', async () => {
    const t = await setup();
    await request(t.app).get('/health').expect(200, { status: 'ok' });
    expect([200, 503]).toContain((await request(t.app).get('/health/ready')).status);
    expect((await request(t.app).get('/metrics')).status).toBe(200);
  });
});

// ------------------------------------------------------------------------------------------------ (a)

describe('(a) success shapes not proven elsewhere', () => {
  test('GET /v1/identities and /v1/devices list with next_cursor; ?owner= takes an alias', async () => {
    const t = await setup();
    const ids = await request(t.app).get('/v1/identities?limit=1').set(auth).expect(200);
    expect(ids.body).toEqual({ identities: [expect.objectContaining({ id: 'alice', version: 5, updated_at: expect.any(String) })], next_cursor: 'alice' });
    const next = await request(t.app).get('/v1/identities?after=alice').set(auth).expect(200);
    expect(next.body.identities.map((i: { id: string }) => i.id)).toEqual(['bg-admin']);
    const devs = await request(t.app).get('/v1/devices?owner=ALICE@example.com').set(auth).expect(200);
    expect(devs.body).toEqual({ devices: [expect.objectContaining({ id: 'mac-1', owner: 'alice', version: 3 })], next_cursor: null });
  });

  test('GET /v1/identities/{id} and /v1/devices/{id}: the stored record with version and updated_at', async () => {
    const t = await setup();
    const i = await request(t.app).get('/v1/identities/alice').set(auth).expect(200);
    expect(i.body).toEqual(expect.objectContaining({ id: 'alice', status: 'active', type: 'employee', risk_tier: 'standard', proofed: true, aliases: ['alice@example.com'], activated_at: expect.any(String), version: 5, updated_at: expect.any(String) }));
    const d = await request(t.app).get('/v1/devices/mac-1').set(auth).expect(200);
    expect(d.body).toEqual(expect.objectContaining({ id: 'mac-1', owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: expect.any(String), version: 3, updated_at: expect.any(String) }));
  });

  test('DELETE /v1/devices/{id}?version=N (newer) → 204; the device is gone; an older re-PUT is then 409', async () => {
    const t = await setup();
    await request(t.app).delete('/v1/devices/mac-1?version=4').set(auth).expect(204);
    expect(t.store.getDevice('mac-1')).toBeUndefined();
    await request(t.app).get('/v1/devices/mac-1').set(auth).expect(404);
    const before = snapshot(t.store);
    expectError(await request(t.app).put('/v1/devices/mac-1').set(auth).send({ owner: 'alice', ownership: 'corporate', version: 4 }), 409, 'stale_update');
    expect(snapshot(t.store)).toBe(before);
  });

  test('GET /v1/exceptions/{id}, GET /v1/break-glass/{identity}, GET and DELETE /v1/apps/{id}', async () => {
    const t = await setup();
    const e = await request(t.app).get(`/v1/exceptions/${t.exceptionId}`).set(auth).expect(200);
    expect(e.body).toEqual({ id: t.exceptionId, identity: 'alice', waives: ['device_not_compliant'], scope: { apps: ['crm'] }, reason: 'repair', approved_by: 'it', created_at: expect.any(String), expires_at: expect.any(String) });
    const list = await request(t.app).get('/v1/exceptions').set(auth).expect(200);
    expect(list.body).toEqual({ exceptions: [e.body] });
    const bg = await request(t.app).get('/v1/break-glass/bg-admin').set(auth).expect(200);
    expect(bg.body).toEqual({ identity: 'bg-admin', opened_at: expect.any(String), expires_at: expect.any(String), minutes: 30, reason: 'outage', approved_by: 'ciso', active: true });
    const app = await request(t.app).get('/v1/apps/crm').set(auth).expect(200);
    expect(app.body).toEqual({ id: 'crm', sensitivity: 'high', version: 2, updated_at: expect.any(String) });
    await request(t.app).delete('/v1/apps/crm').set(auth).expect(204);
    expect(t.store.getApp('crm')).toBeUndefined();
  });

  test('PUT /v1/apps/{id} answers the stored entry (201 then 200) and GET /v1/apps lists it with its source', async () => {
    const t = await setup();
    const c = await request(t.app).put('/v1/apps/wiki').set(auth).send({ sensitivity: 'low', allow_service: true }).expect(201);
    expect(c.body).toEqual({ id: 'wiki', sensitivity: 'low', allow_service: true, version: 1, updated_at: expect.any(String) });
    const u = await request(t.app).put('/v1/apps/wiki').set(auth).send({ sensitivity: 'moderate', admin: false }).expect(200);
    expect(u.body).toMatchObject({ id: 'wiki', sensitivity: 'moderate', admin: false, version: 2 });
    const l = await request(t.app).get('/v1/apps').set(auth).expect(200);
    expect(l.body.apps.find((a: { id: string }) => a.id === 'wiki')).toEqual({ ...u.body, source: 'store' });
    expect(l.body.apps.find((a: { id: string }) => a.id === 'crm')).toMatchObject({ sensitivity: 'high', source: 'store' });
  });

  test('POST /v1/decide/batch answers {results} in order, each with every field of a /v1/decide answer', async () => {
    const t = await setup();
    const one = await request(t.app).post('/v1/decide').send(decideBody).set('Authorization', `Bearer ${DECISION_TOKEN}`).expect(200);
    const keys = Object.keys(one.body).sort();
    expect(keys).toEqual(['allow', 'decision_id', 'exception', 'lifecycle', 'limited', 'obligations', 'policy_revision', 'reasons']);
    const b = await request(t.app).post('/v1/decide/batch').set('Authorization', `Bearer ${DECISION_TOKEN}`)
      .send({ requests: [decideBody, { ...decideBody, subject: 'nobody' }, { action: 'activate', subject: 'alice' }] }).expect(200);
    expect(Object.keys(b.body)).toEqual(['results']);
    expect(b.body.results).toHaveLength(3);
    for (const r of b.body.results) expect(Object.keys(r).sort()).toEqual(keys);
    expect(b.body.results.map((r: { allow: boolean; reasons: string[] }) => [r.allow, r.reasons])).toEqual([[true, []], [false, ['identity_unknown']], [false, ['identity_not_provisioned']]]);
  });

  test('POST /v1/subscriptions answers 201 with id, url and events (never the secret)', async () => {
    const t = await setup();
    const r = await request(t.app).post('/v1/subscriptions').set(auth).send({ url: 'https://hooks.example.com/x', secret: 'whsec-0123456789abcdef', events: ['ready_for_activation'] }).expect(201);
    expect(r.body).toEqual({ id: expect.any(String), url: 'https://hooks.example.com/x', events: ['ready_for_activation'], created_at: expect.any(String) });
  });
});

// ------------------------------------------------------------------------------------------------ (b)

interface BadCase extends Call {
  name: string;
  paths: string[];
  decision?: boolean;
}

const BAD: BadCase[] = [
  // identities
  { name: 'identity: enum, type and format errors', method: 'put', path: '/v1/identities/bob', body: { status: 'on', risk_tier: 'max', activated_at: 'soon', version: -1, aliases: [''] }, paths: ['/activated_at', '/aliases/0', '/risk_tier', '/status', '/version'] },
  { name: 'identity: body id differs from the path, and a bad status', method: 'put', path: '/v1/identities/bob', body: { id: 'carol', status: 'on' }, paths: ['/id', '/status'] },
  { name: 'identity: observed_at and activated_at ahead of the clock, and a bad status', method: 'put', path: '/v1/identities/bob', body: { status: 'x', observed_at: NEXT_YEAR(), activated_at: NEXT_YEAR() }, paths: ['/activated_at', '/observed_at', '/status'] },
  { name: 'identity: an over-long path id', method: 'put', path: `/v1/identities/${'x'.repeat(300)}`, body: { status: 'active' }, paths: ['/id'] },
  { name: 'identity: a body that is not an object', method: 'put', path: '/v1/identities/bob', body: '[1]', type: 'application/json', paths: [''] },
  { name: 'identity: malformed JSON', method: 'put', path: '/v1/identities/bob', body: '{"status":', type: 'application/json', paths: [''] },
  { name: 'identity: DELETE ?version not a number', method: 'delete', path: '/v1/identities/alice?version=abc', paths: ['/query/version'] },
  { name: 'identities: list query', method: 'get', path: '/v1/identities?limit=x&after=' + 'a'.repeat(300), paths: ['/query/after', '/query/limit'] },
  // devices
  { name: 'device: missing required fields', method: 'put', path: '/v1/devices/d9', body: {}, paths: ['/owner', '/ownership'] },
  { name: 'device: bad fields and observed_at ahead of the clock', method: 'put', path: '/v1/devices/d9', body: { owner: 'alice', enrolled: 'yes', ownership: 'stolen', observed_at: NEXT_YEAR() }, paths: ['/enrolled', '/observed_at', '/ownership'] },
  { name: 'device: body id differs from the path, and a bad owner', method: 'put', path: '/v1/devices/d9', body: { id: 'd8', owner: '', ownership: 'corporate' }, paths: ['/id', '/owner'] },
  { name: 'device: DELETE ?version negative', method: 'delete', path: '/v1/devices/mac-1?version=-1', paths: ['/query/version'] },
  { name: 'devices: list query', method: 'get', path: '/v1/devices?limit=x&owner=', paths: ['/query/limit', '/query/owner'] },
  // exceptions
  { name: 'exception: schema errors together with an unknown identity and expires_at beyond the maximum', method: 'post', path: '/v1/exceptions', body: { identity: 'nobody', waives: ['identity_not_active'], scope: {}, reason: '', approved_by: 'x', expires_at: future(100) }, paths: ['/expires_at', '/identity', '/reason', '/scope', '/waives/0'] },
  { name: 'exception: a missing field together with expires_at in the past', method: 'post', path: '/v1/exceptions', body: { identity: 'alice', waives: ['device_missing'], scope: { apps: ['crm'] }, reason: 'r', expires_at: future(-1) }, paths: ['/approved_by', '/expires_at'] },
  { name: 'exceptions: list query', method: 'get', path: '/v1/exceptions?include_expired=maybe&identity=', paths: ['/query/identity', '/query/include_expired'] },
  // break-glass
  { name: 'break-glass: minutes beyond the maximum and missing fields', method: 'post', path: '/v1/break-glass/bg-admin', body: { minutes: 241 }, paths: ['/approved_by', '/minutes', '/reason'] },
  { name: 'break-glass: wrong types and an unknown field', method: 'post', path: '/v1/break-glass/bg-admin', body: { minutes: '5', reason: '', approved_by: 'a', extra: 1 }, paths: ['/extra', '/minutes', '/reason'] },
  { name: 'break-glass: a non-break_glass identity and a bad field', method: 'post', path: '/v1/break-glass/alice', body: { minutes: 5, reason: '', approved_by: 'a' }, paths: ['/identity', '/reason'] },
  // apps
  { name: 'app: bad fields and a body id differing from the path', method: 'put', path: '/v1/apps/zz', body: { id: 'yy', sensitivity: 'extreme', admin: 'no' }, paths: ['/admin', '/id', '/sensitivity'] },
  // subscriptions
  { name: 'subscription: every field bad', method: 'post', path: '/v1/subscriptions', body: { url: 'ftp://x', events: [] }, paths: ['/events', '/secret', '/url'] },
  { name: 'subscription: credentials in the url, and a short secret', method: 'post', path: '/v1/subscriptions', body: { url: 'https://u:p@hooks.example.com/x', secret: 'short', events: ['revocation'] }, paths: ['/secret', '/url'] },
  // decisions (nothing to store: the store must not change either)
  { name: 'decide: every field bad', method: 'post', path: '/v1/decide', body: { action: 'fly', subject: '', device: 7, context: 'x' }, paths: ['/action', '/context', '/device', '/subject'], decision: true },
  { name: 'decide: an app action without resource.app', method: 'post', path: '/v1/decide', body: { action: 'access', subject: 'alice', resource: { app: '' } }, paths: ['/resource/app'], decision: true },
  { name: 'decide: malformed JSON', method: 'post', path: '/v1/decide', body: '{"action":', type: 'application/json', paths: [''], decision: true },
  { name: 'batch: bad items, each named', method: 'post', path: '/v1/decide/batch', body: { requests: [decideBody, { action: 'x' }, { ...decideBody, device: 1 }] }, paths: ['/requests/1/action', '/requests/1/subject', '/requests/2/device'], decision: true },
  { name: 'batch: requests not an array', method: 'post', path: '/v1/decide/batch', body: { requests: 'x' }, paths: ['/requests'], decision: true },
  { name: 'batch: requests missing', method: 'post', path: '/v1/decide/batch', body: {}, paths: ['/requests'], decision: true },
  { name: 'batch: more than 100 requests', method: 'post', path: '/v1/decide/batch', body: { requests: Array(101).fill({ action: 'activate', subject: 'a' }) }, paths: ['/requests'], decision: true },
  { name: 'data API: a body that is not an object', method: 'post', path: '/v1/data/tether/decision', body: '[1]', type: 'application/json', paths: [''], decision: true },
  { name: 'data API: ?input= not JSON', method: 'get', path: '/v1/data/tether/decision?input=%7Bnope', paths: ['/input'], decision: true },
];

describe('(b) 400 invalid_input names every bad field; nothing stored', () => {
  test.each(BAD.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const t = await setup({ TETHER_BODY_LIMIT: '64kb' });
    const before = snapshot(t.store);
    const r = await send(t, c, c.decision ? { Authorization: `Bearer ${DECISION_TOKEN}` } : auth);
    expectError(r, 400, 'invalid_input', c.paths);
    expect(snapshot(t.store)).toBe(before);
  });

  test('POST /v1/state/import: bad lines are named in the answer ({line, code, message}); none of them is stored', async () => {
    const t = await setup();
    const before = snapshot(t.store);
    const body = [
      JSON.stringify({ kind: 'identity', record: { id: 'i1', status: 'on', proofed: 'yes' } }),
      JSON.stringify({ kind: 'device', record: { id: 'd1', ownership: 'stolen' } }),
      JSON.stringify({ kind: 'group', record: { id: 'g' }, extra: 1 }),
      '{nope',
      JSON.stringify({ kind: 'identity', record: { id: 'i2', status: 'active', observed_at: NEXT_YEAR() } }),
      JSON.stringify({ kind: 'device', record: { id: 'd2', owner: 'alice', ownership: 'x', observed_at: NEXT_YEAR() } }),
    ].join('\n');
    const r = await request(t.app).post('/v1/state/import').set(auth).set('Content-Type', NDJSON).send(body).expect(200);
    expect(Object.keys(r.body).sort()).toEqual(['errors', 'imported', 'rejected']);
    expect(r.body).toMatchObject({ imported: 0, rejected: 6 });
    expect(r.body.errors.map((e: { line: number; code: string }) => [e.line, e.code])).toEqual([[1, 'invalid_input'], [2, 'invalid_input'], [3, 'invalid_input'], [4, 'invalid_json'], [5, 'invalid_input'], [6, 'invalid_input']]);
    for (const e of r.body.errors) expect(e).toEqual(expect.objectContaining({ line: expect.any(Number), code: expect.any(String), message: expect.any(String) }));
    const named = (i: number) => r.body.errors[i].message;
    expect(named(0)).toMatch(/\/record\/status.*\/record\/proofed|\/record\/proofed.*\/record\/status/);
    expect(named(1)).toMatch(/\/record\/owner/);
    expect(named(1)).toMatch(/\/record\/ownership/);
    expect(named(2)).toMatch(/\/kind.*\/extra|\/extra.*\/kind/);
    expect(named(4)).toMatch(/\/record\/observed_at is in the future/);
    const paths = (i: number) => r.body.errors[i].errors.map((e: { path: string }) => e.path).sort();
    expect(paths(0)).toEqual(['/record/proofed', '/record/status']);
    expect(paths(1)).toEqual(['/record/owner', '/record/ownership']);
    expect(paths(5)).toEqual(['/record/observed_at', '/record/ownership']);
    expect(snapshot(t.store)).toBe(before);
  });
});

// ------------------------------------------------------------------------------------------------ (d)

interface StaleCase extends Call {
  name: string;
  /** Writes done before the stale one (they must succeed). */
  prepare?: Call[];
}

const GONE_AT = ago(HOUR);
const STALE: StaleCase[] = [
  { name: 'PUT identity with an older version', method: 'put', path: '/v1/identities/alice', body: { status: 'suspended', version: 4 } },
  { name: 'PUT identity, same version, older observed_at', method: 'put', path: '/v1/identities/alice', body: { status: 'suspended', version: 5, observed_at: ago(3 * HOUR) } },
  { name: 'PUT identity without version, older observed_at', method: 'put', path: '/v1/identities/alice', body: { status: 'suspended', observed_at: ago(3 * HOUR) } },
  { name: 'DELETE identity with an older version', method: 'delete', path: '/v1/identities/alice?version=4' },
  {
    name: 'PUT identity not newer than its delete (tombstone)', method: 'put', path: '/v1/identities/gone', body: { status: 'active', version: 7 },
    prepare: [{ method: 'put', path: '/v1/identities/gone', body: { status: 'active', version: 6 } }, { method: 'delete', path: '/v1/identities/gone?version=7' }],
  },
  { name: 'PUT device with an older version', method: 'put', path: '/v1/devices/mac-1', body: { owner: 'alice', ownership: 'corporate', compliant: false, version: 2 } },
  { name: 'PUT device, same version, older observed_at', method: 'put', path: '/v1/devices/mac-1', body: { owner: 'alice', ownership: 'corporate', compliant: false, version: 3, observed_at: ago(2 * HOUR) } },
  { name: 'PUT device without version, older observed_at', method: 'put', path: '/v1/devices/mac-1', body: { owner: 'alice', ownership: 'corporate', compliant: false, observed_at: ago(2 * HOUR) } },
  { name: 'DELETE device with an older version', method: 'delete', path: '/v1/devices/mac-1?version=2' },
  {
    name: 'PUT device not newer than its delete (tombstone)', method: 'put', path: '/v1/devices/gone', body: { owner: 'alice', ownership: 'corporate', observed_at: GONE_AT },
    prepare: [{ method: 'put', path: '/v1/devices/gone', body: { owner: 'alice', ownership: 'corporate', observed_at: GONE_AT } }, { method: 'delete', path: '/v1/devices/gone' }],
  },
  { name: 'PUT app with an older version', method: 'put', path: '/v1/apps/crm', body: { sensitivity: 'low', version: 1 } },
];

describe('(d) 409 stale_update changes nothing', () => {
  test.each(STALE.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const t = await setup();
    for (const p of c.prepare ?? []) expect((await send(t, p, auth)).status).toBeLessThan(300);
    const before = snapshot(t.store);
    const r = await send(t, c, auth);
    expectError(r, 409, 'stale_update');
    expect(snapshot(t.store)).toBe(before);
  });

  test('POST /v1/state/import: a stale line is rejected as stale_update and changes nothing; the rest imports', async () => {
    const t = await setup();
    const alice = JSON.stringify(t.store.getIdentity('alice'));
    const mac = JSON.stringify(t.store.getDevice('mac-1'));
    const r = await request(t.app).post('/v1/state/import').set(auth).set('Content-Type', NDJSON).send(ndjson(
      { kind: 'identity', record: { id: 'alice', status: 'suspended', version: 4 } },
      { kind: 'device', record: { id: 'mac-1', owner: 'alice', ownership: 'corporate', observed_at: ago(2 * HOUR) } },
      { kind: 'identity', record: { id: 'new', status: 'active' } },
    )).expect(200);
    expect(r.body).toEqual({ imported: 1, rejected: 2, errors: [
      { line: 1, code: 'stale_update', message: expect.any(String) },
      { line: 2, code: 'stale_update', message: expect.any(String) },
    ] });
    expect(JSON.stringify(t.store.getIdentity('alice'))).toBe(alice);
    expect(JSON.stringify(t.store.getDevice('mac-1'))).toBe(mac);
    expect(t.store.getIdentity('new')).toBeDefined();
  });
});

// ------------------------------------------------------------------------------------- 413 / 415 / 404 / 503

const big = 'x'.repeat(8 * 1024);
const OVERSIZED: Array<Call & { decision?: boolean }> = [
  { method: 'post', path: '/v1/subscriptions', body: { url: 'https://hooks.example.com/x', secret: big, events: ['drift'] } },
  { method: 'post', path: '/v1/decide', body: { ...decideBody, context: { big } }, decision: true },
  { method: 'post', path: '/v1/decide/batch', body: { requests: [{ ...decideBody, context: { big } }] }, decision: true },
  { method: 'post', path: '/v1/data/tether/decision', body: { input: { ...decideBody, context: { big } } }, decision: true },
];

describe('413 payload_too_large (TETHER_BODY_LIMIT) on the JSON routes state-routes.test.ts does not cover', () => {
  test.each(OVERSIZED.map((c) => [c.path, c] as const))('POST %s', async (_p, c) => {
    const t = await setup();
    const before = snapshot(t.store);
    const r = await send(t, c, c.decision ? { Authorization: `Bearer ${DECISION_TOKEN}` } : auth);
    expectError(r, 413, 'payload_too_large');
    expect(snapshot(t.store)).toBe(before);
  });
});

const JSON_ROUTES: Array<Call & { decision?: boolean }> = [
  { method: 'put', path: '/v1/devices/d9', body: 'owner=alice' },
  { method: 'post', path: '/v1/exceptions', body: 'identity=alice' },
  { method: 'post', path: '/v1/break-glass/bg-admin', body: 'minutes=5' },
  { method: 'put', path: '/v1/apps/zz', body: 'sensitivity=low' },
  { method: 'post', path: '/v1/subscriptions', body: 'url=x' },
  { method: 'post', path: '/v1/decide', body: 'action=access', decision: true },
  { method: 'post', path: '/v1/decide/batch', body: 'requests=', decision: true },
];

describe('415 unsupported_media_type for a body that is not JSON; nothing stored', () => {
  test.each(JSON_ROUTES.map((c) => [c.method.toUpperCase(), c.path, c] as const))('%s %s', async (_m, _p, c) => {
    const t = await setup();
    const before = snapshot(t.store);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const r = await send(t, { ...c, type }, c.decision ? { Authorization: `Bearer ${DECISION_TOKEN}` } : auth);
      expectError(r, 415, 'unsupported_media_type');
    }
    expect(snapshot(t.store)).toBe(before);
  });
});

describe('404 not_found', () => {
  test.each([
    ['get', '/v1/identities/nobody'], ['delete', '/v1/identities/nobody'],
    ['get', '/v1/devices/nothing'], ['delete', '/v1/devices/nothing'],
    ['get', '/v1/exceptions/exc_nothing'], ['delete', '/v1/exceptions/exc_nothing'],
    ['get', '/v1/break-glass/alice'], ['delete', '/v1/break-glass/alice'],
    ['post', '/v1/break-glass/nobody'],
    ['get', '/v1/apps/nothing'], ['delete', '/v1/apps/nothing'],
    ['get', '/v1/subscriptions/nothing'], ['delete', '/v1/subscriptions/nothing'],
    ['get', '/v1/lifecycle/nobody'],
  ] as Array<[Method, string]>)('%s %s (unknown record) → 404, nothing changed', async (method, path) => {
    const t = await setup();
    const before = snapshot(t.store);
    const r = await send(t, { method, path, body: method === 'post' ? { minutes: 5, reason: 'r', approved_by: 'a' } : undefined }, auth);
    expectError(r, 404, 'not_found');
    expect(snapshot(t.store)).toBe(before);
  });

  test.each([
    ['get', '/v1/nothing-here'],
    ['delete', '/v1/identities-nothing/alice'],
  ] as Array<[Method, string]>)('%s %s (no such route) → 404 not_found naming it, before any token check; nothing changed', async (method, path) => {
    const t = await setup();
    const before = snapshot(t.store);
    for (const headers of [{}, auth]) {
      const r = await send(t, { method, path, body: method === 'get' ? undefined : { status: 'active' } }, headers);
      expectError(r, 404, 'not_found');
      expect(r.body.message).toBe(`no route for ${method.toUpperCase()} ${path}`);
      expect(r.headers.allow).toBeUndefined();
    }
    expect(snapshot(t.store)).toBe(before);
  });
});

// A path api.md serves, asked with a method it does not take (method-not-allowed.test.ts has every module).
describe('405 method_not_allowed', () => {
  test.each([
    ['post', '/v1/identities', 'GET, HEAD, OPTIONS'],
    ['patch', '/v1/identities/alice', 'DELETE, GET, HEAD, OPTIONS, PUT'],
    ['put', '/v1/exceptions/x', 'DELETE, GET, HEAD, OPTIONS'],
    ['post', '/v1/lifecycle/alice', 'GET, HEAD, OPTIONS'],
    ['put', '/v1/subscriptions/sub-1', 'DELETE, GET, HEAD, OPTIONS'],
  ] as Array<[Method, string, string]>)('%s %s → 405 naming it with Allow: %s, before any token check; nothing changed', async (method, path, allow) => {
    const t = await setup();
    const before = snapshot(t.store);
    for (const headers of [{}, auth]) {
      const r = await send(t, { method, path, body: { status: 'active' } }, headers);
      expectError(r, 405, 'method_not_allowed');
      expect(r.headers.allow).toBe(allow);
      expect(r.body.message).toBe(`${method.toUpperCase()} is not allowed on ${path} (allowed: ${allow})`);
    }
    expect(snapshot(t.store)).toBe(before);
  });
});

describe('503', () => {
  test('decision routes answer 503 not_ready while the decision service is not started', async () => {
    const t = await setup({}, { decider: false });
    for (const c of DECISION) expectError(await send(t, c, { Authorization: `Bearer ${DECISION_TOKEN}` }), 503, 'not_ready');
    expectError(await request(t.app).get('/v1/lifecycle/alice').set(auth), 503, 'not_ready');
    expectError(await request(t.app).get('/v1/lifecycle/drift').set(auth), 503, 'not_ready');
  });

  test('a closed store: writes and reads answer 503 state_unavailable', async () => {
    const t = await setup();
    t.store.close();
    for (const c of [ADMIN[0], ADMIN[1], ADMIN[4], ADMIN[9], ADMIN[13], ADMIN[16], ADMIN[22]])
      expectError(await send(t, c, auth), 503, 'state_unavailable');
  });
});
