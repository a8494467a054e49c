// Pure protocol parsing/formatting of the IdP hooks and the decision budget (no decider involved).
import { decideWithin, DecisionUnavailable } from '../../src/callers/budget';
import { entraClaims, entraClaimsResponse, parseEntraHook } from '../../src/callers/entra';
import { oktaAllow, oktaDeny, parseOktaHook } from '../../src/callers/okta';
import type { Decision } from '../../src/callers/types';
import { entraTokenIssuanceStartBody, oktaTokenHookBody } from './helpers/idp-payloads';

const decision = (over: Partial<Decision> = {}): Decision => ({
  decision_id: 'd-1', allow: true, limited: false, reasons: [], obligations: [], lifecycle: 'healthy',
  exception: null, policy_revision: 'r1', ...over,
});

describe('Okta hook parsing and answers', () => {
  test('reads user id, login, client and which tokens are minted from the documented body', () => {
    expect(parseOktaHook(oktaTokenHookBody())).toEqual({
      eventId: '3OWo4oo-QQ-rBWfRyTmQYw', userId: '00uq8tMo3zV0OfJON0g3', login: 'alice@example.com',
      clientId: 'customClientIdNative', ip: '127.0.0.1', identityToken: true, accessToken: true,
    });
  });

  test('falls back to the session when the user object is absent', () => {
    const b = oktaTokenHookBody();
    delete b.data.context.user;
    expect(parseOktaHook(b)).toMatchObject({ userId: '00uq8tMo3zV0OfJON0g3', login: 'alice@example.com' });
  });

  test('rejects what is not a token-transform event', () => {
    expect(parseOktaHook([])).toEqual({ invalid: 'body must be a JSON object' });
    expect(parseOktaHook({ eventType: 'com.okta.saml.tokens.transform', data: { context: {} } })).toEqual({ invalid: 'eventType must be com.okta.oauth2.tokens.transform' });
    expect(parseOktaHook({ eventType: 'com.okta.oauth2.tokens.transform', data: {} })).toEqual({ invalid: 'data.context is missing' });
  });

  test('allow claims say limited / exception when the decision does', () => {
    const input = { identityToken: false, accessToken: true };
    expect(oktaAllow(input, decision({ limited: true, reasons: ['enrollment_pending'], lifecycle: 'active_in_grace' }))).toEqual({
      commands: [{ type: 'com.okta.access.patch', value: [
        { op: 'add', path: '/claims/tether_device_trust', value: 'limited' },
        { op: 'add', path: '/claims/tether_lifecycle', value: 'active_in_grace' },
      ] }],
      debugContext: { tether_decision_id: 'd-1', tether_reasons: 'enrollment_pending' },
    });
    expect(oktaAllow(input, decision({ exception: { id: 'e1' } })).commands![0].value[0].value).toBe('exception');
  });

  test('a deny is the error object with one cause per reason', () => {
    expect(oktaDeny(['device_not_compliant', 'device_state_stale'], 'd-2')).toEqual({
      error: {
        errorSummary: 'Tether denied token issuance: device_not_compliant, device_state_stale',
        errorCauses: [
          { errorSummary: 'device_not_compliant', reason: 'device_not_compliant', locationType: 'body', location: 'data.context.user', domain: 'tether' },
          { errorSummary: 'device_state_stale', reason: 'device_state_stale', locationType: 'body', location: 'data.context.user', domain: 'tether' },
        ],
      },
      debugContext: { tether_decision_id: 'd-2', tether_reasons: 'device_not_compliant,device_state_stale' },
    });
  });
});

