// The Gotchas of protocols.md §2 (Envoy ext_authz), §3 (nginx auth_request), §4 (Traefik ForwardAuth),
// §5 (Okta token inline hook), §6 (Entra custom claims provider) and §10 (failure modes) that no other
// test proved through the real routes: the real service (store, shipped policies, decider, every router),
// requests shaped as each peer sends them, real nginx where nginx is the peer, and test IdPs standing in
// for Okta's and Entra's signing keys (the third parties we cannot run). Each test names the section or
// gotcha it proves.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from './helpers/http';
import { startIdp, type TestIdp } from './helpers/idp';
import { entraBodyFor, entraTokenIssuanceStartBody, ENTRA_APP, ENTRA_TENANT, oktaTokenHookBody } from './helpers/idp-payloads';
import { findNginx, hasAuthRequest, protectedLocation, startNginx, tetherAuthLocation, type NginxHandle } from './helpers/nginx';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROXY_AUD = 'api://tether-proxies';
const OKTA_SECRET = 'okta-hook-secret-6f1c2a9e0b7d';
const EVENTS_SERVICE = '99045fe1-7639-4a75-9d4a-577b6ca3810f';
const ENTRA_AUD = 'api://tether.example.com/3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7';
/** alice's second device: compliant but not encrypted, so enough for email (moderate), not for payroll (high). */
const PLAIN = 'mac-alice-plain';

let t: TetherHandle;
let proxyIdp: TestIdp; // its JWKS never answers: a proxy check with a bearer token waits on it
let entraIdp: TestIdp;

beforeAll(async () => {
  proxyIdp = await startIdp();
  proxyIdp.jwksBehaviour.hang = true;
  entraIdp = await startIdp(`https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`);
  t = await startTether({
    proxy: {
      subject_header: 'X-Auth-Request-Email',
      jwt: { issuer: proxyIdp.issuer, audience: PROXY_AUD, jwks_uri: proxyIdp.jwksUri, subject_claim: 'email' },
      apps: [
        { host: 'payroll.example.com', app: 'payroll' },
        { host: 'mail.example.com', app: 'email' },
        { path_prefix: '/public', app: 'email' },
      ],
      upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Device': 'device' },
    },
    okta: { auth: { type: 'header', header: 'Authorization', secret: OKTA_SECRET }, client_apps: { customClientIdNative: 'email' } },
    entra: {
      auth: { type: 'jwt', issuer: entraIdp.issuer, audience: ENTRA_AUD, jwks_uri: entraIdp.jwksUri },
      app_map: { [ENTRA_APP]: 'payroll' },
      deny_mode: 'fail',
    },
  });
  seedPeople(t);
  t.server.ctx.store.putDevice(PLAIN, { owner: 'alice', enrolled: true, compliant: true, encrypted: false, ownership: 'corporate', observed_at: new Date().toISOString() });
});

afterAll(async () => {
  await t?.stop();
  await proxyIdp?.close();
  await entraIdp?.close();
});

const bin = findNginx();
const usable = bin !== undefined && hasAuthRequest(bin);
const inCi = process.env.CI === 'true';

