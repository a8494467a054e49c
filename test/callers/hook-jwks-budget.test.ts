// The IdP hooks' time budget when the caller's JWT is checked against a remote JWKS: a JWKS endpoint that
// hangs, one that is slow but in time, and a key rotation picked up by the background refresh. Okta and
// Entra authenticate with bearer JWTs from a test IdP (a real loopback JWKS endpoint); the hooks are the
// real handlers, deciding with the real service's decider and store. Okta gives up after 3 s and then
// issues the token unmodified (protocols.md §5.5), Entra after at most 2 s and then fails sign-in (§6.5):
// the hook must answer before, with its own documented deny.
import { contextDecide, storeOwnedDevices } from '../../src/api/routes/callers';
import { parseCallersConfig } from '../../src/callers/config';
import { entraHookHandler } from '../../src/callers/entra';
import type { HookDeps } from '../../src/callers/hook-decide';
import { oktaHookHandler } from '../../src/callers/okta';
import { clockAhead, fakeIntervalsOnly, timed, until } from './helpers/clock';
import { rawRequest, serveHandler, type RawResponse } from './helpers/http';
import { entraTokenIssuanceStartBody, ENTRA_APP, ENTRA_TENANT, oktaTokenHookBody } from './helpers/idp-payloads';
import { startIdp, type TestIdp } from './helpers/idp';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const EVENTS_SERVICE = '99045fe1-7639-4a75-9d4a-577b6ca3810f';
const ENTRA_AUD = 'api://tether.example.com/3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7';
const OKTA_AUD = 'api://tether-hook';
/** Past the least interval between request-triggered JWKS fetches (30 s): an unknown kid may refetch. */
const PAST_REFETCH_INTERVAL = 31_000;

/** One IdP hook as its IdP calls it, and its documented answers. */
interface Caller {
  name: string;
  path: string;
  issuer: string;
  /** The hook's configuration with its JWT auth against `idp` (plus `extra` auth keys). */
  config(idp: TestIdp, extra?: Record<string, unknown>): Record<string, unknown>;
  handler(deps: HookDeps, config: Record<string, unknown>): ReturnType<typeof oktaHookHandler>;
  /** The claims of the caller's own bearer token. */
  claims: { aud: string; [claim: string]: unknown };
  /** The IdP's documented request for alice (compliant device: allowed). */
  body(): unknown;
  /** timeout_ms in effect (the default). */
  budget: number;
  /** The documented answer when the decision cannot be made (keys unavailable, budget spent). */
  unavailable: { status: number; body: unknown };
  allowed(r: RawResponse): boolean;
}

const oktaUnavailable = {
  status: 200,
  body: {
    error: {
      errorSummary: 'Tether denied token issuance: decision_unavailable',
      errorCauses: [{ errorSummary: 'decision_unavailable', reason: 'decision_unavailable', locationType: 'body', location: 'data.context.user', domain: 'tether' }],
    },
    debugContext: { tether_decision_id: null, tether_reasons: 'decision_unavailable' },
  },
};

const entraDenyClaims = {
  status: 200,
  body: {
    data: {
      '@odata.type': 'microsoft.graph.onTokenIssuanceStartResponseData',
      actions: [{
        '@odata.type': 'microsoft.graph.tokenIssuanceStart.provideClaimsForToken',
        claims: { tether_decision: 'deny', tether_device_trust: 'untrusted', tether_lifecycle: 'unknown', tether_reasons: ['decision_unavailable'] },
      }],
    },
  },
};

const entraFail = {
  status: 403,
  body: { code: 'access_denied', message: 'access denied: decision_unavailable', decision_id: null, reasons: ['decision_unavailable'] },
};

