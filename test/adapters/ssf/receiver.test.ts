// The CAEP receiver (RFC 8935 push) inside the real app: SETs signed by a local transmitter key are
// verified with jose, applied to identities/devices, replays ignored, and every kind of bad SET
// answered 400 {"err","description"} without changing state.
import request from 'supertest';
import { generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { harness, type Harness } from '../helpers';
import { transmitterKey } from './transmitter-key';
import { deviceAliases } from '../../../src/adapters/device-aliases';

const ISS = 'https://idp.example.com/123456789/';
const AUD = 'https://tether.example.com/';
const PATH = '/v1/adapters/ssf/events';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';

let h: Harness;
let key: CryptoKey;
let otherKey: CryptoKey;
let jwk: JWK;

beforeAll(async () => {
  ({ key, jwk } = await transmitterKey());
  otherKey = (await generateKeyPair('RS256')).privateKey;
});

beforeEach(async () => {
  h = await harness({
    TETHER_SSF_RECEIVER_ISSUER: ISS,
    TETHER_SSF_RECEIVER_JWKS: JSON.stringify({ keys: [jwk] }),
    TETHER_SSF_RECEIVER_AUDIENCE: AUD,
    TETHER_SSF_RECEIVER_TOKEN: 'push-token',
  });
  const s = h.ctx.store;
  s.putIdentity('alice', { status: 'active', aliases: ['alice@example.com', '00uq8tALICE'] });
  s.putDevice('intune-1', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: new Date(Date.now() - 60_000).toISOString() });
  deviceAliases(s).set('intune-1', ['e9297990-14d2-42ec-a4a9-4036db86509a']);
});
afterEach(() => h.close());

let seq = 0;
interface SetOpts {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  signWith?: CryptoKey;
  iss?: string;
  aud?: string;
}
async function makeSet(event: string, body: Record<string, unknown>, subId: unknown, o: SetOpts = {}): Promise<string> {
  const claims = { jti: `jti-${++seq}-${Date.now()}`, sub_id: subId, events: { [CAEP + event]: body }, ...o.claims };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: 'k1', ...o.header } as { alg: string })
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? AUD)
    .setIssuedAt(typeof o.claims?.iat === 'number' ? o.claims.iat : undefined)
    .sign(o.signWith ?? key);
}
function push(set: string, contentType = 'application/secevent+jwt', token: string | null = 'push-token') {
  const r = request(h.app).post(PATH).set('Content-Type', contentType).set('Accept', 'application/json');
  if (token !== null) r.set('Authorization', `Bearer ${token}`);
  return r.send(set);
}
const deviceSubject = { format: 'complex', device: { format: 'iss_sub', iss: ISS, sub: 'e9297990-14d2-42ec-a4a9-4036db86509a' }, tenant: { format: 'opaque', id: '123456789' } };
const notCompliant = { current_status: 'not-compliant', previous_status: 'compliant', initiating_entity: 'policy', event_timestamp: Math.floor(Date.now() / 1000) };

test('device-compliance-change to not-compliant (complex subject, device by Entra id) makes the device non-compliant now', async () => {
  const res = await push(await makeSet('device-compliance-change', notCompliant, deviceSubject));
  expect(res.status).toBe(202);
  expect(res.text).toBe('');
  const d = h.ctx.store.getDevice('intune-1')!;
  expect(d.compliant).toBe(false);
  expect(d.source).toBe('caep');
});

test('an older not-compliant verdict still lands; older compliant news does not override', async () => {
  const old = { ...notCompliant, event_timestamp: Math.floor(Date.now() / 1000) - 3600 };
  await push(await makeSet('device-compliance-change', old, deviceSubject)).expect(202);
  expect(h.ctx.store.getDevice('intune-1')!.compliant).toBe(false);
  const staleGood = { current_status: 'compliant', previous_status: 'not-compliant', event_timestamp: Math.floor(Date.now() / 1000) - 7200 };
  await push(await makeSet('device-compliance-change', staleGood, deviceSubject)).expect(202);
  expect(h.ctx.store.getDevice('intune-1')!.compliant).toBe(false);
  const freshGood = { current_status: 'compliant', previous_status: 'not-compliant' };
  await push(await makeSet('device-compliance-change', freshGood, { format: 'opaque', id: 'intune-1' })).expect(202);
  expect(h.ctx.store.getDevice('intune-1')!.compliant).toBe(true);
});