(usable || inCi ? describe : describe.skip)('§3 nginx auth_request, in real nginx', () => {
  let nginx: NginxHandle;
  let upstream: http.Server;
  const atUpstream: string[] = [];
  let tornDown = false;

  beforeAll(async () => {
    if (!usable) throw new Error(`nginx with ngx_http_auth_request_module is required under CI (found: ${bin ?? 'none'})`);
    upstream = http.createServer((req, res) => {
      atUpstream.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream'));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upPort = (upstream.address() as AddressInfo).port;
    const standard = tetherAuthLocation('/_tether', 'email');
    // §3.4 gotcha 3: the same location without `proxy_pass_request_body off` and `Content-Length ""`.
    const careless = tetherAuthLocation('/_tether_careless', 'email')
      .replace(/^.*proxy_pass_request_body off;\n/m, '')
      .replace(/^.*proxy_set_header\s+Content-Length "";\n/m, '');
    expect(careless).not.toMatch(/Content-Length|proxy_pass_request_body/);
    nginx = await startNginx(bin!, (port) => `
  upstream tether { server 127.0.0.1:${t.port}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 10m;
${protectedLocation('/std/', '/_tether', upPort)}
${protectedLocation('/careless/', '/_tether_careless', upPort)}
${standard}
${careless}
  }`);
    if (tornDown) await nginx.stop();
  });

  afterAll(async () => {
    tornDown = true;
    await nginx?.stop();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  });

  const viaNginx = (method: string, p: string, headers: Record<string, string>, body?: string) =>
    rawRequest(nginx.port, { method, path: p, headers: { host: 'mail.example.com', ...headers }, body });
  const alice = { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' };

  test('gotcha 3: an auth location that forgets proxy_pass_request_body off / Content-Length "" neither hangs nor garbles the next checks', async () => {
    // Its subrequest carries the client's Content-Length but no body (it runs before nginx reads one).
    // A small body's missing bytes would swallow the start of the next check on the keepalive
    // connection (garbled: 400 → nginx 500); a large one's, the whole next check (hung: 504 → 500).
    for (const size of [20, 64 * 1024]) {
      atUpstream.length = 0;
      const started = Date.now();
      const upload = await viaNginx('POST', '/careless/upload', { ...alice, 'content-type': 'application/octet-stream' }, 'x'.repeat(size));
      expect([size, upload.status]).toEqual([size, 200]);
      expect(Date.now() - started).toBeLessThan(1000);
      // The checks after it travel on nginx's keepalive connections to Tether.
      for (let i = 0; i < 6; i++) {
        const r = await viaNginx('GET', `/careless/page/${i}`, alice);
        expect([size, i, r.status]).toEqual([size, i, 200]);
      }
      expect(atUpstream).toEqual(['POST /careless/upload', ...[0, 1, 2, 3, 4, 5].map((i) => `GET /careless/page/${i}`)]);
    }
    expect(nginx.errorLog()).not.toMatch(/auth request unexpected status|upstream timed out|upstream prematurely closed/);
  });

  test("gotcha 4: a check that cannot be decided in time (the JWKS hangs) is a prompt 403, inside the location's 1 s timeout", async () => {
    atUpstream.length = 0;
    const jwt = await proxyIdp.sign({ email: 'alice@example.com', aud: PROXY_AUD });
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      const r = await viaNginx('GET', '/std/inbox', { authorization: `Bearer ${jwt}`, 'x-device-id': 'mac-alice' });
      expect(r.status).toBe(403);
      expect(r.headers['x-tether-reasons']).toBe('decision_unavailable');
      expect(Date.now() - started).toBeLessThan(1000);
    }
    expect(atUpstream).toEqual([]);
    expect(nginx.errorLog()).not.toMatch(/upstream timed out|auth request unexpected status/);
  });
});

/** An Envoy HTTP ext_authz check (protocols.md §2.3): client method, path_prefix + :path with query, Host. */
function envoyCheck(opts: { method?: string; path: string; host: string; headers?: Record<string, string>; body?: string }) {
  return rawRequest(t.port, {
    method: opts.method ?? 'GET',
    path: `/v1/authz/envoy${opts.path}`,
    headers: {
      host: opts.host, 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-request-id': '3d0f6b1e-9a5e-4c61-b7a5-0c4f2f3d9e11',
      'x-envoy-expected-rq-timeout-ms': '200', ...(opts.body === undefined ? { 'content-length': '0' } : {}), ...opts.headers,
    },
    body: opts.body,
  });
}

/** A Traefik ForwardAuth request (§4.2): a GET to the address, client headers plus X-Forwarded-*. */
function traefikCheck(opts: { address?: string; method?: string; host: string; uri: string; checkMethod?: string; headers?: Record<string, string>; body?: string }) {
  return rawRequest(t.port, {
    method: opts.checkMethod ?? 'GET',
    path: opts.address ?? '/v1/authz/traefik',
    headers: {
      host: `127.0.0.1:${t.port}`, 'user-agent': 'Mozilla/5.0', accept: '*/*', 'x-forwarded-for': '198.51.100.23',
      'x-forwarded-host': opts.host, 'x-forwarded-method': opts.method ?? 'GET', 'x-forwarded-port': '443', 'x-forwarded-proto': 'https',
      'x-forwarded-server': 'traefik-7d9f', 'x-forwarded-uri': opts.uri, 'x-real-ip': '198.51.100.23', ...opts.headers,
    },
    body: opts.body,
  });
}

/** The nginx auth subrequest of the README's location (§3.3): GET, X-Original-* set by the location. */
function nginxCheck(opts: { path?: string; method?: string; headers?: Record<string, string> } = {}) {
  return rawRequest(t.port, {
    method: opts.method ?? 'GET',
    path: opts.path ?? '/v1/authz/nginx?app=email',
    headers: {
      host: 'tether', 'x-original-uri': '/inbox?folder=2', 'x-original-method': 'GET', 'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https', 'x-forwarded-host': 'mail.example.com', 'user-agent': 'curl/8.5.0', ...opts.headers,
    },
  });
}

const aliceHeaders = (device = 'mac-alice') => ({ 'x-auth-request-email': 'alice@example.com', 'x-device-id': device });

describe('§2 Envoy ext_authz', () => {
  test("§2.3: the check URL's query is the client's, so a client's ?app= cannot pick a laxer app", async () => {
    // payroll (high) needs encryption; email (moderate) does not. The client asks for /reports?app=email.
    const r = await envoyCheck({ path: '/reports?app=email', host: 'payroll.example.com', headers: aliceHeaders(PLAIN) });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toEqual(['device_not_encrypted']);
    const mail = await envoyCheck({ path: '/inbox?app=payroll', host: 'mail.example.com', headers: aliceHeaders(PLAIN) });
    expect(mail.status).toBe(200);
  });

  test('§2.3: a body sent with with_request_body, larger than Tether\'s own body limit, is ignored: decided, not 413', async () => {
    const body = JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) }); // TETHER_BODY_LIMIT is 1 MB
    const r = await envoyCheck({ method: 'PUT', path: '/files/7', host: 'mail.example.com', headers: { ...aliceHeaders(), 'content-type': 'application/json' }, body });
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
  });

  test('§10: a check that cannot be decided in time (the JWKS hangs) is a 403 within proxy.timeout_ms, never a 5xx or a hang', async () => {
    // Envoy's own default timeout is 200 ms (past it: status_on_error); Tether's budget is 150 ms.
    const jwt = await proxyIdp.sign({ email: 'alice@example.com', aud: PROXY_AUD });
    const started = Date.now();
    const r = await envoyCheck({ path: '/inbox', host: 'mail.example.com', headers: { authorization: `Bearer ${jwt}`, 'x-device-id': 'mac-alice' } });
    const ms = Date.now() - started;
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ code: 'access_denied', reasons: ['decision_unavailable'] });
    expect(ms).toBeLessThan(500); // 150 ms budget, with room for a loaded CI machine
  });
});

