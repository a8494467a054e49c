// ../shared/docs/protocols.md §7 (SCIM), §8 (SSF/CAEP) and §9 (MDM), statement by statement: the
// wire details and gotchas no other adapter suite proves. Every request is shaped as the real peer
// sends it (Okta, Entra, an SSF transmitter or receiver, Microsoft Graph, Jamf Pro) and goes through
// Tether's real routes and adapters; Graph, Jamf and the SSF peers are the loopback doubles in mdm/
// and ssf/, speaking their documented wire formats.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { SignJWT, type CryptoKey, type JWK } from 'jose';
import { API_TOKEN, harness, type Harness } from './helpers';
import { transmitterKey } from './ssf/transmitter-key';
import { managedDevice, startFakeGraph, type FakeGraph } from './mdm/fake-graph';
import { jamfComputer, jamfMobile, startFakeJamf, type FakeJamf } from './mdm/fake-jamf';
import { openSqliteStore } from '../../src/state/store';
import { JamfAdapter } from '../../src/adapters/mdm/jamf';
import { IntuneAdapter } from '../../src/adapters/mdm/intune';
import { deviceAliases } from '../../src/adapters/device-aliases';
import { deviceInput } from '../../src/adapters/ssf/apply-event';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const SSF_EVENT = 'https://schemas.openid.net/secevent/ssf/event-type/';

