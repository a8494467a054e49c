// proxy.caller_secret (TETHER_PROXY_SECRET): the proxy itself authenticates to /v1/authz/* with a shared
// secret in proxy.caller_secret_header. A missing or wrong secret is a 403 caller_unauthenticated in each
// proxy's deny shape — never an allow, never a 401 (nginx's `error_page 401 = @signin` would loop into a
// sign-in) — decided before the subject header or a bearer JWT is looked at. The secret never shows up in
// an answer, the log, the decision log or upstream headers. Without it, nothing changes.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/api/context';
import { callersDirectRoutes } from '../../src/api/routes/callers';
import {
  CallersConfigError, callersStartWarnings, loadCallersConfig, parseCallersConfig,
} from '../../src/callers/config';
import { callerRefusal, formatDecision } from '../../src/callers/proxy-check';
import { SubjectResolver } from '../../src/callers/subject';
import type { DecideRequest, Decision } from '../../src/callers/types';
import { rawRequest, serveHandler, type RawResponse } from './helpers/http';
import { startIdp, type TestIdp } from './helpers/idp';
import { findNginx, hasAuthRequest, protectedLocation, startNginx, tetherAuthLocation, type NginxHandle } from './helpers/nginx';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const SECRET = 'tp-7f3a9c41e0b2-caller-secret-d85e';
const SECRET_HEADER = 'x-tether-proxy-secret';
const SAME_LENGTH_WRONG = `${SECRET.slice(0, -1)}${SECRET.endsWith('x') ? 'y' : 'x'}`;
const WRONG_SECRETS: Array<[string, string]> = [
  ['same length, last character differs', SAME_LENGTH_WRONG],
  ['same length, first character differs', `X${SECRET.slice(1)}`],
  ['one character short', SECRET.slice(0, -1)],
  ['one character too many', `${SECRET}x`],
  ['other case', SECRET.toUpperCase()],
  ['much shorter', 'x'],
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AUD = 'api://tether-caller-secret';
const PROXIES = ['nginx', 'envoy', 'traefik'] as const;
type Proxy = (typeof PROXIES)[number];

const ALICE = { 'x-auth-request-email': 'alice@example.com', 'x-device-id': 'mac-alice' };
const withSecret = (headers: Record<string, string> = {}, secret = SECRET) => ({ ...headers, [SECRET_HEADER]: secret });

/** One proxy check shaped as that proxy sends it (protocols.md §2.3, §3.3, §4.2), for payroll.example.com/reports. */
function check(port: number, proxy: Proxy, headers: Record<string, string>): Promise<RawResponse> {
  switch (proxy) {
    case 'nginx':
      return rawRequest(port, {
        path: '/v1/authz/nginx?app=payroll',
        headers: {
          host: `127.0.0.1:${port}`, 'x-original-uri': '/reports?q=1', 'x-original-method': 'GET',
          'x-forwarded-host': 'payroll.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9', ...headers,
        },
      });
    case 'envoy':
      return rawRequest(port, {
        path: '/v1/authz/envoy/reports?q=1',
        headers: { host: 'payroll.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9', 'content-length': '0', ...headers },
      });
    case 'traefik':
      return rawRequest(port, {
        path: '/v1/authz/traefik',
        headers: {
          host: `127.0.0.1:${port}`, 'x-forwarded-host': 'payroll.example.com', 'x-forwarded-method': 'GET',
          'x-forwarded-uri': '/reports?q=1', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9', ...headers,
        },
      });
  }
}

/** The caller_unauthenticated deny in that proxy's shape: headers only for nginx, the JSON deny body for Envoy and Traefik. */
function expectCallerDeny(proxy: Proxy, r: RawResponse): void {
  expect(r.status).toBe(403);
  expect(r.headers['x-tether-reasons']).toBe('caller_unauthenticated');
  expect(r.headers['www-authenticate']).toBeUndefined();
  expect(r.headers['x-tether-decision-id']).toBeUndefined(); // nothing was decided
  expect(r.headers['x-tether-subject']).toBeUndefined();
  expect(r.headers['cache-control']).toBe('no-store');
  if (proxy === 'nginx') {
    expect(r.headers['content-length']).toBe('0');
    expect(r.text).toBe('');
  } else {
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual({ code: 'access_denied', message: 'access denied: caller_unauthenticated', decision_id: null, reasons: ['caller_unauthenticated'] });
  }
}

/** Neither the secret's value nor its header appears anywhere in an answer. */
function expectNoSecretIn(r: RawResponse): void {
  expect(Object.keys(r.headers)).not.toContain(SECRET_HEADER);
  expect(JSON.stringify(r.headers)).not.toContain(SECRET);
  expect(r.text).not.toContain(SECRET);
}

function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('with proxy.caller_secret, against the real service', () => {
  let t: TetherHandle;
  let idp: TestIdp;
  let logDir: string;
  let decisionLogFile: string;
  const logLines: string[] = [];
  const answers: RawResponse[] = [];
  const ask = async (proxy: Proxy, headers: Record<string, string>) => {
    const r = await check(t.port, proxy, headers);
    answers.push(r);
    return r;
  };
  const token = (email: string) => idp.sign({ sub: `u-${email}`, email, aud: AUD });

  beforeAll(async () => {
    idp = await startIdp();
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-caller-secret-'));
    decisionLogFile = path.join(logDir, 'decisions.log');
    t = await startTether(
      {
        proxy: {
          subject_header: 'X-Auth-Request-Email',
          caller_secret: SECRET,
          jwt: { issuer: idp.issuer, audience: AUD, jwks_uri: idp.jwksUri, subject_claim: 'email' },
          apps: [{ host: 'payroll.example.com', app: 'payroll' }],
          upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Device': 'device', 'X-Tether-Limited': 'limited', 'X-Tether-Exception': 'exception' },
        },
      },
      { TETHER_DECISION_LOG: decisionLogFile },
      { logger: createLogger('debug', (l) => logLines.push(l)) },
    );
    seedPeople(t);
  });

  afterAll(async () => {
    await t?.stop();
    await idp?.close();
    if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
  });

  test.each(PROXIES)('%s: the right secret and the trusted subject header get the normal decision', async (proxy) => {
    const r = await ask(proxy, withSecret(ALICE));
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-decision-id']).toMatch(UUID);
    expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    expect(r.headers['x-tether-device']).toBe('mac-alice');
    expectNoSecretIn(r);
    // Envoy removes the secret header from the upstream request along with the valueless upstream headers;
    // nginx and Traefik get nothing to copy (Traefik: list it in authResponseHeaders, which deletes it).
    if (proxy === 'envoy') expect(r.headers['x-envoy-auth-headers-to-remove']).toBe(`x-tether-exception, ${SECRET_HEADER}`);
    else expect(r.headers['x-envoy-auth-headers-to-remove']).toBeUndefined();

    // A normal deny stays a normal deny (a decision, with its id and reasons).
    const bob = await ask(proxy, withSecret({ 'x-auth-request-email': 'bob@example.com', 'x-device-id': 'pc-bob' }));
    expect(bob.status).toBe(403);
    expect(bob.headers['x-tether-reasons']).toBe('device_not_compliant');
    expect(bob.headers['x-tether-decision-id']).toMatch(UUID);
  });

  test.each(PROXIES)('%s: the right secret with a bearer JWT gets the normal decision; a bad JWT stays a 401', async (proxy) => {
    const ok = await ask(proxy, withSecret({ authorization: `Bearer ${await token('alice@example.com')}`, 'x-device-id': 'mac-alice' }));
    expect(ok.status).toBe(200);
    expect(ok.headers['x-tether-subject']).toBe('alice@example.com');
    const forged = await ask(proxy, withSecret({ authorization: `Bearer ${await idp.forge({ sub: 'x', email: 'alice@example.com', aud: AUD })}` }));
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toBe('Bearer realm="tether", error="invalid_token"');
  });

  test.each(PROXIES)('%s: no secret → 403 caller_unauthenticated, even with a valid subject header', async (proxy) => {
    expectCallerDeny(proxy, await ask(proxy, ALICE));
    // Nor without any credential: a 403, not the 401 challenge nginx would turn into a sign-in.
    expectCallerDeny(proxy, await ask(proxy, {}));
  });

  test.each(PROXIES)('%s: no secret → 403 caller_unauthenticated, even with a valid bearer JWT (no JWT work)', async (proxy) => {
    const before = idp.jwksFetches();
    expectCallerDeny(proxy, await ask(proxy, { authorization: `Bearer ${await token('alice@example.com')}`, 'x-device-id': 'mac-alice' }));
    // Tokens that would be a 401 or make Tether fetch the JWKS are not looked at either.
    expectCallerDeny(proxy, await ask(proxy, { authorization: `Bearer ${await idp.forge({ sub: 'x', email: 'alice@example.com', aud: AUD })}` }));
    expectCallerDeny(proxy, await ask(proxy, { authorization: `Bearer ${await idp.signWithKid({ sub: 'x', email: 'alice@example.com', aud: AUD }, 'kid-nobody-knows')}` }));
    expect(idp.jwksFetches()).toBe(before);
  });

  test.each(PROXIES)('%s: a wrong secret of the same length or of another length → 403 caller_unauthenticated', async (proxy) => {
    for (const [what, wrong] of WRONG_SECRETS) {
      const r = await ask(proxy, withSecret(ALICE, wrong));
      expect([what, r.status]).toEqual([what, 403]);
      expectCallerDeny(proxy, r);
    }
    // The secret in another header (Authorization included) does not count.
    expectCallerDeny(proxy, await ask(proxy, { ...ALICE, authorization: `Bearer ${SECRET}` }));
    expectCallerDeny(proxy, await ask(proxy, { ...ALICE, 'x-tether-proxy-secrets': SECRET }));
  });

  test('nginx: the caller is authenticated before the X-Original-Method check', async () => {
    const r = await check(t.port, 'nginx', { ...ALICE, 'x-original-method': '' });
    expectCallerDeny('nginx', r);
    answers.push(r);
    const authed = await ask('nginx', withSecret({ ...ALICE, 'x-original-method': '' }));
    expect(authed.headers['x-tether-reasons']).toBe('original_method_missing');
  });

  test('refused checks are counted like the other proxy denies (tether_http_requests_total, 403), never as decisions', async () => {
    const scrape = async () => (await fetch(`${t.url}/metrics`)).text();
    const before = await scrape();
    for (const proxy of PROXIES) await ask(proxy, ALICE);
    const after = await scrape();
    for (const route of ['/v1/authz/nginx', '/v1/authz/envoy/*rest', '/v1/authz/traefik']) {
      const re = new RegExp(`^tether_http_requests_total\\{method="GET",route="${route.replace(/[/*]/g, '\\$&')}",code="403"\\} (\\d+)$`, 'm');
      expect([route, metric(after, re) - metric(before, re)]).toEqual([route, 1]);
    }
    expect(after).not.toMatch(/tether_decisions_total\{[^}]*reason="caller_unauthenticated"/);
  });

  test('the secret never appears in an answer, the log or the decision log', async () => {
    // One more round of every kind, so this test stands on its own.
    for (const proxy of PROXIES) {
      await ask(proxy, withSecret(ALICE));
      await ask(proxy, withSecret(ALICE, SAME_LENGTH_WRONG));
      await ask(proxy, ALICE);
    }
    expect(answers.length).toBeGreaterThan(9);
    for (const r of answers) expectNoSecretIn(r);

    await (t.server.ctx.decisionLog as unknown as { flush(): Promise<void> }).flush();
    const decisions = fs.readFileSync(decisionLogFile, 'utf8');
    expect(decisions).toContain('"subject":"alice"'); // the allowed checks were logged…
    expect(decisions).not.toContain(SECRET); // …without the secret
    expect(decisions.toLowerCase()).not.toContain(SECRET_HEADER);
    expect(decisions).not.toContain('caller_unauthenticated'); // refused checks decide nothing

    expect(logLines.length).toBeGreaterThan(0);
    const log = logLines.join('');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(SAME_LENGTH_WRONG);
  });

  // Real nginx (scripts/nginx-test-setup.sh; required under CI like the other nginx tests): the auth
  // location sends the secret; the upstream never sees it, and a location without it gets a 403 — not the
  // `error_page 401 = @signin` redirect a 401 would have caused.
  const bin = findNginx();
  const usable = bin !== undefined && hasAuthRequest(bin);
  (usable || process.env.CI === 'true' ? describe : describe.skip)('behind real nginx', () => {
    let nginx: NginxHandle;
    let upstream: http.Server;
    const seen: http.IncomingHttpHeaders[] = [];

    beforeAll(async () => {
      if (!usable) throw new Error(`nginx with ngx_http_auth_request_module is required under CI (found: ${bin ?? 'none'})`);
      upstream = http.createServer((req, res) => {
        seen.push(req.headers);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream');
      });
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
      const upPort = (upstream.address() as AddressInfo).port;
      // The subject goes upstream; a 401 would send the user to sign in (nginx's usual error_page).
      const withSubject = ['auth_request_set $tether_subject $upstream_http_x_tether_subject;', 'proxy_set_header X-Tether-Subject $tether_subject;', 'error_page 401 = @signin;'];
      nginx = await startNginx(bin!, (port) => `
  upstream tether { server 127.0.0.1:${t.port}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
${protectedLocation('/payroll/', '/_tether_payroll', upPort, withSubject)}
${protectedLocation('/unsent/', '/_tether_unsent', upPort, withSubject)}
${tetherAuthLocation('/_tether_payroll', 'payroll', `proxy_set_header        X-Tether-Proxy-Secret "${SECRET}";`)}
${tetherAuthLocation('/_tether_unsent', 'payroll')}
    location @signin { return 302 https://login.example.com/; }
  }`);
    });

    afterAll(async () => {
      await nginx?.stop();
      await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    });

    const viaNginx = (prefix: string, headers: Record<string, string>) =>
      rawRequest(nginx.port, { path: `${prefix}reports?q=1`, headers: { host: 'payroll.example.com', ...headers } });

    test('the location that sends the secret is allowed, and the upstream never sees the secret', async () => {
      seen.length = 0;
      const r = await viaNginx('/payroll/', ALICE);
      expect(r.status).toBe(200);
      expect(r.text).toBe('upstream');
      expect(seen).toHaveLength(1);
      expect(seen[0]['x-tether-subject']).toBe('alice@example.com');
      expect(seen[0][SECRET_HEADER]).toBeUndefined();
      expect(JSON.stringify(seen[0])).not.toContain(SECRET);
      expectNoSecretIn(r);
      // A client's own guess is replaced by the auth location's proxy_set_header: still allowed, and
      // the upstream gets only the client's own value.
      const guessed = await viaNginx('/payroll/', { ...ALICE, 'X-Tether-Proxy-Secret': SAME_LENGTH_WRONG });
      expect(guessed.status).toBe(200);
      expect(JSON.stringify(seen)).not.toContain(SECRET);
    });

    test('a location that does not send it gets 403 caller_unauthenticated, never the sign-in redirect', async () => {
      seen.length = 0;
      for (const headers of [ALICE, {}, { authorization: `Bearer ${await token('alice@example.com')}` }] as Array<Record<string, string>>) {
        const r = await viaNginx('/unsent/', headers);
        expect(r.status).toBe(403);
        expect(r.headers.location).toBeUndefined();
        expect(r.headers['x-tether-reasons']).toBe('caller_unauthenticated');
        expectNoSecretIn(r);
      }
      expect(seen).toHaveLength(0);
      expect(nginx.errorLog()).not.toContain(SECRET);
    });
  });
});

describe('without proxy.caller_secret (unchanged behaviour), against the real service', () => {
  let t: TetherHandle;

  beforeAll(async () => {
    t = await startTether({
      proxy: {
        subject_header: 'X-Auth-Request-Email',
        apps: [{ host: 'payroll.example.com', app: 'payroll' }],
        upstream_headers: { 'X-Tether-Subject': 'subject', 'X-Tether-Exception': 'exception' },
      },
    });
    seedPeople(t);
  });

  afterAll(async () => {
    await t?.stop();
  });

  test.each(PROXIES)('%s: a check without the secret header is decided as before', async (proxy) => {
    const r = await check(t.port, proxy, ALICE);
    expect(r.status).toBe(200);
    expect(r.headers['x-tether-subject']).toBe('alice@example.com');
    if (proxy === 'envoy') expect(r.headers['x-envoy-auth-headers-to-remove']).toBe('x-tether-exception');
    // A secret header is ignored when no secret is configured.
    const ignored = await check(t.port, proxy, withSecret(ALICE, 'anything-at-all-here'));
    expect(ignored.status).toBe(200);
    const nobody = await check(t.port, proxy, {});
    expect(nobody.status).toBe(401);
    expect(nobody.headers['www-authenticate']).toBe('Bearer realm="tether"');
  });
});

describe('every /v1/authz/* front door authenticates the caller first', () => {
  const allow = (): Decision => ({
    decision_id: '0b9d6f2e-4c1a-4e8b-9f3d-2a7c5e1b8d40', allow: true, limited: false, reasons: [], obligations: [],
    lifecycle: 'active', exception: null, policy_revision: 'r1',
  });
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startIdp();
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await idp?.close();
  });

  test('without the secret no route resolves a subject, verifies a JWT or decides; with it they do', async () => {
    const config = parseCallersConfig({
      proxy: {
        subject_header: 'X-Auth-Request-Email', caller_secret: SECRET, envoy_prefix: '/v1/authz/envoy/edge',
        jwt: { issuer: idp.issuer, audience: AUD, jwks: idp.jwks, subject_claim: 'email' }, default_app: 'payroll',
      },
    });
    const resolve = jest.spyOn(SubjectResolver.prototype, 'resolve');
    const decide = jest.fn((_req: DecideRequest) => allow());
    const routes = callersDirectRoutes({ decide }, config).filter((r) => r.path.toLowerCase().startsWith('/v1/authz'));
    expect(routes.map((r) => r.path).sort()).toEqual(['/v1/authz/envoy', '/v1/authz/nginx', '/v1/authz/traefik']);
    const bearer = `Bearer ${await idp.sign({ sub: 'u-1', email: 'alice@example.com', aud: AUD })}`;
    for (const route of routes) {
      const served = await serveHandler(route.handle);
      try {
        // Envoy: inside and outside the configured prefix (the latter would be check_path_unknown);
        // nginx: without X-Original-Method (original_method_missing) — the caller comes first either way.
        const paths = route.prefix ? [`${route.path}/edge/x`, `${route.path}/other`] : [route.path];
        for (const p of paths) {
          for (const headers of [{}, { 'x-auth-request-email': 'alice@example.com' }, { authorization: bearer }, { authorization: bearer, [SECRET_HEADER]: SAME_LENGTH_WRONG }] as Array<Record<string, string>>) {
            const r = await rawRequest(served.port, { path: p, headers });
            expect([p, r.status, r.headers['x-tether-reasons']]).toEqual([p, 403, 'caller_unauthenticated']);
          }
        }
        expect(resolve).not.toHaveBeenCalled();
        expect(decide).not.toHaveBeenCalled();
        const ok = await rawRequest(served.port, {
          path: route.prefix ? `${route.path}/edge/x` : route.path,
          headers: { authorization: bearer, 'x-original-method': 'GET', [SECRET_HEADER]: SECRET },
        });
        expect([route.path, ok.status]).toEqual([route.path, 200]);
        expect(resolve).toHaveBeenCalledTimes(1);
        expect(decide).toHaveBeenCalledTimes(1);
      } finally {
        resolve.mockClear();
        decide.mockClear();
        await served.close();
      }
    }
  });

  test('callerRefusal: nothing configured lets every caller through; configured, only the exact value', () => {
    const open = parseCallersConfig({}).proxy;
    expect(callerRefusal(open, {})).toBeUndefined();
    const cfg = parseCallersConfig({ proxy: { caller_secret: SECRET, caller_secret_header: 'X-Edge-Key' } }).proxy;
    expect(callerRefusal(cfg, { 'x-edge-key': SECRET })).toBeUndefined();
    expect(callerRefusal(cfg, { [SECRET_HEADER]: SECRET })).toMatchObject({ status: 403, headers: { 'X-Tether-Reasons': 'caller_unauthenticated' } });
    expect(callerRefusal(cfg, { 'x-edge-key': `${SECRET}, ${SECRET}` })?.status).toBe(403); // a repeated header
    expect(callerRefusal(cfg, { 'x-edge-key': '' })?.status).toBe(403);
  });

  test('formatDecision: only Envoy answers name the secret header for removal, and only with a secret', () => {
    const d = allow();
    const ctx = { subject: 'a', app: 'payroll' };
    const cfg = parseCallersConfig({ proxy: { caller_secret: SECRET, upstream_headers: { 'X-Tether-Subject': 'subject' } } }).proxy;
    expect(formatDecision(cfg, d, ctx, 'envoy').headers['x-envoy-auth-headers-to-remove']).toBe(SECRET_HEADER);
    expect(formatDecision(cfg, d, ctx, 'traefik').headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
    const open = parseCallersConfig({ proxy: { upstream_headers: { 'X-Tether-Subject': 'subject' } } }).proxy;
    expect(formatDecision(open, d, ctx, 'envoy').headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
  });
});

describe('start-up warning', () => {
  // Through a real start: the warnings the callers' routes log when the server builds them.
  const warned = async (doc: Record<string, unknown>) => {
    const lines: string[] = [];
    const t = await startTether(doc, {}, { logger: createLogger('debug', (l) => lines.push(l)) });
    await t.stop();
    return lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.msg.includes('caller_secret'));
  };

  test('exactly one warning when proxy.subject_header is set without proxy.caller_secret', async () => {
    const lines = await warned({ proxy: { subject_header: 'X-Auth-Request-Email' } });
    expect(lines).toEqual([{
      level: 'warn', time: expect.any(String),
      msg: "proxy.subject_header is set without proxy.caller_secret: anyone who can reach /v1/authz/* can ask for any subject's decision; set TETHER_PROXY_SECRET and send it from the proxy (X-Tether-Proxy-Secret)",
    }]);
    expect(callersStartWarnings(parseCallersConfig({}, { TETHER_PROXY_SUBJECT_HEADER: 'X-Auth-Request-Email', TETHER_PROXY_SECRET_HEADER: 'X-Edge-Key' })))
      .toEqual([expect.stringMatching(/send it from the proxy \(X-Edge-Key\)$/)]);
  });

  test('no warning with a secret, or without a trusted subject header', async () => {
    expect(await warned({ proxy: { subject_header: 'X-Auth-Request-Email', caller_secret: SECRET } })).toEqual([]);
    expect(callersStartWarnings(parseCallersConfig({}, { TETHER_PROXY_SUBJECT_HEADER: 'X-Auth-Request-Email', TETHER_PROXY_SECRET: SECRET }))).toEqual([]);
    expect(await warned({})).toEqual([]);
    expect(callersStartWarnings(parseCallersConfig({ proxy: { caller_secret: SECRET } }))).toEqual([]);
  });
});