describe('Entra provider parsing and answers', () => {
  test('reads the user, its aliases and the application ids from the documented body', () => {
    expect(parseEntraHook(entraTokenIssuanceStartBody())).toEqual({
      userId: '90847c2a-e29d-4d2f-9f54-c5b4d3f26471', upn: 'alice@contoso.com', mail: 'alice@contoso.com',
      appIds: ['f2a3b4c5-6d7e-4f80-9a1b-2c3d4e5f6a7b'],
      ip: '30.51.176.110', correlationId: 'e0b6a1c2-3d4e-4f50-8a9b-c0d1e2f3a4b5',
    });
  });

  test('names the missing field', () => {
    const b = entraTokenIssuanceStartBody();
    delete b.data.authenticationContext.user.id;
    expect(parseEntraHook(b)).toEqual({ invalid: 'is required', path: '/data/authenticationContext/user/id' });
    expect(parseEntraHook('x')).toEqual({ invalid: 'body must be a JSON object', path: '' });
  });

  test('claims are strings or string arrays only, and stay under 3 KB by dropping trailing reasons', () => {
    const many = Array.from({ length: 200 }, (_, i) => `device_reason_number_${i}`);
    const claims = entraClaims(decision({ allow: false, reasons: many }), many);
    const size = Object.entries(claims).reduce((n, [k, v]) => n + k.length + (Array.isArray(v) ? v.join('').length : v.length), 0);
    expect(size).toBeLessThanOrEqual(3072);
    expect((claims.tether_reasons as string[])[0]).toBe('device_reason_number_0');
    for (const v of Object.values(claims)) expect(typeof v === 'string' || Array.isArray(v)).toBe(true);
    expect(entraClaimsResponse({ a: 'b' })).toEqual({
      data: { '@odata.type': 'microsoft.graph.onTokenIssuanceStartResponseData', actions: [{ '@odata.type': 'microsoft.graph.tokenIssuanceStart.provideClaimsForToken', claims: { a: 'b' } }] },
    });
  });

  test('no decision at all (decider unavailable) is a deny claim set', () => {
    expect(entraClaims(undefined, ['decision_unavailable'])).toEqual({
      tether_decision: 'deny', tether_device_trust: 'untrusted', tether_lifecycle: 'unknown', tether_reasons: ['decision_unavailable'],
    });
  });
});

describe('decision budget', () => {
  const req = { action: 'token' as const, subject: 'x' };
  test('a decision that does not arrive in time is decision_unavailable (timeout)', async () => {
    const err = await decideWithin(() => new Promise<Decision>(() => undefined), req, 30).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecisionUnavailable);
    expect(err).toMatchObject({ code: 'decision_unavailable', why: 'timeout' });
  });
  test('a throwing or malformed decider is decision_unavailable (error), carrying its code', async () => {
    const thrown = await decideWithin(() => { throw Object.assign(new Error('x'), { code: 'not_ready' }); }, req, 100).catch((e: unknown) => e);
    expect(thrown).toMatchObject({ code: 'decision_unavailable', why: 'error', causeCode: 'not_ready' });
    const malformed = await decideWithin(() => ({}) as Decision, req, 100).catch((e: unknown) => e);
    expect(malformed).toMatchObject({ why: 'error', causeCode: 'malformed_decision' });
  });
  test('a prompt decision passes through unchanged, synchronous or not', async () => {
    await expect(decideWithin(() => decision(), req, 100)).resolves.toEqual(decision());
    await expect(decideWithin(async () => decision(), req, 100)).resolves.toEqual(decision());
  });
  test('an asynchronous decider that rejects or answers malformed is decision_unavailable (error)', async () => {
    const rejected = await decideWithin(() => Promise.reject(Object.assign(new Error('x'), { code: 'state_unavailable' })), req, 100).catch((e: unknown) => e);
    expect(rejected).toMatchObject({ why: 'error', causeCode: 'state_unavailable' });
    const malformed = await decideWithin(async () => ({ allow: 'yes' }) as unknown as Decision, req, 100).catch((e: unknown) => e);
    expect(malformed).toMatchObject({ why: 'error', causeCode: 'malformed_decision' });
  });
  test('a synchronous decision arms no timer', async () => {
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      await decideWithin(() => decision(), req, 100);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