describe('§7 SCIM 2.0 as Okta and Entra send it', () => {
  const SCIM_TOKEN = 'scim-gotchas-token';
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ TETHER_SCIM_TOKEN: SCIM_TOKEN, TETHER_SCIM_RISK_TIER_ATTRIBUTE: `${ENTERPRISE}:costCenter` });
  });
  afterEach(() => h.close());

  // Okta's client (protocols.md §7.2): bearer token, SCIM media type, its User-Agent.
  const okta = (r: request.Test) => r.set('Authorization', `Bearer ${SCIM_TOKEN}`).set('Accept', 'application/scim+json').set('User-Agent', 'Okta SCIM Client 1.0.0');
  const scim = {
    get: (path: string) => okta(request(h.app).get(`/scim/v2${path}`)),
    post: (path: string, body: unknown) => okta(request(h.app).post(`/scim/v2${path}`)).set('Content-Type', 'application/scim+json').send(JSON.stringify(body)),
    put: (path: string, body: unknown) => okta(request(h.app).put(`/scim/v2${path}`)).set('Content-Type', 'application/scim+json').send(JSON.stringify(body)),
    patch: (path: string, ...Operations: unknown[]) =>
      okta(request(h.app).patch(`/scim/v2${path}`)).set('Content-Type', 'application/scim+json').send(JSON.stringify({ schemas: [PATCH_OP], Operations })),
    delete: (path: string) => okta(request(h.app).delete(`/scim/v2${path}`)),
  };
  const user = (userName = 'alice@example.com', extra: Record<string, unknown> = {}) => ({
    schemas: [USER, ENTERPRISE],
    userName,
    externalId: '00ujl29u0le5T6Aj10h7',
    name: { givenName: 'Alice', familyName: 'Doe' },
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
    [ENTERPRISE]: { department: 'Finance', costCenter: 'standard' },
    ...extra,
  });
  async function created(body: unknown = user()): Promise<{ id: string; meta: Record<string, string> }> {
    const res = await scim.post('/Users', body);
    expect(res.status).toBe(201);
    return res.body as { id: string; meta: Record<string, string> };
  }
  function expectScimError(res: request.Response, status: number, scimType?: string): void {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: String(status) });
    if (scimType) expect(res.body.scimType).toBe(scimType);
    else expect(res.body.scimType).toBeUndefined();
  }

  test('§7.3/§7.5 Okta lookup (?filter=userName eq …&startIndex=1&count=100): a ListResponse of JSON integers; a miss is 200 with totalResults 0', async () => {
    const { id } = await created();
    const hit = await scim.get('/Users').query({ filter: 'userName eq "alice@example.com"', startIndex: '1', count: '100' });
    expect(hit.status).toBe(200);
    expect(hit.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(hit.body).toMatchObject({ schemas: [LIST], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    for (const n of ['totalResults', 'startIndex', 'itemsPerPage']) expect(Number.isInteger(hit.body[n])).toBe(true);
    expect(hit.body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);
    const miss = await scim.get('/Users').query({ filter: 'userName eq "nobody@example.com"', startIndex: '1', count: '100' });
    expect(miss.status).toBe(200);
    expect(miss.body).toEqual({ schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  });

  test('§7.3 filter grammar through the route: every operator, and/or/not, parentheses, value filters; names and operators in any case', async () => {
    await created();
    await created(user('bob@contoso.com', { externalId: 'ext-bob', displayName: 'Bob', active: false, emails: [{ value: 'bob@contoso.com', type: 'home' }], [ENTERPRISE]: { department: 'Sales' } }));
    const names = async (filter: string) => ((await scim.get('/Users').query({ filter })).body.Resources as Array<{ userName: string }>).map((r) => r.userName);
    const cases: Array<[string, string[]]> = [
      ['userName ne "ALICE@example.com"', ['bob@contoso.com']],
      ['userName co "CONTOSO"', ['bob@contoso.com']],
      ['userName sw "Alice"', ['alice@example.com']],
      ['userName ew "@EXAMPLE.COM"', ['alice@example.com']],
      ['userName gt "b"', ['bob@contoso.com']],
      ['userName ge "BOB@contoso.com"', ['bob@contoso.com']],
      ['userName lt "B"', ['alice@example.com']],
      ['userName le "alice@example.com"', ['alice@example.com']],
      ['displayName pr', ['bob@contoso.com']],
      ['active eq false', ['bob@contoso.com']],
      ['NOT (active EQ true)', ['bob@contoso.com']],
      ['(userName sw "a" or userName sw "b") and active eq true', ['alice@example.com']],
      ['emails[type eq "HOME" or value ew "example.com"]', ['alice@example.com', 'bob@contoso.com']],
      ['Emails[Type Eq "work"].Value Sw "alice"', ['alice@example.com']],
      ['externalId eq "EXT-BOB"', []], // caseExact
      [`${ENTERPRISE}:department eq "finance"`, ['alice@example.com']],
    ];
    for (const [filter, expected] of cases) expect([filter, await names(filter)]).toEqual([filter, expected]);
    const bad = await scim.get('/Users').query({ filter: 'userName xx "a"' });
    expectScimError(bad, 400, 'invalidFilter');
  });

  test('§7.4 id is server-assigned: an id in the POST body is not the resource id', async () => {
    const res = await scim.post('/Users', { ...user(), id: 'idp-chosen-id' });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe('idp-chosen-id');
    expectScimError(await scim.get('/Users/idp-chosen-id'), 404);
  });

  test('§7.4 meta.version is the ETag: GET carries it; If-Match mismatch on PUT and DELETE → 412 and nothing changes', async () => {
    const { id } = await created();
    const got = await scim.get(`/Users/${id}`);
    expect(got.headers.etag).toBe('W/"1"');
    expect(got.body.meta.version).toBe('W/"1"');
    expectScimError(await scim.put(`/Users/${id}`, user('alice@example.com', { active: false })).set('If-Match', 'W/"7"'), 412);
    expectScimError(await scim.delete(`/Users/${id}`).set('If-Match', 'W/"7"'), 412);
    expect(h.ctx.store.getIdentity('alice@example.com')!.status).toBe('active');
    expect((await scim.get(`/Users/${id}`)).headers.etag).toBe('W/"1"');
    await scim.delete(`/Users/${id}`).set('If-Match', 'W/"1"').expect(204);
  });

  test('§7.6 Entra with ?aadOptscim062020 ({"op":"replace","path":"active","value":false}) suspends through the route', async () => {
    const { id } = await created();
    const res = await scim.patch(`/Users/${id}`, { op: 'replace', path: 'active', value: false });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    expect(h.ctx.store.getIdentity('alice@example.com')!.status).toBe('suspended');
  });

  test.each([
    ['Okta (path-less replace)', { op: 'replace', value: { active: false } }],
    ['Entra default (Replace, "False")', { op: 'Replace', path: 'active', value: 'False' }],
  ])('§7.9.4 after %s the re-read user (Entra validator) carries active:false', async (_name, op) => {
    const { id } = await created();
    await scim.patch(`/Users/${id}`, op).expect(200);
    const reread = await scim.get(`/Users/${id}`);
    expect(reread.status).toBe(200);
    expect(reread.body.active).toBe(false);
    const listed = await scim.get('/Users').query({ filter: 'externalId eq "00ujl29u0le5T6Aj10h7"' });
    expect(listed.body.Resources[0].active).toBe(false);
  });

  test('§7.6 extension attributes by their URN-prefixed path (Entra: Replace/Add urn:…:enterprise:2.0:User:costCenter) reach the identity', async () => {
    const { id } = await created();
    const res = await scim.patch(`/Users/${id}`, { op: 'Replace', path: `${ENTERPRISE}:costCenter`, value: 'privileged' });
    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE]).toEqual({ department: 'Finance', costCenter: 'privileged' });
    expect(h.ctx.store.getIdentity('alice@example.com')!.risk_tier).toBe('privileged');
    const bob = await created(user('bob@example.com', { externalId: 'ext-bob', [ENTERPRISE]: undefined, schemas: [USER] }));
    const added = await scim.patch(`/Users/${bob.id}`, { op: 'Add', path: `${ENTERPRISE}:costCenter`, value: 'high' });
    expect(added.status).toBe(200);
    expect(added.body.schemas).toEqual([USER, ENTERPRISE]);
    expect(h.ctx.store.getIdentity('bob@example.com')!.risk_tier).toBe('high');
  });

  test('§7.6/§7.7 remove without a path → 400 noTarget; a malformed filter in a path → 400 invalidPath, whether or not the attribute has values', async () => {
    const { id } = await created(user('alice@example.com', { phoneNumbers: undefined }));
    expectScimError(await scim.patch(`/Users/${id}`, { op: 'Remove' }), 400, 'noTarget');
    expectScimError(await scim.patch(`/Users/${id}`, { op: 'Replace', path: 'emails[type xx "work"].value', value: 'a@x.com' }), 400, 'invalidPath');
    expectScimError(await scim.patch(`/Users/${id}`, { op: 'Replace', path: 'phoneNumbers[type xx "work"].value', value: '+1 555' }), 400, 'invalidPath');
    expect((await scim.get(`/Users/${id}`)).body.meta.version).toBe('W/"1"');
  });

  test('§7.3 Groups lookup as Entra sends it: displayName eq with excludedAttributes=members returns the group without members', async () => {
    const { id: member } = await created();
    const g = await scim.post('/Groups', { schemas: [GROUP], displayName: 'Finance', members: [{ value: member }] });
    expect(g.status).toBe(201);
    const res = await scim.get('/Groups').query({ filter: 'displayName eq "finance"', excludedAttributes: 'members' });
    expect(res.body).toMatchObject({ schemas: [LIST], totalResults: 1 });
    expect(res.body.Resources[0]).toMatchObject({ id: g.body.id, displayName: 'Finance' });
    expect(res.body.Resources[0].members).toBeUndefined();
    expect((await scim.get(`/Groups/${g.body.id}`)).body.members).toEqual([{ value: member }]);
  });

  test('§7.3 dateTime filters (meta.lastModified) compare instants, not text: other offsets and whole seconds', async () => {
    const { meta } = await created();
    const at = Date.parse(meta.lastModified);
    const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const sameInstant = new Date(at).toISOString().replace(/Z$/, '+00:00'); // "…34.777+00:00" for "…34.777Z"
    const wholeSecond = isoSeconds(Math.floor(at / 1000) * 1000); // at or before it
    const found = async (filter: string) => (await scim.get('/Users').query({ filter })).body.totalResults as number;
    expect(await found(`meta.lastModified eq "${sameInstant}"`)).toBe(1);
    expect(await found(`meta.lastModified ne "${sameInstant}"`)).toBe(0);
    expect(await found(`meta.lastModified ge "${wholeSecond}"`)).toBe(1);
    expect(await found(`meta.lastModified lt "${wholeSecond}"`)).toBe(0);
    expect(await found(`meta.lastModified gt "${isoSeconds(at + 1000)}"`)).toBe(0);
    expect(await found(`meta.lastModified le "${isoSeconds(at + 1000)}"`)).toBe(1);
    expect(await found(`meta.created gt "${isoSeconds(at - 1000)}" and userName eq "ALICE@example.com"`)).toBe(1);
  });

  test('§7.7 operations Tether does not offer (/Bulk, /Me) → 501 with a SCIM error body', async () => {
    expectScimError(await scim.post('/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }), 501);
    expectScimError(await scim.get('/Me'), 501);
    expectScimError(await scim.get('/Nope'), 404);
    expectScimError(await request(h.app).post('/scim/v2/Bulk').send({}), 401); // credentials first
  });

  test('§7.8 discovery: ServiceProviderConfig, ResourceTypes/User and Schemas in the documented shapes; listings are ListResponses', async () => {
    const spc = await scim.get('/ServiceProviderConfig');
    expect(spc.status).toBe(200);
    expect(spc.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: expect.any(Number) },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: true },
      authenticationSchemes: [expect.objectContaining({ type: 'oauthbearertoken', primary: true })],
      meta: { resourceType: 'ServiceProviderConfig', location: expect.stringMatching(/\/scim\/v2\/ServiceProviderConfig$/) },
    });
    const rt = await scim.get('/ResourceTypes/User');
    expect(rt.status).toBe(200);
    expect(rt.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      schema: USER,
      schemaExtensions: [{ schema: ENTERPRISE, required: false }],
      meta: { resourceType: 'ResourceType', location: expect.stringMatching(/\/scim\/v2\/ResourceTypes\/User$/) },
    });
    for (const listing of ['/ResourceTypes', '/Schemas']) {
      const res = await scim.get(listing);
      expect(res.body).toMatchObject({ schemas: [LIST], startIndex: 1 });
      expect(res.body.totalResults).toBe(res.body.Resources.length);
      expect(res.body.itemsPerPage).toBe(res.body.Resources.length);
    }
    const schemas = (await scim.get('/Schemas')).body.Resources as Array<{ id: string; name: string; attributes: Record<string, unknown>[]; meta: Record<string, unknown> }>;
    expect(schemas.map((s) => s.id)).toEqual([USER, ENTERPRISE, GROUP]);
    for (const s of schemas) {
      expect(s.meta).toMatchObject({ resourceType: 'Schema' });
      for (const a of s.attributes) {
        expect(Object.keys(a)).toEqual(expect.arrayContaining(['name', 'type', 'multiValued', 'description', 'required', 'caseExact', 'mutability', 'returned', 'uniqueness']));
      }
    }
    expect(schemas[0].attributes.find((a) => a.name === 'password')).toMatchObject({ returned: 'never' });
  });
});

