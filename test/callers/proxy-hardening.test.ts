// Audit findings F1–F6 (and the Envoy prefix case), each checked with requests shaped as the proxies and
// IdPs send them: unit-level where the shape is the whole story, against the real service otherwise.
import { parseCallersConfig } from '../../src/callers/config';
import { createJwtVerifier, KeysUnavailable } from '../../src/callers/jwt';
import { formatDecision } from '../../src/callers/proxy-check';
import { certFingerprint, parseXfcc, readEnvoy, readNginx, resolveApp, resolveDevice } from '../../src/callers/proxy-request';
import type { Decision } from '../../src/callers/types';
import { rawRequest } from './helpers/http';
import { startIdp, type TestIdp } from './helpers/idp';
import { entraTokenIssuanceStartBody, ENTRA_APP, ENTRA_TENANT } from './helpers/idp-payloads';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

jest.setTimeout(120_000);

const FP = '5f0e8b2c9d4a7e6f1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a';
const OTHER_FP = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const BOB_FP = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';
/** alice's second device: compliant but not encrypted, so fine for email (moderate), not for payroll (high). */
const UNENC_FP = 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0';
const RULES = [
  { host: 'payroll.example.com', app: 'payroll' },
  { host: '*.intranet.example.com', app: 'email' },
  { path_prefix: '/public', app: 'email' },
];

describe('F1: nginx — X-Original-URL decides host and path; client-sent fallbacks cannot override it', () => {
  const cfg = parseCallersConfig({ proxy: { apps: RULES } }).proxy;
  // ingress-nginx's auth subrequest: its own X-Original-URL, plus every header the client sent.
  const ingress = (client: Record<string, string>) => ({
    method: 'GET', url: '/v1/authz/nginx',
    headers: {
      ...client,
      host: 'tether.tether.svc', 'x-original-url': 'https://payroll.example.com/reports/q3?x=1', 'x-original-method': 'GET',
      'x-sent-from': 'nginx-ingress-controller', 'x-real-ip': '192.0.2.1', 'x-forwarded-for': '192.0.2.1',
      'x-auth-request-redirect': '/reports/q3?x=1',
    },
  });
  test('a client X-Forwarded-Host / X-Original-URI does not change the app', () => {
    const clients: Array<Record<string, string>> = [{ 'x-forwarded-host': 'a.intranet.example.com' }, { 'x-original-uri': '/public' }, { 'x-forwarded-host': 'a.intranet.example.com', 'x-original-uri': '/public', 'x-forwarded-proto': 'http' }];
    for (const client of clients) {
      const req = ingress(client);
      const o = readNginx(req);
      expect(o).toMatchObject({ host: 'payroll.example.com', path: '/reports/q3', uri: '/reports/q3?x=1', proto: 'https' });
      expect(resolveApp(cfg, req, o)).toBe('payroll');
    }
  });
  test('without X-Original-URL the auth location\'s own X-Original-URI / X-Forwarded-Host are used (repo config)', () => {
    const o = readNginx({ method: 'GET', url: '/v1/authz/nginx', headers: { host: 'tether', 'x-original-uri': '/public/a', 'x-forwarded-host': 'hr.intranet.example.com', 'x-forwarded-proto': 'https' } });
    expect(o).toMatchObject({ host: 'hr.intranet.example.com', path: '/public/a', proto: 'https' });
  });
});

describe('F2: mTLS device binding cannot be bypassed with the device header', () => {
  const cfg = parseCallersConfig({ proxy: { client_cert_header: 'X-Forwarded-Client-Cert' } }).proxy;
  test('a client-sent X-Device-Id is ignored when client_cert_header is configured', () => {
    expect(resolveDevice(cfg, { 'x-device-id': 'mac-alice' })).toBeUndefined();
    expect(resolveDevice(cfg, { 'x-device-id': 'mac-alice', 'x-forwarded-client-cert': `Hash=${FP};Subject="CN=bob-pc"` })).toBe(FP);
  });
});

