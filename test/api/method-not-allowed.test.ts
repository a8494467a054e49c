// A path Tether serves, asked with a method none of its routes takes: 405 method_not_allowed with an Allow
// header read from the routers themselves (direct routes, express routers, mounted routers), through the
// real app with every route module (SCIM, the MDM webhook and the SSF transmitter configured). Unknown
// paths stay 404; the right methods still work; a 405 changes nothing stored; 405 comes before the token
// check except under SCIM, which authenticates first and answers in its own error format.
import fs from 'node:fs';
import { Router } from 'express';
import request from 'supertest';
import { adaptersFor, startAdapters, stopAdapters } from '../../src/adapters';
import { createApp } from '../../src/api/app';
import { directRouteMethods } from '../../src/api/direct/routes';
import { routeModules } from '../../src/api/routes';
import { auth, makeApp, storeSnapshot, tempDir } from './helpers';

const DECISION_TOKEN = 'test-decision-token-0123456789';
const SCIM_TOKEN = 'scim-test-token-0123456789';
const decisionAuth = { Authorization: `Bearer ${DECISION_TOKEN}` };
const scimAuth = { Authorization: `Bearer ${SCIM_TOKEN}` };
const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

type Method = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';

// A decider that answers without compiling policies (the routes, not the decisions, are under test).
const stubDecider = {
  decide: () => ({ decision_id: 'd-1', allow: true, limited: false, reasons: [], obligations: [], lifecycle: 'healthy', exception: null, policy_revision: 'r' }),
  decideBatch: (requests: unknown[]) => requests.map(() => ({ decision_id: 'd-2', allow: true })),
  evaluatePath: () => ({ defined: true, result: 'ok', decision_id: 'd-3' }),
};

let close: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of close.reverse()) await c();
  close = [];
});

/** The real app with every route module, seeded with one record of each kind the paths below name. */
async function setup() {
  const dir = tempDir('tether-405-');
  const { ctx, store } = makeApp({ TETHER_DATA_DIR: dir, TETHER_DECISION_TOKEN: DECISION_TOKEN, TETHER_DECISION_LOG: 'off' });
  adaptersFor(ctx, { TETHER_DATA_DIR: dir, TETHER_SCIM_TOKEN: SCIM_TOKEN, TETHER_MDM_WEBHOOK_SECRET: 'mdm-webhook-secret-0123456789' });
  await startAdapters(ctx);
  ctx.decider = stubDecider;
  const app = createApp(ctx, routeModules);
  close.push(() => fs.rmSync(dir, { recursive: true, force: true }), () => store.close(), () => stopAdapters(ctx));
  store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'], version: 1 });
  store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: new Date().toISOString(), version: 1 });
  store.putSubscription({ id: 'sub-1', url: 'https://hooks.example.com/t', secret: 'whsec-0123456789abcdef', events: ['revocation'] });
  return { app, ctx, store };
}

function call(app: ReturnType<typeof createApp>, method: Method, path: string, headers: Record<string, string> = {}): request.Test {
  let r = (request(app) as unknown as Record<Method, (p: string) => request.Test>)[method](path);
  for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
  return r;
}