const okta: Caller = {
  name: 'Okta token inline hook',
  path: '/v1/hooks/okta/token',
  issuer: 'https://example.okta.com/oauth2/default',
  config: (idp, extra = {}) => ({
    auth: { type: 'jwt', issuer: idp.issuer, audience: OKTA_AUD, jwks_uri: idp.jwksUri, ...extra },
    client_apps: { customClientIdNative: 'email' },
  }),
  handler: (deps, config) => oktaHookHandler(deps, parseCallersConfig({ okta: config }).okta),
  claims: { aud: OKTA_AUD, sub: '0oaHOOKCLIENT', cid: '0oaHOOKCLIENT' },
  body: oktaTokenHookBody,
  budget: 1500,
  unavailable: oktaUnavailable,
  allowed: (r) => r.status === 200 && Array.isArray(r.json().commands) && r.json().commands.length === 2 && r.json().error === undefined,
};

const entraCaller = (denyMode: 'claim' | 'fail'): Caller => ({
  name: `Entra custom claims provider (deny_mode ${denyMode})`,
  path: '/v1/hooks/entra/token-issuance-start',
  issuer: `https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`,
  config: (idp, extra = {}) => ({
    auth: { type: 'jwt', issuer: idp.issuer, audience: ENTRA_AUD, jwks_uri: idp.jwksUri, ...extra },
    app_map: { [ENTRA_APP]: 'payroll' },
    deny_mode: denyMode,
  }),
  handler: (deps, config) => entraHookHandler(deps, parseCallersConfig({ entra: config }).entra),
  claims: { aud: ENTRA_AUD, azp: EVENTS_SERVICE, tid: ENTRA_TENANT, ver: '2.0' },
  body: entraTokenIssuanceStartBody,
  budget: 700,
  unavailable: denyMode === 'claim' ? entraDenyClaims : entraFail,
  allowed: (r) => r.status === 200 && r.json().data.actions[0].claims.tether_decision === 'allow',
});

const CALLERS = [okta, entraCaller('claim'), entraCaller('fail')];

/** POSTs the IdP's request with its bearer token, JSON both ways. */
function call(port: number, c: Caller, token: string): Promise<RawResponse> {
  return rawRequest(port, {
    method: 'POST',
    path: c.path,
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(c.body()),
  });
}

const answer = (r: RawResponse) => ({ status: r.status, body: r.json() });

/** The caller's bearer token, signed with the IdP's first key, or its rotated one (published after rotate()). */
const tokenOf = (c: Caller, idp: TestIdp, rotated = false) => (rotated ? idp.signRotated(c.claims) : idp.sign(c.claims));

let t: TetherHandle;
let deps: HookDeps;
// The IdPs behind the service's own routes: their JWKS endpoints hang from the start.
let oktaIdp: TestIdp;
let entraIdp: TestIdp;

beforeAll(async () => {
  oktaIdp = await startIdp(okta.issuer);
  entraIdp = await startIdp(entraCaller('claim').issuer);
  oktaIdp.jwksBehaviour.hang = true;
  entraIdp.jwksBehaviour.hang = true;
  t = await startTether({ okta: okta.config(oktaIdp), entra: entraCaller('claim').config(entraIdp) });
  seedPeople(t);
  deps = { decide: contextDecide(t.server.ctx), ownedDevices: storeOwnedDevices(t.server.ctx.store) };
});

afterAll(async () => {
  await t?.stop();
  await oktaIdp?.close();
  await entraIdp?.close();
});

describe('the service: JWKS endpoints that never answer', () => {
  test.each([okta, entraCaller('claim')])('$name answers its documented failure answer within its budget', async (c) => {
    const idp = c === okta ? oktaIdp : entraIdp;
    for (let i = 0; i < 2; i++) { // the first joins or starts the hanging fetch; the next may not start another
      const r = await timed(call(t.port, c, await tokenOf(c, idp)));
      expect(r.ms).toBeLessThan(c.budget + 500);
      expect(answer(r.v)).toEqual(c.unavailable);
    }
  });
});