describe('§3 nginx auth_request (the subrequest as nginx sends it)', () => {
  test('gotcha 2: "don\'t know" answers are 403s, never the 404 that nginx would turn into a 500', async () => {
    const unknownApp = await nginxCheck({ path: '/v1/authz/nginx?app=no-such-app', headers: aliceHeaders() });
    expect(unknownApp.status).toBe(403);
    expect(unknownApp.headers['x-tether-reasons']).toBe('app_unknown');
    const noApp = await nginxCheck({ path: '/v1/authz/nginx', headers: { ...aliceHeaders(), 'x-forwarded-host': 'elsewhere.example' } });
    expect(noApp.status).toBe(403);
    expect(noApp.headers['x-tether-reasons']).toBe('app_unknown');
    // `proxy_pass http://tether/v1/authz/nginx/?app=…` (trailing slash) still reaches the front door.
    const slash = await nginxCheck({ path: '/v1/authz/nginx/?app=email', headers: aliceHeaders() });
    expect(slash.status).toBe(200);
  });

  test('§3.2: a location that overrides the subrequest method (proxy_method POST / HEAD) is decided the same', async () => {
    for (const method of ['POST', 'HEAD']) {
      const r = await nginxCheck({ method, headers: { ...aliceHeaders(), 'x-original-method': 'DELETE' } });
      expect([method, r.status]).toEqual([method, 200]);
      expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    }
  });

  test('§3.2: answers carry Cache-Control: no-store, so an auth location with proxy_cache does not reuse a decision', async () => {
    const allow = await nginxCheck({ headers: aliceHeaders() });
    const deny = await nginxCheck({ headers: { 'x-auth-request-email': 'bob@example.com', 'x-device-id': 'pc-bob' } });
    const none = await nginxCheck();
    expect([allow.status, deny.status, none.status]).toEqual([200, 403, 401]);
    for (const r of [allow, deny, none]) expect(r.headers['cache-control']).toBe('no-store');
  });
});