describe('§8 SSF receiver (RFC 8935 push) as transmitters send SETs', () => {
  const ISS = 'https://idp.example.com/123456789/';
  const AUD = 'https://tether.example.com/caep';
  const PUSH = '/v1/adapters/ssf/events';
  let key: CryptoKey;
  let jwk: JWK;
  let weak: crypto.KeyPairKeyObjectResult;
  let h: Harness;

  beforeAll(async () => {
    ({ key, jwk } = await transmitterKey());
    weak = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  });
  beforeEach(async () => {
    const weakJwk = { ...(weak.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'weak', alg: 'RS256', use: 'sig' };
    h = await harness({
      TETHER_SSF_RECEIVER_ISSUER: ISS,
      TETHER_SSF_RECEIVER_JWKS: JSON.stringify({ keys: [jwk, weakJwk] }),
      TETHER_SSF_RECEIVER_AUDIENCE: AUD,
      TETHER_SSF_RECEIVER_TOKEN: 'push-token',
    });
    h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com', 'https://idp.example.com/users/alice', 'did:example:alice'] });
    h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: new Date(Date.now() - 60_000).toISOString() });
  });
  afterEach(() => h.close());

  let seq = 0;
  /** SET claims as protocols.md §8.4's example has them (session-revoked about alice by email unless told). */
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    iss: ISS,
    jti: `gotcha-${++seq}-${Date.now()}`,
    iat: Math.floor(Date.now() / 1000),
    aud: AUD,
    txn: '8675309',
    sub_id: { format: 'email', email: 'alice@example.com' },
    events: { [`${CAEP}session-revoked`]: { initiating_entity: 'policy', event_timestamp: Math.floor(Date.now() / 1000) } },
    ...extra,
  });
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'secevent+jwt', kid: 'k1' }) =>
    new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
  const push = (set: string) =>
    request(h.app).post(PUSH).set('Content-Type', 'application/secevent+jwt').set('Accept', 'application/json').set('Authorization', 'Bearer push-token').send(set);
  const caep = () => h.ctx.store.getIdentity('alice')!.attributes?.caep as Record<string, Record<string, unknown>> | undefined;
  async function expectRefused(set: string, err: string, description: RegExp | string): Promise<void> {
    const res = await push(set);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ err, description: typeof description === 'string' ? expect.stringContaining(description) : expect.stringMatching(description) });
    expect(caep()).toBeUndefined();
  }

  test('§8.2 typ: a SET without typ is refused; "application/secevent+jwt" is the same media type and accepted', async () => {
    await expectRefused(await sign(claims(), { alg: 'RS256', kid: 'k1' }), 'invalid_request', 'typ');
    await push(await sign(claims(), { alg: 'RS256', typ: 'application/secevent+jwt', kid: 'k1' })).expect(202);
    expect(caep()!.session_revoked).toMatchObject({ iss: ISS });
  });

  test('§8.2 jti and iat are required', async () => {
    await expectRefused(await sign(claims({ jti: undefined })), 'invalid_request', 'jti is required');
    await expectRefused(await sign(claims({ iat: undefined })), 'invalid_request', 'iat is required');
  });

  test('§8.2 aud may be an array: accepted when one value identifies Tether, invalid_audience otherwise', async () => {
    await expectRefused(await sign(claims({ aud: ['https://other.example/', 'urn:other'] })), 'invalid_audience', 'aud');
    await push(await sign(claims({ aud: ['https://other.example/', AUD] }))).expect(202);
    expect(caep()!.session_revoked).toMatchObject({ iss: ISS });
  });

  test('§8.2 RS256 with a key under 2048 bits is refused as invalid_key (CAEP interoperability profile)', async () => {
    // jose will not sign with such a key, as no conforming transmitter would: sign the JWS by hand.
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${b64({ alg: 'RS256', typ: 'secevent+jwt', kid: 'weak' })}.${b64(claims())}`;
    const set = `${input}.${crypto.sign('sha256', Buffer.from(input), weak.privateKey).toString('base64url')}`;
    await expectRefused(set, 'invalid_key', 'is a 1024-bit RSA key; at least 2048 bits are required');
  });

  test('§8.2 unknown fields are ignored: extra claims, toe, extra event members', async () => {
    const set = await sign(
      claims({
        toe: Math.floor(Date.now() / 1000) - 5,
        'https://vendor.example/claims/tenant': 'acme',
        events: { [`${CAEP}session-revoked`]: { initiating_entity: 'admin', reason_admin: { en: 'Landspeed Policy Violation' }, reason_user: { en: 'Access denied', 'es-410': 'Acceso denegado' }, vendor_extra: { a: 1 }, event_timestamp: 1615304991 } },
      }),
    );
    await push(set).expect(202);
    expect(caep()!.session_revoked).toMatchObject({ iss: ISS, at: '2021-03-09T15:49:51.000Z' });
  });

  test('§8.4 event types Tether does not act on, and SSF control events about the stream (sub_id = opaque stream id), are accepted and change nothing', async () => {
    const before = { identity: h.ctx.store.getIdentity('alice')!.version, device: h.ctx.store.getDevice('mac-1')!.version };
    const events: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
      [`${CAEP}token-claims-change`, { claims: { role: 'ro-admin' } }],
      [`${CAEP}session-established`, { fp_ua: 'abc', acr: 'AAL2', amr: ['pwd', 'otp'] }],
      [`${CAEP}session-presented`, { fp_ua: 'abc' }],
      [`${CAEP}risk-level-change`, { principal: 'USER', current_level: 'HIGH', previous_level: 'LOW', risk_reason: 'PASSWORD_FOUND_IN_DATA_BREACH' }],
      [`${SSF_EVENT}verification`, { state: 'VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo=' }, { format: 'opaque', id: 'f67e39a0a4d34d56b3aa1bc4cff0069f' }],
      [`${SSF_EVENT}stream-updated`, { status: 'paused', reason: 'maintenance' }, { format: 'opaque', id: 'f67e39a0a4d34d56b3aa1bc4cff0069f' }],
    ];
    for (const [type, event, subId] of events) {
      const res = await push(await sign(claims({ events: { [type]: event }, ...(subId && { sub_id: subId }) })));
      expect([type, res.status, res.text]).toEqual([type, 202, '']);
    }
    expect(h.ctx.store.getIdentity('alice')!.version).toBe(before.identity);
    expect(h.ctx.store.getDevice('mac-1')!.version).toBe(before.device);
  });

  test.each([
    ['account (acct: URI)', { format: 'account', uri: 'acct:alice@example.com' }],
    ['uri', { format: 'uri', uri: 'https://idp.example.com/users/alice' }],
    ['did', { format: 'did', url: 'did:example:alice' }],
    ['aliases (the first identifier unknown, the second an email)', { format: 'aliases', identifiers: [{ format: 'phone_number', phone_number: '+12065550100' }, { format: 'email', email: 'alice@example.com' }] }],
  ])('§8.3 a %s subject resolves through the identity aliases', async (_name, subject) => {
    await push(await sign(claims({ sub_id: subject }))).expect(202);
    expect(caep()!.session_revoked).toMatchObject({ iss: ISS });
  });

  test('§8.4 optional claims have their types (event_timestamp a number); required event claims are required (credential-change change_type)', async () => {
    await expectRefused(await sign(claims({ events: { [`${CAEP}session-revoked`]: { event_timestamp: '1615304991' } } })), 'invalid_request', 'event_timestamp must be a number');
    await expectRefused(await sign(claims({ events: { [`${CAEP}credential-change`]: { credential_type: 'password' } } })), 'invalid_request', 'change_type');
    await expectRefused(await sign(claims({ events: { [`${CAEP}device-compliance-change`]: { current_status: 'not-compliant' } } })), 'invalid_request', 'previous_status');
    expect(h.ctx.store.getDevice('mac-1')!.compliant).toBe(true);
  });
});

describe('§8 SSF transmitter: discovery, stream management and push as receivers use them', () => {
  const ISSUER = 'https://tether.example.com';
  const auth = { Authorization: `Bearer ${API_TOKEN}` };
  let receiver: http.Server;
  let base: string;
  let received: Array<{ path: string; headers: http.IncomingHttpHeaders; claims: Record<string, unknown> }>;
  let h: Harness;

  beforeEach(async () => {
    received = [];
    // An RFC 8935 receiver: 202 and an empty body for every SET.
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, claims: JSON.parse(Buffer.from(body.split('.')[1] ?? '', 'base64url').toString() || '{}') });
        res.statusCode = 202;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    h = await harness({ TETHER_SSF_ISSUER: ISSUER });
    h.adapters.ssfTransmitter['cfg'].baseDelayMs = 50;
    await h.adapters.ssfTransmitter.signingKey();
    h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
    h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate' });
  });
  afterEach(async () => {
    await h.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  const createStream = async (path: string, events_requested: string[]) => {
    const res = await request(h.app).post('/ssf/streams').set(auth).send({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${base}${path}`, authorization_header: 'Bearer rcv' }, events_requested, description: path });
    expect(res.status).toBe(201);
    return res.body as Record<string, unknown> & { stream_id: string };
  };
  const eventually = async (cond: () => boolean, ms = 5000) => {
    const until = Date.now() + ms;
    while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  };
  const typeOf = (c: Record<string, unknown>) => Object.keys(c.events as object)[0];

  test('§8.7 metadata carries every field a receiver reads (spec_version 1_0, issuer, endpoints, push only, OAuth, default_subjects)', async () => {
    const meta = (await request(h.app).get('/.well-known/ssf-configuration').expect(200)).body;
    expect(meta).toEqual({
      spec_version: '1_0',
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/ssf/jwks.json`,
      delivery_methods_supported: ['urn:ietf:rfc:8935'],
      configuration_endpoint: `${ISSUER}/ssf/streams`,
      status_endpoint: `${ISSUER}/ssf/status`,
      add_subject_endpoint: `${ISSUER}/ssf/subjects/add`,
      remove_subject_endpoint: `${ISSUER}/ssf/subjects/remove`,
      verification_endpoint: `${ISSUER}/ssf/verify`,
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
      default_subjects: 'ALL',
    });
    // §8.2: the CAEP interoperability profile's RS256 with an RSA key of at least 2048 bits.
    const [k] = (await request(h.app).get('/ssf/jwks.json').expect(200)).body.keys;
    expect(k).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(Buffer.from(k.n, 'base64url').length * 8).toBeGreaterThanOrEqual(2048);
  });

  test('§8.7 create answers 201 with the stream configuration; no delivery (poll) is refused; PUT replaces and answers the full configuration', async () => {
    const s = await createStream('/a', [`${CAEP}session-revoked`]);
    expect(s).toEqual({
      stream_id: expect.any(String),
      iss: ISSUER,
      aud: `${base}/a`,
      events_supported: expect.arrayContaining([`${CAEP}session-revoked`, `${CAEP}device-compliance-change`]),
      events_requested: [`${CAEP}session-revoked`],
      events_delivered: [`${CAEP}session-revoked`],
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${base}/a`, authorization_header: 'Bearer rcv' },
      description: '/a',
      min_verification_interval: 0,
    });
    const poll = await request(h.app).post('/ssf/streams').set(auth).send({ events_requested: [`${CAEP}session-revoked`] });
    expect(poll.status).toBe(400);
    expect(poll.body.errors.map((e: { path: string }) => e.path)).toContain('/delivery');
    const put = await request(h.app)
      .put('/ssf/streams')
      .set(auth)
      .send({ stream_id: s.stream_id, delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${base}/b` }, events_requested: [`${CAEP}device-compliance-change`] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ stream_id: s.stream_id, iss: ISSUER, delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${base}/b` }, events_requested: [`${CAEP}device-compliance-change`], events_delivered: [`${CAEP}device-compliance-change`] });
    expect(put.body.description).toBeUndefined();
    expect((await request(h.app).get('/ssf/streams').query({ stream_id: s.stream_id }).set(auth)).body).toEqual(put.body);
  });

  test('§8.2/§8.5 one change, one SET per stream: the same txn, its own jti; pushed as application/secevent+jwt with Accept: application/json', async () => {
    await createStream('/a', [`${CAEP}session-revoked`]);
    await createStream('/b', [`${CAEP}session-revoked`]);
    h.ctx.store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
    await eventually(() => received.length >= 2);
    expect(received.map((r) => r.path).sort()).toEqual(['/a', '/b']);
    for (const r of received) {
      expect(r.headers['content-type']).toBe('application/secevent+jwt');
      expect(r.headers.accept).toBe('application/json');
      expect(r.headers.authorization).toBe('Bearer rcv');
    }
    expect(received[0].claims.txn).toBe(received[1].claims.txn);
    expect(received[0].claims.jti).not.toBe(received[1].claims.jti);
  });

  test('§8.7 only events_delivered arrive; a paused stream holds its SETs until enabled; a disabled one drops them', async () => {
    const sessions = await createStream('/sessions', [`${CAEP}session-revoked`]);
    const devices = await createStream('/devices', [`${CAEP}device-compliance-change`]);
    h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate' });
    await eventually(() => received.length >= 1);
    await h.adapters.ssfTransmitter.flush();
    expect(received.map((r) => [r.path, typeOf(r.claims)])).toEqual([['/devices', `${CAEP}device-compliance-change`]]);

    received = [];
    await request(h.app).post('/ssf/status').set(auth).send({ stream_id: sessions.stream_id, status: 'paused' }).expect(200);
    await request(h.app).post('/ssf/status').set(auth).send({ stream_id: devices.stream_id, status: 'disabled' }).expect(200);
    h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: false, compliant: false, encrypted: true, ownership: 'corporate' });
    h.ctx.store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
    await h.adapters.ssfTransmitter.flush();
    expect(received).toEqual([]);
    expect(h.adapters.ssfTransmitter.depth()).toBe(1); // the paused stream's session-revoked; the disabled stream queued nothing
    await request(h.app).post('/ssf/status').set(auth).send({ stream_id: sessions.stream_id, status: 'enabled' }).expect(200);
    await eventually(() => received.length >= 1);
    expect(received.map((r) => [r.path, typeOf(r.claims)])).toEqual([['/sessions', `${CAEP}session-revoked`]]);
  });

  test('§8.7 the management API takes its OAuth bearer token in the Authorization header only, never in the query string', async () => {
    expect((await request(h.app).get('/ssf/streams').query({ access_token: API_TOKEN })).status).toBe(401);
    expect((await request(h.app).get('/ssf/streams').set(auth)).status).toBe(200);
  });
});

