// Entra custom claims provider (OnTokenIssuanceStart) against the real service, with protocols.md §6.3's
// request body and variations, asserting the exact provideClaimsForToken shape of §6.4 and the deny modes.
import { parseCallersConfig } from '../../src/callers/config';
import { answerEntraHook } from '../../src/callers/entra';
import { contextDecide, storeOwnedDevices } from '../../src/api/routes/callers';
import { rawRequest } from './helpers/http';
import { entraBodyFor, entraTokenIssuanceStartBody, ENTRA_APP, ENTRA_TENANT } from './helpers/idp-payloads';
import { startIdp, type TestIdp } from './helpers/idp';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EVENTS_SERVICE = '99045fe1-7639-4a75-9d4a-577b6ca3810f';
const API_AUD = `api://tether.example.com/${'3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7'}`;
const PATH = '/v1/hooks/entra/token-issuance-start';

let t: TetherHandle;
let idp: TestIdp;

beforeAll(async () => {
  idp = await startIdp(`https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`);
  t = await startTether({
    entra: {
      auth: { type: 'jwt', issuer: [idp.issuer, `https://sts.windows.net/${ENTRA_TENANT}/`], audience: API_AUD, jwks_uri: idp.jwksUri },
      app_map: { [ENTRA_APP]: 'payroll' },
    },
  });
  seedPeople(t);
});

afterAll(async () => {
  await t?.stop();
  await idp?.close();
});

/** The bearer token Entra's authentication events service presents (v2: azp). */
const eventsToken = () => idp.sign({ aud: API_AUD, azp: EVENTS_SERVICE, tid: ENTRA_TENANT, sub: EVENTS_SERVICE, ver: '2.0' });

