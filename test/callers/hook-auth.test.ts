// How IdP hook calls are authenticated: Okta's static header or OAuth 2.0 bearer JWT, Entra's bearer JWT
// with the caller pinned (azp/appid), verified for real with jose against a test IdP's JWKS endpoint.
import { parseCallersConfig } from '../../src/callers/config';
import { entraAuthenticator, oktaAuthenticator } from '../../src/callers/hook-auth';
import { startIdp, type TestIdp } from './helpers/idp';

let idp: TestIdp;
beforeAll(async () => { idp = await startIdp('https://example.okta.com/oauth2/default'); });
afterAll(async () => { await idp?.close(); });

const reason = (p: Promise<void>) => p.then(() => 'ok', (e: { code?: string }) => e.code);

describe('Okta hook authentication', () => {
  test('static header: the registered value, verbatim, in the configured header', async () => {
    const cfg = parseCallersConfig({ okta: { auth: { type: 'header', header: 'X-Okta-Secret', secret: 'registered-secret-value' } } }).okta.auth!;
    const auth = oktaAuthenticator(cfg);
    expect(await reason(auth({ 'x-okta-secret': 'registered-secret-value' }))).toBe('ok');
    expect(await reason(auth({ 'x-okta-secret': 'registered-secret-valuE' }))).toBe('credential_invalid');
    expect(await reason(auth({ authorization: 'registered-secret-value' }))).toBe('credential_missing');
  });

  test('OAuth 2.0: a bearer JWT from the configured issuer and audience, signed by a JWKS key', async () => {
    const cfg = parseCallersConfig({ okta: { auth: { type: 'jwt', issuer: idp.issuer, audience: 'api://tether-hook', jwks_uri: idp.jwksUri } } }).okta.auth!;
    const auth = oktaAuthenticator(cfg);
    const good = await idp.sign({ aud: 'api://tether-hook', sub: '0oaHOOKCLIENT', cid: '0oaHOOKCLIENT' });
    expect(await reason(auth({ authorization: `Bearer ${good}` }))).toBe('ok');
    expect(await reason(auth({ authorization: `Bearer ${await idp.sign({ aud: 'api://other' })}` }))).toBe('credential_invalid');
    expect(await reason(auth({ authorization: `Bearer ${await idp.forge({ aud: 'api://tether-hook' })}` }))).toBe('credential_invalid');
    expect(await reason(auth({}))).toBe('credential_missing');
  });
});

describe('Entra provider authentication', () => {
  test('inline JWKS works as well as a JWKS URL; the caller must be the events service', async () => {
    const cfg = parseCallersConfig({ entra: { auth: { type: 'jwt', issuer: idp.issuer, audience: 'api://tether', jwks: idp.jwks } } }).entra.auth!;
    const auth = entraAuthenticator(cfg);
    const events = await idp.sign({ aud: 'api://tether', azp: '99045fe1-7639-4a75-9d4a-577b6ca3810f' });
    expect(await reason(auth({ authorization: `Bearer ${events}` }))).toBe('ok');
    expect(await reason(auth({ authorization: `Bearer ${await idp.sign({ aud: 'api://tether' })}` }))).toBe('caller_not_allowed');
  });

  test('type none accepts anything (development only)', async () => {
    const auth = entraAuthenticator({ type: 'none' });
    expect(await reason(auth({}))).toBe('ok');
  });
});
