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
    // Applied, not merely answered 202 as a replay of a remembered jti.
    expect((h.ctx.store.getIdentity('bob')!.attributes?.caep as Record<string, unknown>).session_revoked).toMatchObject({ iss: ISS });
  });
});

describe('draft-era subjects: subject_type instead of format, the subject inside the event', () => {
  // draft-ietf-secevent-subject-identifiers named the type member subject_type (iss-sub, phone, phone-number
  // in older drafts); RISC and early CAEP/SSE transmitters put the subject in events[<type>].subject.
  const sessionRevoked = (subject: unknown, at: number, where: 'event' | 'sub_id') =>
    where === 'event' ? makeSet('session-revoked', { event_timestamp: at, subject }, undefined) : makeSet('session-revoked', { event_timestamp: at }, subject);

  test.each([
    ['email', { subject_type: 'email', email: 'alice@example.com' }],
    ['iss-sub (drafts -01 to -05, RISC)', { subject_type: 'iss-sub', iss: ISS, sub: '00uq8tALICE' }],
    ['iss_sub (draft -06)', { subject_type: 'iss_sub', iss: ISS, sub: '00uq8tALICE' }],
    ['opaque', { subject_type: 'opaque', id: 'alice' }],
    ['phone with its phone member (drafts -00 to -04)', { subject_type: 'phone', phone: '+12065550100' }],
    ['phone-number (draft -05)', { subject_type: 'phone-number', phone_number: '+12065550100' }],
    ['aliases of draft identifiers', { subject_type: 'aliases', identifiers: [{ subject_type: 'email', email: 'nobody@example.com' }, { subject_type: 'iss-sub', iss: ISS, sub: '00uq8tALICE' }] }],
  ])('a subject_type %s subject, inside the event or in sub_id, resolves as its format does', async (_name, subject) => {
    h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com', '00uq8tALICE', '+12065550100'] });
    const caep = () => h.ctx.store.getIdentity('alice')!.attributes?.caep as Record<string, { at: string }> | undefined;
    await push(await sessionRevoked(subject, 1615304991, 'event')).expect(202);
    expect(caep()?.session_revoked.at).toBe('2021-03-09T15:49:51.000Z');
    await push(await sessionRevoked(subject, 1615305991, 'sub_id')).expect(202);
    expect(caep()?.session_revoked.at).toBe('2021-03-09T16:06:31.000Z');
  });

  test('when both format and subject_type are sent, format decides', async () => {
    await push(await makeSet('session-revoked', {}, { format: 'email', subject_type: 'opaque', email: 'alice@example.com', id: 'ghost' })).expect(202);
    expect((h.ctx.store.getIdentity('alice')!.attributes?.caep as Record<string, unknown>).session_revoked).toMatchObject({ iss: ISS });
  });

  test('a draft-era complex subject (no format, members with subject_type) inside the event flips the device', async () => {
    const subject = { device: { subject_type: 'iss-sub', iss: ISS, sub: 'e9297990-14d2-42ec-a4a9-4036db86509a' }, tenant: { subject_type: 'opaque', id: '123456789' } };
    await push(await makeSet('device-compliance-change', { ...notCompliant, subject }, undefined)).expect(202);
    expect(h.ctx.store.getDevice('intune-1')).toMatchObject({ compliant: false, source: 'caep' });
  });

  test('an unsupported or malformed subject_type/format is a 400 invalid_request naming the field', async () => {
    const inEvent = `events["${CAEP}session-revoked"].subject`;
    const cases: Array<[Promise<string>, string]> = [
      [makeSet('session-revoked', { subject: { subject_type: 'id-token-claims', iss: ISS, sub: '00uq8tALICE' } }, undefined), `${inEvent}.subject_type "id-token-claims" is not a subject format Tether can resolve`],
      [makeSet('session-revoked', {}, { format: 'ip-addresses', 'ip-addresses': ['198.51.100.7'] }), 'sub_id.format "ip-addresses" is not a subject format Tether can resolve'],
      [makeSet('device-compliance-change', notCompliant, { format: 'complex', device: { subject_type: 'saml_assertion_id', issuer: ISS, assertion_id: '_a75' } }), 'sub_id.device.subject_type "saml_assertion_id" is not a subject format'],
      [makeSet('session-revoked', {}, { subject_type: 'phone' }), 'sub_id.phone is required for subject_type phone'],
      [makeSet('session-revoked', {}, { subject_type: 7, email: 'alice@example.com' }), 'sub_id.subject_type must be a non-empty string'],
      [makeSet('session-revoked', { subject: { email: 'alice@example.com' } }, undefined), `${inEvent} must be a subject identifier: an object with a format member (RFC 9493), a subject_type member (draft-era)`],
    ];
    for (const [set, description] of cases) {
      const res = await push(await set);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ err: 'invalid_request', description: expect.stringContaining(description) });
    }
    expect(h.ctx.store.getIdentity('alice')!.attributes?.caep).toBeUndefined();
    expect(h.ctx.store.getDevice('intune-1')!.compliant).toBe(true);
  });
});