describe.each(CALLERS)('$name: JWT verification inside the budget', (c) => {
  let idp: TestIdp;
  let hook: { port: number; close(): Promise<void> } | undefined;
  /** The hook with a fresh key cache, built now (its JWKS fetch starts now). */
  const startHook = async (extra?: Record<string, unknown>) => {
    hook = await serveHandler(c.handler(deps, c.config(idp, extra)));
    return hook.port;
  };

  beforeEach(async () => { idp = await startIdp(c.issuer); });
  afterEach(async () => {
    jest.useRealTimers();
    jest.restoreAllMocks();
    await hook?.close();
    hook = undefined;
    await idp.close();
  });

  test('a JWKS endpoint that never answers: the documented failure answer, inside the budget', async () => {
    idp.jwksBehaviour.hang = true;
    const port = await startHook();
    for (let i = 0; i < 3; i++) {
      const r = await timed(call(port, c, await tokenOf(c, idp)));
      expect(r.ms).toBeLessThan(c.budget + 500);
      expect(answer(r.v)).toEqual(c.unavailable);
    }
  });

  test('keys cached, then the JWKS hangs: a known kid is still allowed; a rotated kid gets the failure answer in time', async () => {
    const port = await startHook();
    expect(c.allowed(await call(port, c, await tokenOf(c, idp)))).toBe(true);
    idp.jwksBehaviour.hang = true;
    idp.rotate();
    clockAhead(PAST_REFETCH_INTERVAL); // so the unknown kid does refetch (from the hanging endpoint)
    const known = await timed(call(port, c, await tokenOf(c, idp)));
    expect(c.allowed(known.v)).toBe(true);
    expect(known.ms).toBeLessThan(c.budget);
    const rotated = await timed(call(port, c, await tokenOf(c, idp, true)));
    expect(rotated.ms).toBeLessThan(c.budget + 500);
    expect(answer(rotated.v)).toEqual(c.unavailable);
  });

  test('a slow JWKS that answers within the budget: the call waits for it and is allowed', async () => {
    idp.jwksBehaviour.delayMs = Math.round(c.budget / 2);
    const port = await startHook(); // the first call joins the start-up fetch
    const first = await timed(call(port, c, await tokenOf(c, idp)));
    expect(c.allowed(first.v)).toBe(true);
    expect(first.ms).toBeLessThan(c.budget + 500);
    // A rotated key the cache lacks: one fetch on the call's behalf, as slow, still in time.
    idp.rotate();
    clockAhead(PAST_REFETCH_INTERVAL);
    const before = idp.jwksFetches();
    const rotated = await timed(call(port, c, await tokenOf(c, idp, true)));
    expect(c.allowed(rotated.v)).toBe(true);
    expect(rotated.ms).toBeLessThan(c.budget + 500);
    expect(idp.jwksFetches()).toBe(before + 1);
  });

  test('a flood of calls naming random kids while the JWKS fails: each gets the failure answer in time; the IdP sees one fetch', async () => {
    const port = await startHook();
    expect(c.allowed(await call(port, c, await tokenOf(c, idp)))).toBe(true);
    idp.jwksBehaviour.down = true;
    clockAhead(PAST_REFETCH_INTERVAL);
    const before = idp.jwksFetches();
    for (let i = 0; i < 10; i++) {
      const r = await timed(call(port, c, await idp.signWithKid(c.claims, `random-${i}`)));
      expect(r.ms).toBeLessThan(c.budget + 500);
      expect(answer(r.v)).toEqual(c.unavailable);
    }
    expect(idp.jwksFetches()).toBe(before + 1);
  });

  test('the background refresh picks up a rotated key (new kid): the first call using it pays no fetch', async () => {
    fakeIntervalsOnly(); // the refresh timer only; sockets, fetch timeouts and the budget keep real time
    const port = await startHook({ jwks_refresh_seconds: 10 });
    expect(c.allowed(await call(port, c, await tokenOf(c, idp)))).toBe(true);
    idp.rotate();
    const before = idp.jwksFetches();
    jest.advanceTimersByTime(10_000);
    await until(() => idp.jwksFetches() > before, 5000, 'the background refresh');
    idp.jwksBehaviour.hang = true; // a call that fetched now would wait out its budget
    const r = await timed(call(port, c, await tokenOf(c, idp, true)));
    expect(c.allowed(r.v)).toBe(true);
    expect(r.ms).toBeLessThan(c.budget);
    expect(idp.jwksFetches()).toBe(before + 1);
  });
});