// [module, wrong method, path, the Allow header]: a representative path of every module.
const TETHER_ROWS: Array<[string, Method, string, string]> = [
  ['decide (direct route)', 'delete', '/v1/decide', 'POST'],
  ['decide (direct route, any case, trailing slash)', 'get', '/V1/Decide/', 'POST'],
  ['decide batch', 'get', '/v1/decide/batch', 'OPTIONS, POST'],
  ['OPA Data API', 'put', '/v1/data/x', 'GET, OPTIONS, POST'],
  ['OPA Data API (root document)', 'delete', '/v1/data', 'GET, OPTIONS, POST'],
  ['OPA v0 default decision (direct route)', 'get', '/', 'POST'],
  ['OPA v0 webhook (direct prefix route)', 'get', '/v0/data/tether/decision', 'POST'],
  ['Okta token hook (direct route)', 'get', '/v1/hooks/okta/token', 'POST'],
  ['state: identities', 'patch', '/v1/identities/alice', 'DELETE, GET, HEAD, OPTIONS, PUT'],
  ['state: identity list', 'post', '/v1/identities', 'GET, HEAD, OPTIONS'],
  ['state: devices', 'post', '/v1/devices/mac-1', 'DELETE, GET, HEAD, OPTIONS, PUT'],
  ['state: import', 'get', '/v1/state/import', 'OPTIONS, POST'],
  ['state: import', 'delete', '/v1/state/import', 'OPTIONS, POST'],
  ['state: apps', 'delete', '/v1/apps', 'GET, HEAD, OPTIONS'],
  ['exceptions', 'put', '/v1/exceptions', 'GET, HEAD, OPTIONS, POST'],
  ['exceptions', 'patch', '/v1/exceptions/exc_1', 'DELETE, GET, HEAD, OPTIONS'],
  ['break-glass', 'put', '/v1/break-glass/alice', 'DELETE, GET, HEAD, OPTIONS, POST'],
  ['lifecycle: drift', 'patch', '/v1/lifecycle/drift', 'GET, HEAD, OPTIONS'],
  ['lifecycle: identity', 'post', '/v1/lifecycle/alice', 'GET, HEAD, OPTIONS'],
  ['policies', 'delete', '/v1/policies', 'GET, HEAD, OPTIONS'],
  ['policies: reload', 'get', '/v1/policies/reload', 'OPTIONS, POST'],
  ['health', 'post', '/health', 'GET, HEAD, OPTIONS'],
  ['health: ready', 'delete', '/health/ready', 'GET, HEAD, OPTIONS'],
  ['metrics', 'put', '/metrics', 'GET, HEAD, OPTIONS'],
  ['subscriptions', 'patch', '/v1/subscriptions', 'GET, HEAD, OPTIONS, POST'],
  ['subscriptions: one', 'put', '/v1/subscriptions/sub-1', 'DELETE, GET, HEAD, OPTIONS'],
  ['adapters: status', 'delete', '/v1/adapters', 'GET, HEAD, OPTIONS'],
  ['adapters: MDM webhook', 'get', '/v1/adapters/mdm/webhook', 'OPTIONS, POST'],
  ['adapters: SSF transmitter metadata', 'put', '/.well-known/ssf-configuration', 'GET, HEAD, OPTIONS'],
  ['adapters: SSF stream status', 'put', '/ssf/status', 'GET, HEAD, OPTIONS, POST'],
];

// Under /scim/v2: SCIM's own routes, its error schema, its bearer token first.
const SCIM_ROWS: Array<[Method, string, string]> = [
  ['delete', '/scim/v2/Users', 'GET, HEAD, POST'],
  ['post', '/scim/v2/Users/u-1', 'DELETE, GET, HEAD, PATCH, PUT'],
  ['put', '/scim/v2/Groups', 'GET, HEAD, POST'],
  ['put', '/scim/v2/ServiceProviderConfig', 'GET, HEAD'],
];

describe('a wrong method on a path of every module → 405 method_not_allowed with Allow', () => {
  test.each(TETHER_ROWS)('%s: %s %s → Allow: %s (with or without a token: 405 comes first)', async (_module, method, path, allow) => {
    const t = await setup();
    for (const headers of [{}, auth, decisionAuth]) {
      const r = await call(t.app, method, path, headers);
      expect({ status: r.status, allow: r.headers.allow }).toEqual({ status: 405, allow });
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.body).toEqual({ code: 'method_not_allowed', message: `${method.toUpperCase()} is not allowed on ${path} (allowed: ${allow})` });
      expect(r.headers['www-authenticate']).toBeUndefined();
    }
  });

  test.each(SCIM_ROWS)('SCIM: %s %s → 405 in the SCIM error schema, Allow: %s; 401 without the SCIM token', async (method, path, allow) => {
    const t = await setup();
    const r = await call(t.app, method, path, scimAuth);
    expect({ status: r.status, allow: r.headers.allow }).toEqual({ status: 405, allow });
    expect(r.headers['content-type']).toMatch(/^application\/scim\+json/);
    const rel = path.slice('/scim/v2'.length);
    expect(r.body).toEqual({ schemas: [SCIM_ERROR], status: '405', detail: `${method.toUpperCase()} is not allowed on SCIM endpoint ${rel} (allowed: ${allow})` });
    // SCIM authenticates every request first, whatever the method (RFC 7644 §2): a wrong token is 401.
    for (const headers of [{}, auth]) {
      const denied = await call(t.app, method, path, headers);
      expect(denied.status).toBe(401);
      expect(denied.body.schemas).toEqual([SCIM_ERROR]);
      expect(denied.headers.allow).toBeUndefined();
    }
  });

  test('HEAD on the OPA Data API stays 405 (as OPA answers), now with an Allow header that leaves HEAD out', async () => {
    const t = await setup();
    for (const path of ['/v1/data/tether/decision', '/v1/data']) {
      const r = await call(t.app, 'head', path);
      expect({ status: r.status, allow: r.headers.allow }).toEqual({ status: 405, allow: 'GET, OPTIONS, POST' });
    }
  });

  test('OPTIONS on the OPA Data API names the methods it serves: not HEAD, which it refuses', async () => {
    const t = await setup();
    for (const path of ['/v1/data/tether/decision', '/v1/data']) {
      const r = await call(t.app, 'options', path);
      expect({ status: r.status, allow: r.headers.allow }).toEqual({ status: 204, allow: 'GET, OPTIONS, POST' });
    }
  });

  test('a 405 is counted as an unmatched request, never by its raw path', async () => {
    const t = await setup();
    await call(t.app, 'patch', '/v1/identities/some-user-id').expect(405);
    await call(t.app, 'delete', '/v1/decide').expect(405);
    const text = await t.ctx.metrics.text();
    expect(text).toContain('tether_http_requests_total{method="PATCH",route="unmatched",code="405"} 1');
    expect(text).toContain('tether_http_requests_total{method="DELETE",route="unmatched",code="405"} 1');
    expect(text).not.toContain('some-user-id');
  });
});