describe('§4 Traefik ForwardAuth', () => {
  test('gotcha 1: the original path is read from X-Forwarded-Uri, never from the check URL', async () => {
    const pub = await traefikCheck({ host: 'docs.example.org', uri: '/public/handbook?page=2', headers: aliceHeaders() });
    expect(pub.status).toBe(200);
    const other = await traefikCheck({ host: 'docs.example.org', uri: '/private/handbook', headers: aliceHeaders() });
    expect(other.status).toBe(403);
    expect(other.json().reasons).toEqual(['app_unknown']);
  });

  test("§4.2: X-Forwarded-Uri carries the client's query: its ?app= cannot pick a laxer app", async () => {
    const r = await traefikCheck({ host: 'payroll.example.com', uri: '/reports?app=email', headers: aliceHeaders(PLAIN) });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toEqual(['device_not_encrypted']);
  });

  test('§4.2: with preserveRequestMethod the check arrives with the client\'s method (and forwardBody a body): decided the same', async () => {
    for (const [method, body] of [['DELETE', undefined], ['POST', '{"amount": 100}']] as const) {
      const r = await traefikCheck({ checkMethod: method, method, host: 'mail.example.com', uri: '/inbox/7', headers: { ...aliceHeaders(), ...(body ? { 'content-type': 'application/json' } : {}) }, body });
      expect([method, r.status]).toEqual([method, 200]);
      expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    }
  });
});

describe('§5 Okta token inline hook', () => {
  const hook = (body: string) => rawRequest(t.port, {
    method: 'POST', path: '/v1/hooks/okta/token',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: OKTA_SECRET },
    body,
  });

  test('gotcha 1: a body over the hook limit is a 200 deny, not a 413 that Okta would ignore (fail-open)', async () => {
    const big = oktaTokenHookBody();
    big.data.context.user.profile.padding = 'x'.repeat(300 * 1024); // the hook reads at most 256 KiB
    const r = await hook(JSON.stringify(big));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json().error.errorCauses.map((c: { reason: string }) => c.reason)).toEqual(['invalid_hook_request']);
    expect(r.json().commands).toBeUndefined();
  });
});

