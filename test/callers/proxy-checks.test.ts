// Envoy ext_authz and Traefik ForwardAuth checks against the real service (store, compiled policies,
// decider), with requests shaped exactly as those proxies send them (protocols.md §2.3, §4.2).
import { rawRequest } from './helpers/http';
import { startIdp, type TestIdp } from './helpers/idp';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AUD = 'api://tether-proxies';

let t: TetherHandle;
let idp: TestIdp;

beforeAll(async () => {
  idp = await startIdp();
  t = await startTether({
    proxy: {
      subject_header: 'X-Auth-Request-Email',
      jwt: { issuer: idp.issuer, audience: AUD, jwks_uri: idp.jwksUri, subject_claim: 'email' },
      apps: [
        { host: 'payroll.example.com', app: 'payroll' },
        { host: 'mail.example.com', app: 'email' },
      ],
      upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Lifecycle': 'lifecycle', 'X-Tether-Limited': 'limited', 'X-Tether-Device': 'device' },
    },
  });
  seedPeople(t);
});

afterAll(async () => {
  await t?.stop();
  await idp?.close();
});

const token = (email: string, extra: Record<string, unknown> = {}) => idp.sign({ sub: `u-${email}`, email, aud: AUD, ...extra });

/** An Envoy HTTP ext_authz check: client method, path_prefix + :path, allowed_headers + headers_to_add. */
async function envoyCheck(opts: { method?: string; path: string; host: string; headers?: Record<string, string>; body?: string }) {
  return rawRequest(t.port, {
    method: opts.method ?? 'GET',
    path: `/v1/authz/envoy${opts.path}`,
    headers: {
      host: opts.host,
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-request-id': '3d0f6b1e-9a5e-4c61-b7a5-0c4f2f3d9e11',
      'x-envoy-expected-rq-timeout-ms': '200',
      'x-pdp-caller': 'edge-1',
      ...(opts.body === undefined ? { 'content-length': '0' } : {}),
      ...opts.headers,
    },
    body: opts.body,
  });
}

/** A Traefik ForwardAuth request: always GET to the address, client headers + X-Forwarded-*. */
async function traefikCheck(opts: { address?: string; method?: string; host: string; uri: string; headers?: Record<string, string> }) {
  return rawRequest(t.port, {
    method: 'GET',
    path: opts.address ?? '/v1/authz/traefik',
    headers: {
      host: `127.0.0.1:${t.port}`,
      'user-agent': 'Mozilla/5.0',
      accept: '*/*',
      'accept-encoding': 'gzip',
      'x-forwarded-for': '198.51.100.23',
      'x-forwarded-host': opts.host,
      'x-forwarded-method': opts.method ?? 'GET',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      'x-forwarded-server': 'traefik-7d9f',
      'x-forwarded-uri': opts.uri,
      'x-real-ip': '198.51.100.23',
      ...opts.headers,
    },
  });
}