async function call(body: unknown, auth?: string | null) {
  const token = auth === undefined ? await eventsToken() : auth;
  return rawRequest(t.port, {
    method: 'POST',
    path: PATH,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function claimsResponse(claims: Record<string, unknown>) {
  return {
    data: {
      '@odata.type': 'microsoft.graph.onTokenIssuanceStartResponseData',
      actions: [{ '@odata.type': 'microsoft.graph.tokenIssuanceStart.provideClaimsForToken', claims }],
    },
  };
}

/** Entra accepts only strings and string arrays as claim values (§6.4, gotcha 2). */
function expectEntraTypes(body: any) {
  for (const v of Object.values(body.data.actions[0].claims)) {
    expect(typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'))).toBe(true);
  }
}

describe('Entra custom claims provider', () => {
  test('the documented request for a compliant user: one provideClaimsForToken action with string claims', async () => {
    const r = await call(entraTokenIssuanceStartBody());
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.json();
    expect(body).toEqual(claimsResponse({
      tether_decision: 'allow', tether_device_trust: 'trusted', tether_lifecycle: 'healthy',
      tether_decision_id: expect.stringMatching(UUID),
    }));
    expectEntraTypes(body);
  });

  test('an object id Tether does not know falls back to the UPN alias', async () => {
    const r = await call(entraBodyFor('0b0e0f00-1111-4222-8333-444455556666', 'alice@contoso.com'));
    expect(r.json().data.actions[0].claims.tether_decision).toBe('allow');
  });

  test('unknown user (deny_mode claim): token issued with tether_decision=deny and the reasons', async () => {
    const r = await call(entraBodyFor('0b0e0f00-aaaa-4bbb-8ccc-ddddeeeeffff', 'mallory@contoso.com'));
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body).toEqual(claimsResponse({
      tether_decision: 'deny', tether_device_trust: 'untrusted', tether_lifecycle: 'unknown',
      tether_decision_id: expect.stringMatching(UUID), tether_reasons: ['identity_unknown'],
    }));
    expectEntraTypes(body);
  });

  test('inactive user: deny claims with identity_not_active', async () => {
    const r = await call(entraBodyFor('c0c0c0c0-1111-4222-8333-444455556666', 'carol@contoso.com'));
    expect(r.json().data.actions[0].claims).toMatchObject({ tether_decision: 'deny', tether_reasons: ['identity_not_active'] });
  });

  test('non-compliant device only: deny claims with the device reason', async () => {
    const r = await call(entraBodyFor('b0b0b0b0-1111-4222-8333-444455556666', 'bob@contoso.com'));
    expect(r.json().data.actions[0].claims).toMatchObject({ tether_decision: 'deny', tether_device_trust: 'untrusted', tether_reasons: ['device_not_compliant'] });
  });

  test('missing user or malformed body: 400 naming the field (Entra fails closed: no token)', async () => {
    const noUser = entraTokenIssuanceStartBody();
    delete noUser.data.authenticationContext.user;
    let r = await call(noUser);
    expect(r.status).toBe(400);
    expect(r.json()).toEqual({ code: 'invalid_input', message: 'not an OnTokenIssuanceStart request', errors: [{ path: '/data/authenticationContext/user', message: 'is required' }] });

    const wrongType = { ...entraTokenIssuanceStartBody(), type: 'microsoft.graph.authenticationEvent.attributeCollectionStart' };
    r = await call(wrongType);
    expect(r.status).toBe(400);
    expect(r.json().errors).toEqual([{ path: '/type', message: 'must be microsoft.graph.authenticationEvent.tokenIssuanceStart' }]);

    r = await call('{"type": "microsoft.graph');
    expect(r.status).toBe(400);
    expect(r.json()).toEqual({ code: 'invalid_input', message: 'request body is not valid JSON', errors: [{ path: '', message: 'is not valid JSON' }] });
  });

  test('authentication: missing or forged token 401; a token for another caller 403; v1 appid accepted', async () => {
    expect((await call(entraTokenIssuanceStartBody(), null)).status).toBe(401);
    const forged = await idp.forge({ aud: API_AUD, azp: EVENTS_SERVICE });
    const f = await call(entraTokenIssuanceStartBody(), forged);
    expect(f.status).toBe(401);
    expect(f.json().reason).toBe('credential_invalid');
    const otherApp = await idp.sign({ aud: API_AUD, azp: '11111111-2222-4333-8444-555555555555' });
    const o = await call(entraTokenIssuanceStartBody(), otherApp);
    expect(o.status).toBe(403);
    expect(o.json()).toEqual({ code: 'forbidden', message: 'caller is not the Entra authentication events service', reason: 'caller_not_allowed' });
    const wrongAud = await idp.sign({ aud: 'api://not-us', azp: EVENTS_SERVICE });
    expect((await call(entraTokenIssuanceStartBody(), wrongAud)).status).toBe(401);
    const v1 = await idp.sign({ aud: API_AUD, appid: EVENTS_SERVICE, ver: '1.0' }, { issuer: `https://sts.windows.net/${ENTRA_TENANT}/` });
    expect((await call(entraTokenIssuanceStartBody(), v1)).status).toBe(200);
  });

  test('deny_mode "fail": a deny is a 403 so Entra issues no token; an allow is unchanged', async () => {
    const cfg = parseCallersConfig({ entra: { deny_mode: 'fail', app_map: { [ENTRA_APP]: 'payroll' } } }).entra;
    const deps = { decide: contextDecide(t.server.ctx), ownedDevices: storeOwnedDevices(t.server.ctx.store) };
    const denied = await answerEntraHook(deps, cfg, entraBodyFor('c0c0c0c0-1111-4222-8333-444455556666', 'carol@contoso.com'));
    expect(denied).toEqual({
      status: 403,
      body: { code: 'access_denied', message: 'access denied: identity_not_active', decision_id: expect.stringMatching(UUID), reasons: ['identity_not_active'] },
    });
    const allowed = await answerEntraHook(deps, cfg, entraTokenIssuanceStartBody());
    expect(allowed.status).toBe(200);
    expect((allowed.body as any).data.actions[0].claims.tether_decision).toBe('allow');
  });
});