test.each([
  ['email', { format: 'email', email: 'ALICE@example.com' }],
  ['iss_sub', { format: 'iss_sub', iss: ISS, sub: '00uq8tALICE' }],
  ['opaque', { format: 'opaque', id: 'alice' }],
  ['complex user+device', { format: 'complex', user: { format: 'email', email: 'alice@example.com' }, device: { format: 'opaque', id: 'intune-1' } }],
])('session-revoked with a %s subject is recorded on the identity', async (_name, subject) => {
  await push(await makeSet('session-revoked', { event_timestamp: 1615304991 }, subject)).expect(202);
  const caep = h.ctx.store.getIdentity('alice')!.attributes?.caep as Record<string, { iss: string; at: string }>;
  expect(caep.session_revoked).toMatchObject({ iss: ISS, at: '2021-03-09T15:49:51.000Z' });
});

test('credential-change and assurance-level-change are recorded; draft-era subject inside the event is read', async () => {
  await push(await makeSet('credential-change', { credential_type: 'fido2-roaming', change_type: 'revoke' }, { format: 'email', email: 'alice@example.com' })).expect(202);
  const legacy = await makeSet('assurance-level-change', { namespace: 'NIST-AAL', current_level: 'nist-aal1', previous_level: 'nist-aal2', change_direction: 'decrease', subject: { format: 'email', email: 'alice@example.com' } }, undefined);
  await push(legacy).expect(202);
  const caep = h.ctx.store.getIdentity('alice')!.attributes?.caep as Record<string, Record<string, unknown>>;
  expect(caep.credential_change).toMatchObject({ credential_type: 'fido2-roaming', change_type: 'revoke' });
  expect(caep.assurance_level).toMatchObject({ namespace: 'NIST-AAL', current_level: 'nist-aal1', change_direction: 'decrease' });
});

test('a replayed jti is accepted (202) and changes nothing', async () => {
  const set = await makeSet('device-compliance-change', { current_status: 'compliant', previous_status: 'not-compliant' }, { format: 'opaque', id: 'intune-1' });
  await push(await makeSet('device-compliance-change', notCompliant, deviceSubject)).expect(202);
  const jtiSet = await makeSet('device-compliance-change', notCompliant, deviceSubject, { claims: { jti: 'fixed-jti' } });
  await push(jtiSet).expect(202);
  await push(set).expect(202); // compliant again
  const v = h.ctx.store.getDevice('intune-1')!.version;
  await push(jtiSet).expect(202); // replay of a not-compliant SET must not flip it back
  expect(h.ctx.store.getDevice('intune-1')!).toMatchObject({ compliant: true, version: v });
});