describe('Allow names only methods that are served', () => {
  // Every listed method reaches a route: its guard (401), its own answer, never "no route" nor 405.
  const paths = new Map([...TETHER_ROWS.map(([, , p, a]) => [p, a] as const), ...SCIM_ROWS.map(([, p, a]) => [p, a] as const)]);
  test.each([...paths])('%s: each of %s', async (path, allow) => {
    const t = await setup();
    const before = storeSnapshot(t.store);
    for (const m of allow.split(', ')) {
      const r = await call(t.app, m.toLowerCase() as Method, path, path.startsWith('/scim/') ? scimAuth : {});
      const what = `${m} ${path}: ${r.status} ${r.text}`;
      expect([what, r.status === 405 || r.body?.code === 'method_not_allowed']).toEqual([what, false]);
      expect([what, /^no (route|SCIM endpoint)/.test(String(r.body?.message ?? r.body?.detail ?? ''))]).toEqual([what, false]);
    }
    expect(storeSnapshot(t.store)).toBe(before);
  });
});

describe('unknown paths stay 404', () => {
  test.each([
    ['get', '/v1/nothing-here'],
    ['post', '/v1/decide/nothing'],
    ['delete', '/v1/identities/alice/extra'],
    ['put', '/v1/lifecycle'],
    ['get', '/healthz'],
  ] as Array<[Method, string]>)('%s %s → 404 not_found, no Allow', async (method, path) => {
    const t = await setup();
    const r = await call(t.app, method, path, auth);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ code: 'not_found', message: `no route for ${method.toUpperCase()} ${path}` });
    expect(r.headers.allow).toBeUndefined();
  });

  test('under SCIM: 404 in the SCIM error schema, no Allow', async () => {
    const t = await setup();
    const r = await call(t.app, 'get', '/scim/v2/Nope', scimAuth);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ schemas: [SCIM_ERROR], status: '404', detail: 'no SCIM endpoint GET /Nope' });
    expect(r.headers.allow).toBeUndefined();
  });

  test('an unknown record on a served path and method is still 404 (not 405)', async () => {
    const t = await setup();
    expect((await call(t.app, 'get', '/v1/identities/nobody', auth)).body.code).toBe('not_found');
    expect((await call(t.app, 'delete', '/v1/subscriptions/nothing', auth)).status).toBe(404);
  });
});

describe('the right method still works', () => {
  test('decisions, the Data API, state, health and metrics', async () => {
    const t = await setup();
    const decide = { action: 'access', subject: 'alice', resource: { app: 'payroll' } };
    expect((await call(t.app, 'post', '/v1/decide', decisionAuth).send(decide).expect(200)).body.decision_id).toBe('d-1');
    expect((await call(t.app, 'post', '/v1/decide/batch', decisionAuth).send({ requests: [decide] }).expect(200)).body.results).toHaveLength(1);
    expect((await call(t.app, 'get', '/v1/data/x', decisionAuth).expect(200)).body).toEqual({ result: 'ok', decision_id: 'd-3' });
    expect((await call(t.app, 'post', '/v1/data/x', decisionAuth).send({ input: {} }).expect(200)).body.result).toBe('ok');
    await call(t.app, 'put', '/v1/identities/bob', auth).send({ status: 'active', version: 1 }).expect(201);
    expect((await call(t.app, 'get', '/v1/identities/bob', auth).expect(200)).body.status).toBe('active');
    await call(t.app, 'delete', '/v1/identities/bob', auth).expect(204);
    await call(t.app, 'get', '/health').expect(200);
    await call(t.app, 'get', '/metrics').expect(200);
    expect((await call(t.app, 'get', '/scim/v2/ServiceProviderConfig', scimAuth).expect(200)).body.schemas).toBeDefined();
  });

  test('OPTIONS on an express route is still answered by express with its methods', async () => {
    const t = await setup();
    const r = await call(t.app, 'options', '/v1/identities/alice').expect(200);
    expect(r.headers.allow).toBe('DELETE, GET, HEAD, PUT');
  });
});