describe('F3: x-forwarded-client-cert is parsed with quotes and escapes', () => {
  test('commas, semicolons and = inside quoted values do not split the element', () => {
    expect(certFingerprint(`By=spiffe://cluster.local/ns/edge/sa/gw;Hash=${FP};Subject="CN=alice-laptop,OU=Devices,O=Example";URI=`)).toBe(FP);
    expect(parseXfcc('Hash=ab;Subject="CN=a\\"b,OU=c\\\\d;e"')).toEqual([[
      { key: 'hash', value: 'ab', quoted: false }, { key: 'subject', value: 'CN=a"b,OU=c\\d;e', quoted: true },
    ]]);
  });
  test('an escaped comma or quote in a Subject cannot inject a Hash', () => {
    expect(certFingerprint(`Hash=${FP};Subject="CN=mallory\\,Hash=${OTHER_FP}"`)).toBe(FP);
    expect(certFingerprint(`Hash=${FP};Subject="CN=mallory\\",Hash=${OTHER_FP}"`)).toBe(FP);
    expect(certFingerprint(`Hash=${FP};Subject="CN=mallory,Hash=${OTHER_FP}`)).toBeUndefined(); // unterminated quote
  });
  test('a SAN carrying ",Hash=" (URI/DNS are not quoted by Envoy) yields no device rather than the injected one', () => {
    expect(certFingerprint(`By=spiffe://gw;Hash=${FP};Subject="CN=m";URI=https://x/a,Hash=${OTHER_FP}`)).toBeUndefined();
    expect(certFingerprint(`Hash=${FP};Subject="";DNS=m.example,Hash=${OTHER_FP}`)).toBeUndefined();
    expect(certFingerprint(`Hash=${FP};Subject="";URI=https://x/a;Hash=${OTHER_FP}`)).toBeUndefined(); // two Hash in one hop
  });
  test('the nearest hop is still the last element', () => {
    expect(certFingerprint(`By=spiffe://a;Hash=${OTHER_FP};Subject="CN=old",By=spiffe://b;Hash=${FP};Subject="CN=laptop";URI=`)).toBe(FP);
  });
});