describe('bad SETs: 400 {err, description} and no change', () => {
  async function expectRejected(res: request.Response, err: string) {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.err).toBe(err);
    expect(typeof res.body.description).toBe('string');
    expect(h.ctx.store.getDevice('intune-1')!.compliant).toBe(true);
    expect(h.ctx.store.getDevice('intune-1')!.version).toBe(1);
  }
  test('malformed body', async () => expectRejected(await push('not-a-jwt'), 'invalid_request'));
  test('wrong content type', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject), 'application/json'), 'invalid_request'));
  test('bad signature (another key)', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { signWith: otherKey })), 'invalid_key'));
  test('unknown kid', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { header: { kid: 'zzz' } })), 'invalid_key'));
  test('wrong audience', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { aud: 'https://someone-else/' })), 'invalid_audience'));
  test('unknown issuer', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { iss: 'https://evil.example/' })), 'invalid_issuer'));
  test('missing bearer token', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject), undefined, null), 'authentication_failed'));
  test('expired token (exp in the past)', async () => {
    const set = await makeSet('device-compliance-change', notCompliant, deviceSubject, { claims: { exp: Math.floor(Date.now() / 1000) - 60 } });
    await expectRejected(await push(set), 'invalid_request');
  });
  test('exp present at all, or sub present', async () => {
    await expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { claims: { exp: Math.floor(Date.now() / 1000) + 600 } })), 'invalid_request');
    await expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { claims: { sub: 'alice' } })), 'invalid_request');
  });
  test('typ not secevent+jwt', async () => expectRejected(await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { header: { typ: 'JWT' } })), 'invalid_request'));
  test('wrong schema: bad current_status, two events, no subject', async () => {
    await expectRejected(await push(await makeSet('device-compliance-change', { current_status: 'noncompliant', previous_status: 'compliant' }, deviceSubject)), 'invalid_request');
    const two = await makeSet('device-compliance-change', notCompliant, deviceSubject, { claims: { events: { [CAEP + 'session-revoked']: {}, [CAEP + 'device-compliance-change']: notCompliant } } });
    await expectRejected(await push(two), 'invalid_request');
    await expectRejected(await push(await makeSet('device-compliance-change', notCompliant, undefined)), 'invalid_request');
    await expectRejected(await push(await makeSet('device-compliance-change', notCompliant, { format: 'email' })), 'invalid_request');
  });
  test('iat older than the jti retention (30 days, minus a margin) or more than 5 min in the future', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    for (const iat of [nowS - 30 * 24 * 3600 + 60, nowS - 31 * 24 * 3600, nowS + 3600]) {
      const res = await push(await makeSet('device-compliance-change', notCompliant, deviceSubject, { claims: { iat } }));
      await expectRejected(res, 'invalid_request');
      expect(res.body.description).toContain('iat');
    }
    expect(h.ctx.store.getDevice('intune-1')!.compliant).toBe(true);
    // Within the bounds: a day old, or a minute ahead of this clock.
    await push(await makeSet('session-revoked', {}, { format: 'email', email: 'alice@example.com' }, { claims: { iat: nowS - 24 * 3600 } })).expect(202);
    await push(await makeSet('session-revoked', {}, { format: 'email', email: 'alice@example.com' }, { claims: { iat: nowS + 60 } })).expect(202);
  });
  test('unknown subject', async () => {
    await expectRejected(await push(await makeSet('device-compliance-change', notCompliant, { format: 'complex', device: { format: 'opaque', id: 'ghost' } })), 'invalid_request');
    await expectRejected(await push(await makeSet('session-revoked', {}, { format: 'email', email: 'nobody@example.com' })), 'invalid_request');
    expect(h.ctx.store.getIdentity('alice')!.attributes?.caep).toBeUndefined();
  });
  test('an unknown-subject SET can be redelivered once the subject exists (its jti was not burnt)', async () => {
    const set = await makeSet('session-revoked', {}, { format: 'email', email: 'bob@example.com' });
    await push(set).expect(400);
    h.ctx.store.putIdentity('bob', { status: 'active', aliases: ['bob@example.com'] });
    await push(set).expect(202);
  });
});

describe('a transmitter whose keys come from its jwks_uri (TETHER_SSF_TRANSMITTERS)', () => {
  test('the SET verifies against the fetched JWKS; a key the JWKS lacks is invalid_key', async () => {
    const http = await import('node:http');
    const jwksServer = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as { port: number }).port;
    const other = await harness({
      TETHER_SSF_TRANSMITTERS: JSON.stringify([{ issuer: 'https://okta.example/', jwksUri: `http://127.0.0.1:${port}/oauth2/v1/keys`, audience: ['urn:tether'] }]),
    });
    try {
      other.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      const ok = await makeSet('session-revoked', {}, { format: 'email', email: 'alice@example.com' }, { iss: 'https://okta.example/', aud: 'urn:tether' });
      await request(other.app).post(PATH).set('Content-Type', 'application/secevent+jwt').send(ok).expect(202);
      const bad = await makeSet('session-revoked', {}, { format: 'email', email: 'alice@example.com' }, { iss: 'https://okta.example/', aud: 'urn:tether', signWith: otherKey, header: { kid: 'other' } });
      const res = await request(other.app).post(PATH).set('Content-Type', 'application/secevent+jwt').send(bad);
      expect(res.status).toBe(400);
      expect(res.body.err).toBe('invalid_key');
    } finally {
      await other.close();
      jwksServer.closeAllConnections();
      await new Promise((r) => jwksServer.close(r));
    }
  });
});