describe('a SET whose subject Tether does not know (RFC 8935: 400, not accepted)', () => {
  test('is answered 400 with exactly {err: invalid_request, description} naming the subject field and identifier', async () => {
    const cases: Array<[Promise<string>, string]> = [
      [
        makeSet('device-compliance-change', notCompliant, { format: 'complex', device: { format: 'opaque', id: 'ghost' }, tenant: { format: 'opaque', id: '123456789' } }),
        'unknown subject: no device matches sub_id.device {"format":"opaque","id":"ghost"}',
      ],
      [makeSet('session-revoked', {}, { format: 'email', email: 'nobody@example.com' }), 'unknown subject: no identity or device matches sub_id {"format":"email","email":"nobody@example.com"}'],
      [
        makeSet('session-revoked', { subject: { subject_type: 'iss-sub', iss: ISS, sub: 'nobody' } }, undefined),
        `unknown subject: no identity or device matches events["${CAEP}session-revoked"].subject {"subject_type":"iss-sub","iss":"${ISS}","sub":"nobody"}`,
      ],
      [
        makeSet('device-compliance-change', notCompliant, { format: 'complex', user: { format: 'email', email: 'alice@example.com' } }),
        'unknown subject: sub_id has no device member, so it names no device Tether holds',
      ],
    ];
    for (const [set, description] of cases) {
      const res = await push(await set);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ err: 'invalid_request', description });
    }
    expect(h.ctx.store.getDevice('intune-1')!).toMatchObject({ compliant: true, version: 1 });
  });

  test('its jti is not remembered: the same SET is accepted once the device exists, and only then is a replay', async () => {
    const jti = `unknown-device-${Date.now()}`;
    const set = await makeSet('device-compliance-change', notCompliant, { format: 'complex', device: { format: 'opaque', id: 'mac-9' } }, { claims: { jti } });
    const remembered = () => (h.ctx.store.db.prepare('SELECT COUNT(*) AS n FROM ssf_received_jti WHERE iss = ? AND jti = ?').get(ISS, jti) as { n: number }).n;
    await push(set).expect(400);
    expect(remembered()).toBe(0);
    h.ctx.store.putDevice('mac-9', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate' });
    await push(set).expect(202);
    expect(h.ctx.store.getDevice('mac-9')).toMatchObject({ compliant: false, source: 'caep' });
    expect(remembered()).toBe(1);
    const v = h.ctx.store.getDevice('mac-9')!.version;
    await push(set).expect(202); // now a replay: accepted, changes nothing
    expect(h.ctx.store.getDevice('mac-9')!.version).toBe(v);
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

  // RFC 8935's 400 is final: answered for an outage of the transmitter's key endpoint, it would drop the
  // event (a not-compliant verdict among them). A 503 with Retry-After makes the transmitter send it again.
  test('the JWKS cannot be fetched (down, then 500): 503 with Retry-After, nothing applied; the retry once it is back is accepted', async () => {
    const http = await import('node:http');
    let up = false;
    const jwksServer = http.createServer((_req, res) => {
      if (!up) return void res.writeHead(500).end('down for maintenance');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as { port: number }).port;
    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const other = await harness({
      TETHER_SSF_TRANSMITTERS: JSON.stringify([
        { issuer: 'https://okta.example/', jwksUri: `http://127.0.0.1:${port}/oauth2/v1/keys`, audience: ['urn:tether'] },
        { issuer: 'https://gone.example/', jwksUri: `http://127.0.0.1:${closed}/keys`, audience: ['urn:tether'] },
      ]),
    });
    try {
      other.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      const set = await makeSet('session-revoked', { event_timestamp: 1615304991 }, { format: 'email', email: 'alice@example.com' }, { iss: 'https://okta.example/', aud: 'urn:tether' });
      const down = await request(other.app).post(PATH).set('Content-Type', 'application/secevent+jwt').send(set);
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBe('30');
      expect(down.body.err).toBe('temporarily_unavailable');
      expect(other.ctx.store.getIdentity('alice')!.attributes).toBeUndefined();
      const refused = await makeSet('session-revoked', {}, { format: 'email', email: 'alice@example.com' }, { iss: 'https://gone.example/', aud: 'urn:tether' });
      expect((await request(other.app).post(PATH).set('Content-Type', 'application/secevent+jwt').send(refused)).status).toBe(503);
      up = true;
      await request(other.app).post(PATH).set('Content-Type', 'application/secevent+jwt').send(set).expect(202);
      expect(other.ctx.store.getIdentity('alice')!.attributes).toHaveProperty('caep');
    } finally {
      await other.close();
      jwksServer.closeAllConnections();
      await new Promise((r) => jwksServer.close(r));
    }
  });
});