describe('a 405 changes nothing stored', () => {
  test('wrong methods with valid tokens and bodies leave every record as it was', async () => {
    const t = await setup();
    const before = storeSnapshot(t.store);
    const ndjson = JSON.stringify({ kind: 'identity', record: { id: 'zed', status: 'active' } }) + '\n';
    const sends: Array<[Method, string, Record<string, string>, string, string]> = [
      ['delete', '/v1/state/import', auth, 'application/x-ndjson', ndjson],
      ['put', '/v1/state/import', auth, 'application/x-ndjson', ndjson],
      ['patch', '/v1/identities/alice', auth, 'application/json', JSON.stringify({ status: 'suspended', version: 9 })],
      ['post', '/v1/devices/mac-1', auth, 'application/json', JSON.stringify({ owner: 'alice', compliant: false, version: 9 })],
      ['put', '/v1/subscriptions/sub-1', auth, 'application/json', JSON.stringify({ url: 'https://evil.example.com', secret: 'x'.repeat(20), events: ['drift'] })],
      ['put', '/v1/exceptions', auth, 'application/json', '{}'],
      ['put', '/v1/data/x', decisionAuth, 'application/json', JSON.stringify({ input: {} })],
      ['delete', '/v1/decide', decisionAuth, 'application/json', '{}'],
      ['delete', '/scim/v2/Users', scimAuth, 'application/scim+json', '{}'],
      ['post', '/scim/v2/Users/u-1', scimAuth, 'application/scim+json', JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'mallory' })],
    ];
    for (const [method, path, headers, type, body] of sends) {
      const r = await call(t.app, method, path, headers).set('Content-Type', type).send(body);
      expect([method, path, r.status]).toEqual([method, path, 405]);
    }
    expect(storeSnapshot(t.store)).toBe(before);
    expect(t.store.getIdentity('zed')).toBeUndefined();
    expect(t.store.getIdentity('alice')!.status).toBe('active');
  });
});

describe('allowed methods come from the routers themselves', () => {
  test('a module mounted under a path: its routes below the mount, on segment boundaries only', async () => {
    const { ctx, store } = makeApp();
    close.push(() => store.close());
    const ext = { name: 'ext', mount: '/ext', create: () => Router().get('/things/:id', (_q, s) => void s.json({ ok: true })).post('/things', (_q, s) => void s.json({ ok: true })) };
    const app = createApp(ctx, [ext]);
    const r = await request(app).delete('/ext/things/1');
    expect({ status: r.status, allow: r.headers.allow }).toEqual({ status: 405, allow: 'GET, HEAD, OPTIONS' });
    expect((await request(app).put('/ext/things')).headers.allow).toBe('OPTIONS, POST');
    expect((await request(app).delete('/extra/things/1')).status).toBe(404);
    expect((await request(app).delete('/ext/things/1/more')).status).toBe(404);
    await request(app).get('/ext/things/1').expect(200);
  });

  test('a route taking every method (all()) that passes the request on is 404, never 405', async () => {
    const { ctx, store } = makeApp();
    close.push(() => store.close());
    const any = { name: 'any', create: () => Router().all('/any', (_q, _s, next) => next()).get('/any', (_q, _s, next) => next()) };
    const r = await request(createApp(ctx, [any])).delete('/any');
    expect(r.status).toBe(404);
    expect(r.headers.allow).toBeUndefined();
  });

  test('a route that takes the method but passes the request on is 404, never 405', async () => {
    const { ctx, store } = makeApp();
    close.push(() => store.close());
    const pass = { name: 'pass', create: () => Router().get('/pass', (_q, _s, next) => next()) };
    const app = createApp(ctx, [pass]);
    expect((await request(app).get('/pass')).status).toBe(404);
    expect((await request(app).post('/pass')).status).toBe(405);
  });

  test('direct routes: the methods at a path like their matching (case, trailing slash, prefixes); none when one takes any method', () => {
    const handle = () => undefined;
    const methods = directRouteMethods([
      { method: 'POST', path: '/v1/decide', handle },
      { method: 'POST', path: '/v0/data', prefix: true, handle },
      { path: '/v1/authz/envoy', prefix: true, handle },
    ]);
    expect(methods('/V1/Decide/?x=1')).toEqual(['POST']);
    expect(methods('/v0/data/a/b')).toEqual(['POST']);
    expect(methods('/v1/authz/envoy/anything')).toBeUndefined();
    expect(methods('/v1/elsewhere')).toEqual([]);
  });
});
