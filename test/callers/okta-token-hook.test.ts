// Okta token inline hook against the real service, with protocols.md §5.3's request body and variations
// (missing, unknown, inactive user, malformed body), asserting the exact response shapes of §5.4.
import { rawRequest } from './helpers/http';
import { oktaBodyFor, oktaTokenHookBody } from './helpers/idp-payloads';
import { seedPeople, startTether, type TetherHandle } from './helpers/tether';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET = 'okta-hook-secret-6f1c2a9e0b7d';
const PATH = '/v1/hooks/okta/token';

let t: TetherHandle;

beforeAll(async () => {
  t = await startTether({
    okta: {
      auth: { type: 'header', header: 'Authorization', secret: SECRET },
      client_apps: { customClientIdNative: 'email', payrollWeb: 'payroll' },
    },
  });
  seedPeople(t);
});

afterAll(async () => {
  await t?.stop();
});

/** POSTs as Okta does: static Authorization header verbatim, JSON both ways. */
function hook(body: unknown, headers: Record<string, string> = { authorization: SECRET }) {
  return rawRequest(t.port, {
    method: 'POST',
    path: PATH,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const patches = (trust: string, lifecycle: string) => [
  { op: 'add', path: '/claims/tether_device_trust', value: trust },
  { op: 'add', path: '/claims/tether_lifecycle', value: lifecycle },
];

function denial(reasons: string[], decisionId: unknown) {
  return {
    error: {
      errorSummary: `Tether denied token issuance: ${reasons.join(', ')}`,
      errorCauses: reasons.map((r) => ({ errorSummary: r, reason: r, locationType: 'body', location: 'data.context.user', domain: 'tether' })),
    },
    debugContext: { tether_decision_id: decisionId, tether_reasons: reasons.join(',') },
  };
}

describe('Okta token inline hook', () => {
  test('the documented request for a compliant user: commands add the claims to both tokens', async () => {
    const r = await hook(oktaTokenHookBody());
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.json();
    expect(body).toEqual({
      commands: [
        { type: 'com.okta.identity.patch', value: patches('trusted', 'healthy') },
        { type: 'com.okta.access.patch', value: patches('trusted', 'healthy') },
      ],
      debugContext: { tether_decision_id: expect.stringMatching(UUID), tether_reasons: '' },
    });
  });

  test('a user unknown by Okta id is resolved by the login alias', async () => {
    const r = await hook(oktaBodyFor('00uNOTKNOWNTOTETHER01', 'alice@example.com'));
    expect(r.json().commands).toHaveLength(2);
  });

  test('only the tokens being minted are patched (an access patch without an access token voids all commands)', async () => {
    const idOnly = oktaTokenHookBody();
    delete idOnly.data.access;
    idOnly.data.context.protocol.request.response_type = 'id_token';
    expect(r2(await hook(idOnly))).toEqual([{ type: 'com.okta.identity.patch', value: patches('trusted', 'healthy') }]);

    const accessOnly = oktaTokenHookBody();
    delete accessOnly.data.identity;
    expect(r2(await hook(accessOnly))).toEqual([{ type: 'com.okta.access.patch', value: patches('trusted', 'healthy') }]);

    function r2(r: { json(): any }) { return r.json().commands; }
  });

  test('missing user: 200 with the error object (deny, because Okta fails open on anything else)', async () => {
    const b = oktaTokenHookBody();
    delete b.data.context.user;
    delete b.data.context.session;
    const r = await hook(b);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual(denial(['user_missing'], null));
  });

  test('unknown user: error identity_unknown', async () => {
    const r = await hook(oktaBodyFor('00uMALLORY0000000001', 'mallory@example.com'));
    expect(r.status).toBe(200);
    expect(r.json()).toEqual(denial(['identity_unknown'], expect.stringMatching(UUID)));
  });

  test('inactive (suspended) user: error identity_not_active', async () => {
    const r = await hook(oktaBodyFor('00ucarolOKTAid0000001', 'carol@example.com'));
    expect(r.json()).toEqual(denial(['identity_not_active'], expect.stringMatching(UUID)));
  });

  test("a user whose only device is non-compliant: the device's reason, not a generic one", async () => {
    const r = await hook(oktaBodyFor('00ubobOKTAid000000001', 'bob@example.com'));
    expect(r.json()).toEqual(denial(['device_not_compliant'], expect.stringMatching(UUID)));
  });

  test('state missing (no device at all) is a fast deny, not a timeout', async () => {
    const started = Date.now();
    const r = await hook(oktaBodyFor('00uDAVE00000000000001', 'dave@example.com'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.json()).toEqual(denial(['device_missing'], expect.stringMatching(UUID)));
  });

  test('a client mapped to a high-sensitivity app still allows a compliant, encrypted corporate device', async () => {
    const b = oktaTokenHookBody();
    b.data.context.protocol.client.id = 'payrollWeb';
    b.data.context.protocol.request.client_id = 'payrollWeb';
    expect((await hook(b)).json().commands).toHaveLength(2);
  });

  test('an unmapped client id is used as the app id (unknown app → deny)', async () => {
    const b = oktaTokenHookBody();
    b.data.context.protocol.client.id = 'someOtherClient';
    b.data.context.protocol.request.client_id = 'someOtherClient';
    const body = (await hook(b)).json();
    expect(body.error.errorCauses.map((c: { reason: string }) => c.reason)).toContain('app_unknown');
    expect(body.commands).toBeUndefined();
  });

  test('malformed bodies are denials in Okta shape, never a 4xx that Okta would ignore', async () => {
    for (const bad of ['{"eventType": ', 'null', '[]', JSON.stringify({ eventType: 'com.okta.import.transform', data: {} }), JSON.stringify({ eventType: 'com.okta.oauth2.tokens.transform' })]) {
      const r = await hook(bad);
      expect([bad, r.status]).toEqual([bad, 200]);
      expect(r.json()).toEqual(denial(['invalid_hook_request'], null));
    }
  });

  test("Okta's static header authenticates the call; a missing or wrong one gets 401", async () => {
    const missing = await hook(oktaTokenHookBody(), {});
    expect(missing.status).toBe(401);
    expect(missing.json()).toEqual({ code: 'unauthorized', message: 'hook request not authenticated', reason: 'credential_missing' });
    const wrong = await hook(oktaTokenHookBody(), { authorization: `Bearer ${SECRET}` });
    expect(wrong.status).toBe(401);
    expect(wrong.json().reason).toBe('credential_invalid');
  });
});