describe('Envoy ext_authz (HTTP service)', () => {
  test('compliant user on a high app: exactly 200 with the decision id and the upstream headers', async () => {
    const r = await envoyCheck({
      path: '/reports/q3?format=pdf', host: 'payroll.example.com',
      headers: { authorization: `Bearer ${await token('alice@example.com')}`, 'x-device-id': 'mac-alice' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    expect(r.headers['x-tether-device']).toBe('mac-alice');
    expect(r.headers['x-tether-limited']).toBe('false');
    expect(r.headers['x-tether-lifecycle']).toBe('healthy');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.json()).toMatchObject({ allow: true, decision_id: r.headers['x-tether-decision-id'], reasons: [] });
  });

  test('any client method reaches the check; a forwarded client body (with_request_body) is ignored', async () => {
    const auth = { authorization: `Bearer ${await token('alice@example.com')}`, 'x-device-id': 'mac-alice' };
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await envoyCheck({ method, path: '/api/items/7', host: 'mail.example.com', headers: { ...auth, 'content-type': 'application/json' }, body: '{"not": json' });
      expect([method, r.status]).toEqual([method, 200]);
    }
    const head = await envoyCheck({ method: 'HEAD', path: '/', host: 'mail.example.com', headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers['x-tether-decision-id']).toMatch(UUID);
  });

  test('non-compliant device: 403 with reasons in the JSON body and X-Tether-Reasons', async () => {
    const r = await envoyCheck({
      path: '/people', host: 'mail.example.com',
      headers: { authorization: `Bearer ${await token('bob@example.com')}`, 'x-device-id': 'pc-bob' },
    });
    expect(r.status).toBe(403);
    expect(r.headers['x-tether-reasons']).toBe('device_not_compliant');
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual({
      code: 'access_denied', message: 'access denied: device_not_compliant',
      decision_id: r.headers['x-tether-decision-id'], reasons: ['device_not_compliant'],
    });
  });

  test("someone else's device is not enough", async () => {
    const r = await envoyCheck({
      path: '/', host: 'mail.example.com',
      headers: { authorization: `Bearer ${await token('bob@example.com')}`, 'x-device-id': 'mac-alice' },
    });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toContain('device_not_owned_by_subject');
  });

  test('no credential: 401 with a Bearer challenge', async () => {
    const r = await envoyCheck({ path: '/', host: 'payroll.example.com', headers: { 'x-device-id': 'mac-alice' } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tether"');
    expect(r.json()).toEqual({ code: 'unauthorized', message: expect.any(String), reason: 'credential_missing' });
  });

  test('forged, expired, wrong-audience or wrong-issuer tokens: 401 invalid_token, never the header fallback', async () => {
    const bad = [
      await idp.forge({ email: 'alice@example.com', aud: AUD }),
      await idp.sign({ email: 'alice@example.com', aud: AUD, exp: Math.floor(Date.now() / 1000) - 3600 }),
      await idp.sign({ email: 'alice@example.com', aud: 'api://someone-else' }),
      await idp.sign({ email: 'alice@example.com', aud: AUD }, { issuer: 'https://evil.example' }),
      'not.a.jwt',
    ];
    for (const jwt of bad) {
      const r = await envoyCheck({
        path: '/', host: 'payroll.example.com',
        headers: { authorization: `Bearer ${jwt}`, 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' },
      });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="tether", error="invalid_token"');
      expect(r.json().reason).toBe('credential_invalid');
    }
  });

  test('a token without the subject claim is invalid', async () => {
    const jwt = await idp.sign({ sub: 'x', aud: AUD });
    const r = await envoyCheck({ path: '/', host: 'payroll.example.com', headers: { authorization: `Bearer ${jwt}` } });
    expect(r.status).toBe(401);
  });

  test('a host no rule names: 403 app_unknown (no default app configured)', async () => {
    const r = await envoyCheck({
      path: '/', host: 'unknown.example.com',
      headers: { authorization: `Bearer ${await token('alice@example.com')}`, 'x-device-id': 'mac-alice' },
    });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ reasons: ['app_unknown'], decision_id: null });
    expect(r.headers['x-tether-reasons']).toBe('app_unknown');
  });
});

describe('Traefik ForwardAuth', () => {
  test('trusted subject header + ?app= on the address: 200 with the configured upstream headers', async () => {
    const r = await traefikCheck({
      address: '/v1/authz/traefik?app=payroll', host: 'anything.example.com', uri: '/reports?q=1',
      headers: { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    expect(r.headers['x-tether-device']).toBe('mac-alice');
    expect(r.headers['x-tether-lifecycle']).toBe('healthy');
  });

  test('the app comes from X-Forwarded-Host when the address names none', async () => {
    const ok = await traefikCheck({ host: 'payroll.example.com', uri: '/', headers: { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' } });
    expect(ok.status).toBe(200);
    const none = await traefikCheck({ host: 'elsewhere.example', uri: '/', headers: { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' } });
    expect(none.status).toBe(403);
    expect(none.json().reasons).toEqual(['app_unknown']);
  });

  test('inactive identity: 403 identity_not_active, whatever the device', async () => {
    const r = await traefikCheck({
      address: '/v1/authz/traefik?app=email', host: 'mail.example.com', uri: '/inbox', method: 'POST',
      headers: { 'x-auth-request-email': 'carol@example.com', 'x-device-id': 'mac-carol' },
    });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toEqual(['identity_not_active']);
    expect(r.headers['x-tether-reasons']).toBe('identity_not_active');
  });

  test('unknown identity: 403 identity_unknown', async () => {
    const r = await traefikCheck({ address: '/v1/authz/traefik?app=email', host: 'mail.example.com', uri: '/', headers: { 'x-auth-request-email': 'mallory@example.com' } });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toEqual(['identity_unknown']);
  });

  test('no device named on a moderate app: 403 device_missing', async () => {
    const r = await traefikCheck({ address: '/v1/authz/traefik?app=email', host: 'mail.example.com', uri: '/', headers: { 'x-auth-request-email': 'dave@example.com' } });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toEqual(['device_missing']);
  });

  test('no credential at all: 401', async () => {
    const r = await traefikCheck({ address: '/v1/authz/traefik?app=email', host: 'mail.example.com', uri: '/' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tether"');
  });

  test('a verified bearer token works through Traefik too', async () => {
    const r = await traefikCheck({
      address: '/v1/authz/traefik?app=payroll', host: 'payroll.example.com', uri: '/',
      headers: { authorization: `Bearer ${await token('alice@example.com')}`, 'x-device-id': 'mac-alice' },
    });
    expect(r.status).toBe(200);
  });
});

describe('nginx auth_request', () => {
  /** The subrequest as protocols.md §3.3 configures it: GET, no body, the client's headers + X-Original-*. */
  const nginxCheck = (headers: Record<string, string>) =>
    rawRequest(t.port, {
      method: 'GET',
      path: '/v1/authz/nginx?app=payroll',
      headers: {
        host: 'tether',
        'x-original-uri': '/payroll/reports?q=3',
        'x-original-method': 'GET',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'payroll.example.com',
        'user-agent': 'curl/8.5.0',
        ...headers,
      },
    });

  // nginx reads only an auth subrequest's headers; a body would make it drop the keepalive connection.
  test('allow: 200 with the decision id and upstream headers, and an empty body', async () => {
    const r = await nginxCheck({ 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' });
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    expect(r.headers['content-length']).toBe('0');
    expect(r.text).toBe('');
  });

  test('deny: 403 with the reasons and decision id in headers, and an empty body', async () => {
    const r = await nginxCheck({ 'x-auth-request-email': 'carol@example.com', 'x-device-id': 'mac-carol' });
    expect(r.status).toBe(403);
    expect(r.headers['x-tether-reasons']).toBe('identity_not_active');
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    expect(r.headers['content-length']).toBe('0');
    expect(r.text).toBe('');
  });

  test('no credential: 401 with the challenge nginx passes on, and an empty body', async () => {
    const r = await nginxCheck({});
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="tether"');
    expect(r.text).toBe('');
  });
});