describe('configuration', () => {
  function problems(doc: unknown, env: NodeJS.ProcessEnv = {}) {
    try {
      parseCallersConfig(doc, env);
    } catch (err) {
      expect(err).toBeInstanceOf(CallersConfigError);
      return (err as CallersConfigError).problems;
    }
    throw new Error('expected the configuration to be rejected');
  }

  test('defaults: no secret, header X-Tether-Proxy-Secret; env TETHER_PROXY_SECRET / TETHER_PROXY_SECRET_HEADER set them', () => {
    const plain = parseCallersConfig({}).proxy;
    expect(plain.caller_secret).toBeUndefined();
    expect(plain.caller_secret_header).toBe('X-Tether-Proxy-Secret');
    const fromEnv = parseCallersConfig({ proxy: { caller_secret: 'from-the-file-0123456789' } }, { TETHER_PROXY_SECRET: SECRET, TETHER_PROXY_SECRET_HEADER: 'X-Edge-Key' }).proxy;
    expect(fromEnv.caller_secret).toBe(SECRET);
    expect(fromEnv.caller_secret_header).toBe('X-Edge-Key');
  });

  test('a secret shorter than 16 characters is refused, naming the key (and the variable), never the value', () => {
    const short = 'short-secret-15'; // 15 characters
    expect(short).toHaveLength(15);
    expect(problems({ proxy: { caller_secret: short } })).toEqual([{ key: 'proxy.caller_secret', message: 'must NOT have fewer than 16 characters' }]);
    expect(problems({}, { TETHER_PROXY_SECRET: short })).toEqual([
      { key: 'proxy.caller_secret', message: 'must NOT have fewer than 16 characters (set by TETHER_PROXY_SECRET)' },
    ]);
    expect(() => loadCallersConfig({ env: { TETHER_PROXY_SECRET: short } })).toThrow(/^invalid callers configuration: proxy\.caller_secret: must NOT have fewer than 16 characters \(set by TETHER_PROXY_SECRET\)$/);
    expect(() => loadCallersConfig({ env: { TETHER_PROXY_SECRET: short } })).not.toThrow(new RegExp(short));
    expect(parseCallersConfig({ proxy: { caller_secret: 'exactly-16-chars' } }).proxy.caller_secret).toHaveLength(16);
  });

  test('a secret no header can carry as is (blanks at the ends, control or non-ASCII characters) is refused', () => {
    for (const bad of [` ${SECRET}`, `${SECRET} `, `${SECRET}\n`, `${SECRET}\u00e9`, `tab\there-0123456789`]) {
      expect(problems({ proxy: { caller_secret: bad } })).toEqual([
        { key: 'proxy.caller_secret', message: 'must be visible ASCII characters, without leading or trailing spaces' },
      ]);
    }
    expect(parseCallersConfig({ proxy: { caller_secret: 'with inner spaces 0123' } }).proxy.caller_secret).toBe('with inner spaces 0123');
  });

  test('a bad header name is refused, from the file or from env', () => {
    for (const bad of ['X Tether Secret', 'X-Secret:', '', 'Sécret']) {
      expect(problems({ proxy: { caller_secret: SECRET, caller_secret_header: bad } }).map((p) => p.key)).toEqual(['proxy.caller_secret_header']);
    }
    const p = problems({}, { TETHER_PROXY_SECRET: SECRET, TETHER_PROXY_SECRET_HEADER: 'bad header' });
    expect(p.map((x) => x.key)).toEqual(['proxy.caller_secret_header']);
    expect(p[0].message).toMatch(/\(set by TETHER_PROXY_SECRET_HEADER\)$/);
  });

  test('the secret header must be one of its own: not the subject, device or cert header, an answer header or Authorization', () => {
    const base = { caller_secret: SECRET, subject_header: 'X-Auth-Request-Email', client_cert_header: 'X-Forwarded-Client-Cert', upstream_headers: { 'X-Tether-Subject': 'subject' } };
    const clash = (caller_secret_header: string) => problems({ proxy: { ...base, caller_secret_header } });
    expect(clash('x-auth-request-email')).toEqual([{ key: 'proxy.caller_secret_header', message: 'must differ from proxy.subject_header' }]);
    expect(clash('X-Device-Id')).toEqual([{ key: 'proxy.caller_secret_header', message: 'must differ from proxy.device_header' }]);
    expect(clash('X-Forwarded-Client-Cert')).toEqual([{ key: 'proxy.caller_secret_header', message: 'must differ from proxy.client_cert_header' }]);
    for (const h of ['X-Tether-Subject', 'X-Tether-Reasons', 'X-Tether-Decision-Id']) {
      expect(clash(h)).toEqual([{ key: 'proxy.caller_secret_header', message: expect.stringMatching(/^must not be a header the proxy checks answer with/) }]);
    }
    for (const h of ['Authorization', 'X-Forwarded-Host', 'X-Original-URI', 'Host']) {
      expect(clash(h)).toEqual([{ key: 'proxy.caller_secret_header', message: `must not be ${h}, which the proxy checks read for the user or the original request` }]);
    }
    expect(problems({}, { TETHER_PROXY_SUBJECT_HEADER: 'X-Key', TETHER_PROXY_SECRET: SECRET, TETHER_PROXY_SECRET_HEADER: 'X-Key' })).toEqual([
      { key: 'proxy.caller_secret_header', message: 'must differ from proxy.subject_header (set by TETHER_PROXY_SECRET_HEADER)' },
    ]);
    // Without a secret the header is not used, so nothing to refuse.
    expect(() => parseCallersConfig({ proxy: { subject_header: 'X-Key', caller_secret_header: 'X-Key' } })).not.toThrow();
  });

  test('every request header the proxy checks read by name is refused as the secret header (the hand list in config.ts keeps up with proxy-request.ts)', () => {
    const sources = ['proxy-request.ts', 'subject.ts'].map((f) => fs.readFileSync(path.join(__dirname, '../../src/callers', f), 'utf8'));
    const read = new Set(sources.flatMap((src) => [...src.matchAll(/\bheader\(\s*[\w.]+\s*,\s*'([^']+)'\s*\)/g)].map((m) => m[1].toLowerCase())));
    expect(read.size).toBeGreaterThanOrEqual(12); // the scan finds the reads (x-forwarded-*, x-original-*, host, authorization...)
    for (const h of read) {
      expect([h, problems({ proxy: { caller_secret: SECRET, caller_secret_header: h } })]).toEqual([h, [{ key: 'proxy.caller_secret_header', message: `must not be ${h}, which the proxy checks read for the user or the original request` }]]);
    }
  });

  test('the shipped example configures a secret and stays valid', () => {
    const example = path.join(__dirname, '../../src/callers/callers.example.json');
    const c = loadCallersConfig({ file: example, env: {} });
    expect(c.proxy.caller_secret_header).toBe('X-Tether-Proxy-Secret');
    expect(c.proxy.caller_secret).toEqual(expect.any(String));
  });
});