describe('§6 Entra custom claims provider (deny_mode "fail")', () => {
  const eventsToken = () => entraIdp.sign({ aud: ENTRA_AUD, azp: EVENTS_SERVICE, tid: ENTRA_TENANT, ver: '2.0' });
  const call = async (body: string) => rawRequest(t.port, {
    method: 'POST', path: '/v1/hooks/entra/token-issuance-start',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await eventsToken()}` },
    body,
  });

  test('§6.4: a deny is a non-200 (Entra fails closed: no token); an allow is the one provideClaimsForToken action', async () => {
    const denied = await call(JSON.stringify(entraBodyFor('c0c0c0c0-1111-4222-8333-444455556666', 'carol@contoso.com')));
    expect(denied.status).toBe(403);
    expect(denied.json()).toEqual({ code: 'access_denied', message: 'access denied: identity_not_active', decision_id: expect.stringMatching(UUID), reasons: ['identity_not_active'] });
    const allowed = await call(JSON.stringify(entraTokenIssuanceStartBody()));
    expect(allowed.status).toBe(200);
    expect(allowed.headers['content-type']).toMatch(/^application\/json/);
    expect(allowed.json().data.actions).toEqual([{
      '@odata.type': 'microsoft.graph.tokenIssuanceStart.provideClaimsForToken',
      claims: { tether_decision: 'allow', tether_device_trust: 'trusted', tether_lifecycle: 'healthy', tether_decision_id: expect.stringMatching(UUID) },
    }]);
  });

  test('§6.3: a B2B guest (userType Guest, #EXT# UPN) is found by its mail', async () => {
    const guest = entraBodyFor('5e5e5e5e-1111-4222-8333-444455556666', 'alice_example.com#EXT#@contoso.onmicrosoft.com');
    guest.data.authenticationContext.user.mail = 'alice@example.com';
    guest.data.authenticationContext.user.userType = 'Guest';
    const r = await call(JSON.stringify(guest));
    expect(r.status).toBe(200);
    expect(r.json().data.actions[0].claims.tether_decision).toBe('allow');
  });

  test('§6.5: a body over the provider limit fails the call (413): Entra then issues no token', async () => {
    const big = entraTokenIssuanceStartBody();
    big.data.authenticationContext.user.padding = 'x'.repeat(300 * 1024);
    const r = await call(JSON.stringify(big));
    expect(r.status).toBe(413);
    expect(r.json()).toMatchObject({ code: 'payload_too_large' });
  });
});

// Last: it breaks the service's store.
describe('§10 when the PDP itself fails (its store is gone), every caller gets its own deny, never a 5xx', () => {
  test('Envoy 403 JSON, nginx 403 headers only, Traefik 403, Okta 200 error, Entra (deny_mode fail) non-200', async () => {
    fs.rmSync(t.dataDir, { recursive: true, force: true });
    // The next write finds the store gone (test/api/store-failure.test.ts): from then on decisions fail closed.
    const write = await fetch(`${t.url}/v1/identities/gone`, {
      method: 'PUT', headers: { authorization: `Bearer ${t.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'active' }),
    });
    expect(write.status).toBe(503);
    const envoy = await envoyCheck({ path: '/inbox', host: 'mail.example.com', headers: aliceHeaders() });
    expect(envoy.status).toBe(403);
    expect(envoy.json()).toMatchObject({ code: 'access_denied', reasons: ['state_unavailable'] });
    const nginx = await nginxCheck({ headers: aliceHeaders() });
    expect(nginx.status).toBe(403);
    expect(nginx.text).toBe('');
    expect(nginx.headers['x-tether-reasons']).toBe('state_unavailable');
    const traefik = await traefikCheck({ host: 'mail.example.com', uri: '/inbox', headers: aliceHeaders() });
    expect(traefik.status).toBe(403);
    expect(traefik.json().reasons).toEqual(['state_unavailable']);
    const okta = await rawRequest(t.port, {
      method: 'POST', path: '/v1/hooks/okta/token', headers: { 'content-type': 'application/json', authorization: OKTA_SECRET }, body: JSON.stringify(oktaTokenHookBody()),
    });
    expect(okta.status).toBe(200);
    // The user's devices cannot be read: the hook's own fail-closed deny, in Okta's shape.
    expect(okta.json().error.errorCauses.map((c: { reason: string }) => c.reason)).toEqual(['decision_unavailable']);
    expect(okta.json().commands).toBeUndefined();
    const entra = await rawRequest(t.port, {
      method: 'POST', path: '/v1/hooks/entra/token-issuance-start',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await entraIdp.sign({ aud: ENTRA_AUD, azp: EVENTS_SERVICE, tid: ENTRA_TENANT, ver: '2.0' })}` },
      body: JSON.stringify(entraTokenIssuanceStartBody()),
    });
    expect(entra.status).toBe(403);
    expect(entra.json()).toMatchObject({ code: 'access_denied', reasons: ['decision_unavailable'] });
  });
});