describe('F4: Envoy allow removes configured upstream headers that have no value', () => {
  const cfg = parseCallersConfig({ proxy: { upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Device': 'device', 'X-Tether-Exception': 'exception', 'X-Tether-Lifecycle': 'lifecycle' } } }).proxy;
  const d: Decision = { decision_id: 'd1', allow: true, limited: false, reasons: [], obligations: [], lifecycle: null, exception: null, policy_revision: 'r1' } as unknown as Decision;
  test('x-envoy-auth-headers-to-remove lists them', () => {
    const a = formatDecision(cfg, d, { subject: 'alice', app: 'wiki' }, 'envoy');
    expect(a.headers['X-Tether-Subject']).toBe('alice');
    expect(a.headers['x-envoy-auth-headers-to-remove']).toBe('x-tether-device, x-tether-exception, x-tether-lifecycle');
  });
});

describe('Envoy prefix is matched case-insensitively, like the router', () => {
  test('/V1/Authz/Envoy/… is ours', () => {
    expect(readEnvoy({ method: 'GET', url: '/V1/Authz/ENVOY/reports?q=1', headers: {} }, '/v1/authz/envoy')).toMatchObject({ path: '/reports', uri: '/reports?q=1' });
    expect(readEnvoy({ method: 'GET', url: '/V1/Authz/ENVOYx/a', headers: {} }, '/v1/authz/envoy')).toBeUndefined();
  });
});

describe('F5/F6: JWKS refresh in the background; a key-fetch failure is not an invalid token', () => {
  let idp: TestIdp;
  beforeEach(async () => { idp = await startIdp(); });
  afterEach(async () => { jest.restoreAllMocks(); await idp.close(); });
  const cfg = () => parseCallersConfig({ proxy: { jwt: { issuer: idp.issuer, audience: 'api://a', jwks_uri: idp.jwksUri } } }).proxy.jwt!;
  const timed = async <T>(p: Promise<T>) => { const t0 = Date.now(); const v = await p.then((x) => x, (e) => e); return { v, ms: Date.now() - t0 }; };

  test('a routine refresh (cache older than 10 minutes) is never waited on by a request', async () => {
    const verify = createJwtVerifier(cfg());
    expect(await verify(await idp.sign({ aud: 'api://a', sub: 'x' }))).toMatchObject({ sub: 'x' });
    idp.jwksBehaviour.delayMs = 1500;
    const real = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => real() + 11 * 60_000);
    const token = await idp.sign({ aud: 'api://a', sub: 'y' });
    const r = await timed(verify(token));
    expect(r.v).toMatchObject({ sub: 'y' });
    expect(r.ms).toBeLessThan(500);
  });

  test('a rotated key is picked up by the background refresh before any request needs it', async () => {
    const verify = createJwtVerifier(cfg(), { refreshMs: 100 });
    await new Promise((r) => setTimeout(r, 150));
    idp.rotate();
    const before = idp.jwksFetches();
    await new Promise((r) => setTimeout(r, 350));
    expect(idp.jwksFetches()).toBeGreaterThan(before);
    idp.jwksBehaviour.delayMs = 1500;
    const r = await timed(verify(await idp.signRotated({ aud: 'api://a', sub: 'z' })));
    expect(r.v).toMatchObject({ sub: 'z' });
    expect(r.ms).toBeLessThan(500);
  });

  test('JWKS down: KeysUnavailable (decision_unavailable), while a bad token stays credential_invalid', async () => {
    idp.jwksBehaviour.down = true;
    const verify = createJwtVerifier(cfg());
    const r = await timed(verify(await idp.sign({ aud: 'api://a', sub: 'x' })));
    expect(r.v).toBeInstanceOf(KeysUnavailable);
    expect((r.v as KeysUnavailable).code).toBe('decision_unavailable');
    await expect(verify('not.a.jwt')).rejects.toMatchObject({ code: 'credential_invalid' });
  });
});

describe('against the real service', () => {
  let t: TetherHandle;
  let proxyIdp: TestIdp; // JWKS down for the whole file: F6
  let entraIdp: TestIdp; // JWKS slow on demand: F5
  const AUD = 'api://tether-proxies';
  const ENTRA_AUD = 'api://tether.example.com/hook';

  beforeAll(async () => {
    proxyIdp = await startIdp();
    proxyIdp.jwksBehaviour.down = true;
    entraIdp = await startIdp(`https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`);
    t = await startTether({
      proxy: {
        subject_header: 'X-Auth-Request-Email',
        client_cert_header: 'X-Forwarded-Client-Cert',
        jwt: { issuer: proxyIdp.issuer, audience: AUD, jwks_uri: proxyIdp.jwksUri, subject_claim: 'email' },
        apps: RULES,
        upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Device': 'device', 'X-Tether-Exception': 'exception' },
      },
      entra: { auth: { type: 'jwt', issuer: entraIdp.issuer, audience: ENTRA_AUD, jwks_uri: entraIdp.jwksUri }, app_map: { [ENTRA_APP]: 'payroll' } },
    });
    seedPeople(t);
    const now = new Date().toISOString();
    t.server.ctx.store.putDevice(FP, { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: now });
    t.server.ctx.store.putDevice(UNENC_FP, { owner: 'alice', enrolled: true, compliant: true, encrypted: false, ownership: 'corporate', observed_at: now });
    t.server.ctx.store.putDevice(BOB_FP, { owner: 'bob', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate', observed_at: now });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t?.stop();
    await proxyIdp?.close();
    await entraIdp?.close();
  });

  const envoy = (path: string, host: string, headers: Record<string, string>) => rawRequest(t.port, {
    method: 'GET', path,
    headers: { host, 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-request-id': 'r-1', 'content-length': '0', ...headers },
  });

  test("F1: behind ingress-nginx, client-sent X-Forwarded-Host / X-Original-URI do not skip payroll's device rules", async () => {
    const ingress = (client: Record<string, string>) => rawRequest(t.port, {
      method: 'GET', path: '/v1/authz/nginx',
      headers: {
        ...client, host: 'tether', 'x-auth-request-email': 'alice@example.com', 'x-forwarded-client-cert': `Hash=${UNENC_FP};Subject="CN=alice-old-mac"`,
        'x-original-url': 'https://payroll.example.com/reports', 'x-original-method': 'GET', 'x-sent-from': 'nginx-ingress-controller',
        'x-real-ip': '192.0.2.1', 'x-forwarded-for': '192.0.2.1', 'x-auth-request-redirect': '/reports',
      },
    });
    const clients: Array<Record<string, string>> = [{}, { 'x-forwarded-host': 'a.intranet.example.com' }, { 'x-original-uri': '/public' }];
    for (const client of clients) {
      const r = await ingress(client);
      expect([client, r.status, r.headers['x-tether-reasons']]).toEqual([client, 403, 'device_not_encrypted']);
    }
  });

  test("F2: bob's credentials + alice's device id, no certificate: no device, denied", async () => {
    const r = await envoy('/v1/authz/envoy/reports', 'payroll.example.com', { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' });
    expect(r.status).toBe(403);
    expect(r.json().reasons).toEqual(['device_missing']);
    const bob = await envoy('/v1/authz/envoy/reports', 'payroll.example.com', { 'x-auth-request-email': 'bob@example.com', 'x-device-id': 'mac-alice', 'x-forwarded-client-cert': `Hash=${BOB_FP};Subject="CN=pc-bob"` });
    expect(bob.status).toBe(403);
    expect(bob.json().reasons).toEqual(['device_not_compliant']);
  });

  test('F3: a quoted Subject with commas keeps the real Hash; a Subject-injected Hash is not used', async () => {
    const ok = await envoy('/v1/authz/envoy/', 'payroll.example.com', {
      'x-auth-request-email': 'alice@example.com',
      'x-forwarded-client-cert': `By=spiffe://cluster.local/ns/edge/sa/gw;Hash=${FP};Subject="CN=alice-laptop,OU=Devices";URI=`,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-tether-device']).toBe(FP);
    const injected = await envoy('/v1/authz/envoy/', 'payroll.example.com', {
      'x-auth-request-email': 'alice@example.com',
      'x-forwarded-client-cert': `By=spiffe://gw;Hash=${BOB_FP};Subject="CN=mallory\\,Hash=${FP}"`,
    });
    expect(injected.status).toBe(403);
    const viaUri = await envoy('/v1/authz/envoy/', 'payroll.example.com', {
      'x-auth-request-email': 'alice@example.com',
      'x-forwarded-client-cert': `By=spiffe://gw;Hash=${BOB_FP};Subject="CN=mallory";URI=https://x/a,Hash=${FP}`,
    });
    expect(viaUri.status).toBe(403);
  });

  test('F4 + prefix case: Envoy allow names the valueless upstream headers in x-envoy-auth-headers-to-remove', async () => {
    const r = await envoy('/V1/Authz/Envoy/reports', 'payroll.example.com', {
      'x-auth-request-email': 'alice@example.com', 'x-forwarded-client-cert': `Hash=${FP};Subject="CN=alice-laptop"`, 'x-tether-exception': 'exc-forged',
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    expect(r.headers['x-envoy-auth-headers-to-remove']).toBe('x-tether-exception');
  });

  test('F6: JWKS unreachable: 403 decision_unavailable, not 401 invalid_token (no nginx login loop); a bad token is still 401', async () => {
    const r = await rawRequest(t.port, {
      method: 'GET', path: '/v1/authz/nginx?app=wiki',
      headers: { host: 'tether', 'x-original-uri': '/', 'x-original-method': 'GET', 'x-forwarded-host': 'wiki.example.com', authorization: `Bearer ${await proxyIdp.sign({ email: 'alice@example.com', aud: AUD })}` },
    });
    expect(r.status).toBe(403);
    expect(r.headers['x-tether-reasons']).toBe('decision_unavailable');
    expect(r.headers['www-authenticate']).toBeUndefined();
    const bad = await rawRequest(t.port, { method: 'GET', path: '/v1/authz/nginx?app=wiki', headers: { host: 'tether', 'x-original-uri': '/', 'x-original-method': 'GET', authorization: 'Bearer not.a.jwt' } });
    expect(bad.status).toBe(401);
  });

  test('F5: with the JWKS 1.5 s slow, an Entra call answers inside entra.timeout_ms (deny), never late', async () => {
    const call = async (token: string) => {
      const t0 = Date.now();
      const r = await rawRequest(t.port, { method: 'POST', path: '/v1/hooks/entra/token-issuance-start', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(entraTokenIssuanceStartBody()) });
      return { r, ms: Date.now() - t0 };
    };
    const claims = { aud: ENTRA_AUD, azp: '99045fe1-7639-4a75-9d4a-577b6ca3810f', tid: ENTRA_TENANT, ver: '2.0' };
    entraIdp.jwksBehaviour.delayMs = 1500;
    const real = Date.now.bind(Date);
    // Ten minutes later: the cached keys are due for a refresh and the refetch cooldown has passed.
    jest.spyOn(Date, 'now').mockImplementation(() => real() + 11 * 60_000);
    const routine = await call(await entraIdp.sign(claims));
    expect(routine.ms).toBeLessThan(1000);
    expect(routine.r.status).toBe(200);
    // A kid the cache lacks waits for the (slow) refetch, bounded by the 700 ms budget: a deny, in time.
    entraIdp.rotate();
    const unknownKid = await call(await entraIdp.signRotated(claims));
    expect(unknownKid.ms).toBeLessThan(1000);
    expect(unknownKid.r.status).toBe(200);
    expect(unknownKid.r.json().data.actions[0].claims).toMatchObject({ tether_decision: 'deny', tether_reasons: ['decision_unavailable'] });
  });
});