describe('§9 MDM device records', () => {
  const TENANT = 'contoso.onmicrosoft.com';
  const ISS = 'https://login.microsoftonline.com/contoso/v2.0';
  const AUD = 'https://tether.example.com/';
  let graph: FakeGraph;
  let jamf: FakeJamf;

  beforeEach(async () => {
    graph = await startFakeGraph(TENANT, 'app-id', 'app-secret');
    jamf = await startFakeJamf('jamf-client', 'jamf-secret');
  });
  afterEach(async () => {
    await graph.close();
    await jamf.close();
  });

  test('§9.5.1 join keys: a CAEP device subject by Entra deviceId (= Intune azureADDeviceId) or by Jamf serial/UDID finds the device; Entra device.id does not; the all-zero azureADDeviceId joins nothing', async () => {
    const { key, jwk } = await transmitterKey();
    const h = await harness({
      TETHER_SSF_RECEIVER_ISSUER: ISS,
      TETHER_SSF_RECEIVER_JWKS: JSON.stringify({ keys: [jwk] }),
      TETHER_SSF_RECEIVER_AUDIENCE: AUD,
      TETHER_INTUNE_TENANT_ID: TENANT,
      TETHER_INTUNE_CLIENT_ID: 'app-id',
      TETHER_INTUNE_CLIENT_SECRET: 'app-secret',
      TETHER_INTUNE_GRAPH_URL: graph.url,
      TETHER_INTUNE_AUTHORITY_URL: graph.url,
      TETHER_JAMF_URL: jamf.url,
      TETHER_JAMF_CLIENT_ID: 'jamf-client',
      TETHER_JAMF_CLIENT_SECRET: 'jamf-secret',
    });
    try {
      h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      await h.adapters.intune!['polling']?.catch(() => undefined); // start-up poll against an empty Graph
      await h.adapters.jamf!['pulling']?.catch(() => undefined);
      const entraDeviceId = 'e9297990-14d2-42ec-a4a9-4036db86509a';
      const unjoined = '00000000-0000-0000-0000-000000000000'; // Graph's azureADDeviceId of a device not registered in Entra
      graph.devices = [
        managedDevice('7d8e9f0a-intune-1', { azureADDeviceId: entraDeviceId }),
        managedDevice('7d8e9f0a-intune-2', { azureADDeviceId: unjoined }),
        managedDevice('7d8e9f0a-intune-3', { azureADDeviceId: unjoined }),
      ];
      expect((await h.adapters.intune!.poll()).written).toBe(3);
      jamf.computers = [jamfComputer('52')];
      expect((await h.adapters.jamf!.pull()).written).toBe(1);
      expect(deviceAliases(h.ctx.store).resolve(unjoined)).toBeUndefined();

      let n = 0;
      const notCompliant = (device: Record<string, unknown>) =>
        new SignJWT({
          jti: `join-${++n}`,
          sub_id: { format: 'complex', device, tenant: { format: 'opaque', id: 'contoso' } },
          events: { [`${CAEP}device-compliance-change`]: { current_status: 'not-compliant', previous_status: 'compliant', event_timestamp: Math.floor(Date.now() / 1000) } },
        })
          .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: 'k1' })
          .setIssuer(ISS)
          .setAudience(AUD)
          .setIssuedAt()
          .sign(key);
      const push = async (device: Record<string, unknown>) =>
        request(h.app).post('/v1/adapters/ssf/events').set('Content-Type', 'application/secevent+jwt').send(await notCompliant(device));

      expect((await push({ format: 'iss_sub', iss: ISS, sub: entraDeviceId })).status).toBe(202);
      expect(h.ctx.store.getDevice('7d8e9f0a-intune-1')).toMatchObject({ compliant: false, source: 'caep' });
      const byDirectoryObjectId = await push({ format: 'opaque', id: '6a59ea83-02bd-468f-a40b-f2c3d1821983' }); // Entra device.id
      expect(byDirectoryObjectId.status).toBe(400);
      expect(byDirectoryObjectId.body.err).toBe('invalid_request');
      expect((await push({ format: 'opaque', id: unjoined })).status).toBe(400);
      expect(h.ctx.store.getDevice('7d8e9f0a-intune-2')!.compliant).toBe(true);

      expect((await push({ format: 'opaque', id: 'C02SERIAL52' })).status).toBe(202);
      expect(h.ctx.store.getDevice('UDID-COMPUTER-52')).toMatchObject({ compliant: false, source: 'caep' });
      h.ctx.store.putDevice('UDID-COMPUTER-52', { ...deviceInput(h.ctx.store.getDevice('UDID-COMPUTER-52')!), compliant: true, observed_at: new Date().toISOString() });
      expect((await push({ format: 'opaque', id: 'udid-computer-52' })).status).toBe(202); // UDIDs compare case-insensitively
      expect(h.ctx.store.getDevice('UDID-COMPUTER-52')!.compliant).toBe(false);
    } finally {
      await h.close();
    }
  });

  test('§9.1 Graph throttling: a 429 whose Retry-After is an HTTP-date is waited out until that date', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      const slept: number[] = [];
      const now = Date.parse('2026-11-25T12:00:00Z');
      const intune = new IntuneAdapter(
        store,
        { tenantId: TENANT, clientId: 'app-id', clientSecret: 'app-secret', graphBase: graph.url, authorityBase: graph.url, pageSize: 2, sleep: async (ms) => void slept.push(ms) },
        () => now,
      );
      graph.devices = [managedDevice('d1'), managedDevice('d2'), managedDevice('d3')];
      graph.throttleRequest = { n: 2, retryAfter: new Date(now + 42_000).toUTCString() };
      expect((await intune.poll()).written).toBe(3);
      expect(slept).toEqual([42_000]);
    } finally {
      store.close();
    }
  });

  test('§9.2 Jamf token refresh: an access token is renewed before it expires (expires_in), so no API call is refused for it', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      let now = Date.now();
      const adapter = new JamfAdapter(store, { url: jamf.url, clientId: 'jamf-client', clientSecret: 'jamf-secret', pageSize: 2 }, () => now);
      jamf.computers = [jamfComputer('1'), jamfComputer('2'), jamfComputer('3')];
      await adapter.pull();
      expect(jamf.tokenRequests).toBe(1);
      const pages = jamf.requests.length;
      now += 290_000; // the fake's tokens live expires_in = 299 s
      jamf.revokeTokens(); // what Jamf does to a token past its expiry: 401 INVALID_TOKEN
      await adapter.pull();
      expect(jamf.tokenRequests).toBe(2);
      expect(jamf.requests.length - pages).toBe(2); // the two pages again, none of them refused with a 401 first
      expect(adapter.status().state).toBe('NOT_READY'); // pull() alone does not start the unit
    } finally {
      store.close();
    }
  });

  test('§9.2 Jamf webhook epochs: eventTimestamp in milliseconds (13 digits) or seconds (10 digits) dates the unenrollment alike', async () => {
    const basic = 'Basic ' + Buffer.from('jamf-hook:hook-pass').toString('base64');
    const h = await harness({ TETHER_JAMF_URL: jamf.url, TETHER_JAMF_CLIENT_ID: 'jamf-client', TETHER_JAMF_CLIENT_SECRET: 'jamf-secret', TETHER_JAMF_WEBHOOK_USER: 'jamf-hook', TETHER_JAMF_WEBHOOK_PASSWORD: 'hook-pass' });
    try {
      h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      await h.adapters.jamf!['pulling']?.catch(() => undefined);
      const checkIn = Date.now() - 3600_000;
      jamf.mobiles = [jamfMobile('9', { lastInventoryUpdateTimestamp: new Date(checkIn).toISOString() }), jamfMobile('10', { lastInventoryUpdateTimestamp: new Date(checkIn).toISOString() })];
      const hook = (webhookEvent: string, eventTimestamp: number, event: Record<string, unknown>) => ({ webhook: { id: 7, name: 'tether', webhookEvent, eventTimestamp }, event });
      for (const id of ['9', '10']) {
        await request(h.app).post('/v1/adapters/jamf/webhook').set('Authorization', basic).send(hook('MobileDeviceEnrolled', Date.now(), { jssID: Number(id), udid: `UDID-MOBILE-${id}` })).expect(200);
      }
      const atS = Math.floor(Date.now() / 1000) - 60;
      await request(h.app).post('/v1/adapters/jamf/webhook').set('Authorization', basic).send(hook('MobileDeviceUnEnrolled', atS * 1000, { jssID: 9, udid: 'UDID-MOBILE-9' })).expect(200);
      await request(h.app).post('/v1/adapters/jamf/webhook').set('Authorization', basic).send(hook('MobileDeviceUnEnrolled', atS, { jssID: 10, udid: 'UDID-MOBILE-10' })).expect(200);
      for (const id of ['UDID-MOBILE-9', 'UDID-MOBILE-10']) {
        expect(h.ctx.store.getDevice(id)).toMatchObject({ enrolled: false, compliant: false, observed_at: new Date(atS * 1000).toISOString() });
      }
    } finally {
      await h.close();
    }
  });

  test('§9.2 Jamf webhooks nest the computer for check-in and policy events, not for inventory: each re-reads that computer', async () => {
    const token = 'jamf-header-token';
    const h = await harness({ TETHER_JAMF_URL: jamf.url, TETHER_JAMF_CLIENT_ID: 'jamf-client', TETHER_JAMF_CLIENT_SECRET: 'jamf-secret', TETHER_JAMF_WEBHOOK_TOKEN: token });
    try {
      h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
      await h.adapters.jamf!['pulling']?.catch(() => undefined);
      jamf.computers = [jamfComputer('52'), jamfComputer('53'), jamfComputer('54')];
      const hook = (webhookEvent: string, event: Record<string, unknown>) => ({ webhook: { id: 1, name: 'tether', webhookEvent, eventTimestamp: Date.now() }, event });
      const send = (body: object) => request(h.app).post('/v1/adapters/jamf/webhook').set('Authorization', `Bearer ${token}`).send(body);
      await send(hook('ComputerPolicyFinished', { computer: { jssID: 52, udid: 'UDID-COMPUTER-52', serialNumber: 'C02SERIAL52' }, policyId: 12, successful: true })).expect(200);
      await send(hook('ComputerPatchPolicyCompleted', { computer: { jssID: 53 }, patchPolicyId: 3, patchPolicyName: 'Chrome', softwareTitleId: 9, deployedVersion: '126', eventActions: {}, successful: true })).expect(200);
      await send(hook('ComputerPushCapabilityChanged', { jssID: 54, udid: 'UDID-COMPUTER-54' })).expect(200);
      expect(jamf.requests.filter((r) => r.startsWith('GET /api/v1/computers-inventory-detail/'))).toEqual(['52', '53', '54'].map((id) => `GET /api/v1/computers-inventory-detail/${id}`));
      for (const id of ['52', '53', '54']) expect(h.ctx.store.getDevice(`UDID-COMPUTER-${id}`)).toMatchObject({ owner: 'alice', compliant: true, source: 'jamf' });
    } finally {
      await h.close();
    }
  });
});
