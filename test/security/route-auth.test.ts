// "Every route that writes state or reveals it needs a token; webhooks are signed and verified", proven
// route by route against one real server with every feature configured (full-server.ts). For each route
// the table names what it does and its guard; each row is sent without a credential and with every wrong
// one of its family (a garbage value, a credential of ANOTHER family, a near miss), answered with the
// protocol's refusal, and the database (every record table, streams, replay table, outbox sizes, policy
// revision) must be byte-for-byte unchanged. Then the right credential must get past the guard (the row
// really reaches that route). Routes deliberately open are listed with the reason and asserted open.
import { SignJWT, generateKeyPair } from 'jose';
import { serveTemp, type TempServer } from '../helpers/serve-temp';
import { oktaBodyFor } from '../../src/callers/okta-example';
import {
  BG_BODY, S, SSF_ISSUER_PATH, SUBJECT_HEADER, basic, bearer, caepSet, entraJwt, exceptionBody, fingerprint, jamfHookBody, json, mdmSigned,
  proxyJwt, scimJson, send, startFull, until, type Answer, type Full,
} from './full-server';
import { entraBodyFor } from '../callers/helpers/idp-payloads';
import { adaptersFor } from '../../src/adapters';
import { routeModules } from '../../src/api/routes';
import { callersRoutes } from '../../src/api/routes/callers';
import { parseCallersConfig } from '../../src/callers/config';

jest.setTimeout(60_000);

let full: Full;
let scimUser = '';
let scimDelUser = '';
let scimGroup = '';
let scimDelGroup = '';

beforeAll(async () => {
  full = await startFull();
  const scim = async (path: string, body: unknown) => JSON.parse((await send(full.port, 'POST', path, { ...bearer(S.scim), ...scimJson }, JSON.stringify(body))).text).id as string;
  const user = (name: string) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: name, active: true });
  scimUser = await scim('/scim/v2/Users', user('carol@example.com'));
  scimDelUser = await scim('/scim/v2/Users', user('dan@example.com'));
  scimGroup = await scim('/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Eng' });
  scimDelGroup = await scim('/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Ops' });
  expect([scimUser, scimDelUser, scimGroup, scimDelGroup].every(Boolean)).toBe(true);
  // The pollers' start-up syncs are over before the first fingerprint.
  const set = adaptersFor(full.t.server.ctx);
  await Promise.all([set.jamf!.pull(), set.intune!.poll()]);
  await settle();
});
afterAll(() => full?.stop());

/** One attempt: headers, and optionally another body or path (credentials that live in them). */
interface Attempt {
  headers: Record<string, string>;
  body?: string;
  path?: string;
}
type Make = (row: Row, body: string | undefined) => Promise<Attempt> | Attempt;

/** A guard: the right credential, the wrong ones, and how its refusal looks. */
interface Guard {
  name: string;
  right: Make;
  wrong: Array<[string, Make]>;
  refused(a: Answer): void;
}

interface Row {
  route: string;
  method: string;
  path: string | (() => string);
  /** What the route does with state (documentation of the table; writes are checked by the fingerprint either way). */
  effect: 'writes' | 'reveals' | 'writes+reveals';
  guard: Guard;
  headers?: Record<string, string>;
  body?: () => string | Promise<string>;
  /** The status the right credential gets when it is a 5xx on purpose (SCIM's 501s). */
  ok?: number;
}

const h = (headers: Record<string, string>): Make => () => ({ headers });
const pathOf = (r: Row) => (typeof r.path === 'function' ? r.path() : r.path);
const withQuery = (p: string, q: string) => p + (p.includes('?') ? '&' : '?') + q;

const apiError = (a: Answer, code = 'unauthorized') => {
  expect(a.status).toBe(401);
  expect(JSON.parse(a.text)).toMatchObject({ code });
};

// ---- guards

const API: Guard = {
  name: 'API token (TETHER_API_TOKEN)',
  right: h(bearer(S.api)),
  wrong: [
    ['none', h({})],
    ['garbage bearer', h(bearer('not-the-token'))],
    ['the token plus one character', h(bearer(S.api + 'x'))],
    ['the decision token', h(bearer(S.decision))],
    ['the SCIM token', h(bearer(S.scim))],
    ['the SSF management token', h(bearer(S.ssfMgmt))],
    ['the Okta hook secret', h(bearer(S.okta))],
    ['the token as Basic credentials', h(basic('tether', S.api))],
    ['the token in X-Api-Key', h({ 'x-api-key': S.api })],
    ['the token in the query string', (r) => ({ headers: {}, path: withQuery(pathOf(r), `access_token=${S.api}`) })],
  ],
  refused: (a) => {
    apiError(a);
    expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
  },
};

const DECISION: Guard = {
  name: 'decision token (TETHER_DECISION_TOKEN; the API token too)',
  right: h(bearer(S.decision)),
  wrong: [
    ['none', h({})],
    ['garbage bearer', h(bearer('not-the-token'))],
    ['the SCIM token', h(bearer(S.scim))],
    ['the SSF management token', h(bearer(S.ssfMgmt))],
    ['the token in the query string', (r) => ({ headers: {}, path: withQuery(pathOf(r), `access_token=${S.decision}`) })],
  ],
  refused: (a) => apiError(a),
};

const SSF_MGMT: Guard = {
  name: 'SSF management token (TETHER_SSF_MANAGEMENT_TOKEN; the API token too)',
  right: h(bearer(S.ssfMgmt)),
  wrong: [
    ['none', h({})],
    ['garbage bearer', h(bearer('not-the-token'))],
    ['the decision token', h(bearer(S.decision))],
    ['the SCIM token', h(bearer(S.scim))],
    ['the SSF push token', h(bearer(S.ssfPush))],
  ],
  refused: (a) => {
    apiError(a);
    expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
  },
};

const SCIM: Guard = {
  name: 'SCIM bearer token (TETHER_SCIM_TOKEN)',
  right: h(bearer(S.scim)),
  wrong: [
    ['none', h({})],
    ['garbage bearer', h(bearer('not-the-token'))],
    ['the API token', h(bearer(S.api))],
    ['the decision token', h(bearer(S.decision))],
    ['the token as Basic credentials', h(basic('scim', S.scim))],
  ],
  refused: (a) => {
    expect(a.status).toBe(401);
    expect(a.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(JSON.parse(a.text)).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' });
  },
};

const MDM: Guard = {
  name: 'HMAC-SHA256 signature over time + body (TETHER_MDM_WEBHOOK_SECRET)',
  right: (_r, body) => ({ headers: mdmSigned(body!) }),
  wrong: [
    ['unsigned', h(json)],
    ['signed with another secret', (_r, body) => ({ headers: mdmSigned(body!, 's3cr3t-not-the-mdm-key-000') })],
    ['signed with the API token', (_r, body) => ({ headers: mdmSigned(body!, S.api) })],
    ['validly signed 10 minutes ago', (_r, body) => ({ headers: mdmSigned(body!, S.mdm, Math.floor(Date.now() / 1000) - 600) })],
    ['a valid signature of another body', (_r, body) => ({ headers: mdmSigned('{"device":{"id":"x","owner":"bob","ownership":"corporate"}}'), body })],
    ['the secret as a bearer token', h({ ...json, ...bearer(S.mdm) })],
  ],
  refused: (a) => apiError(a),
};

const JAMF: Guard = {
  name: 'Jamf webhook Basic (TETHER_JAMF_WEBHOOK_USER/PASSWORD) or bearer (TETHER_JAMF_WEBHOOK_TOKEN)',
  right: h({ ...json, ...basic(S.jamfHookUser, S.jamfHookPassword) }),
  wrong: [
    ['none', h(json)],
    ['garbage bearer', h({ ...json, ...bearer('not-the-token') })],
    ['wrong Basic password', h({ ...json, ...basic(S.jamfHookUser, 'not-the-password') })],
    ['right password, wrong user', h({ ...json, ...basic('admin', S.jamfHookPassword) })],
    ['the password as a bearer token', h({ ...json, ...bearer(S.jamfHookPassword) })],
    ['the API token', h({ ...json, ...bearer(S.api) })],
  ],
  refused: (a) => apiError(a),
};

const JAMF_BEARER: Guard = { ...JAMF, right: h({ ...json, ...bearer(S.jamfHookToken) }) };

const setHeaders = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
const SSF_SET: Guard = {
  name: "SET signature (the transmitter's JWKS) + its push bearer (TETHER_SSF_TRANSMITTERS[].token)",
  right: async () => ({ headers: { ...setHeaders, ...bearer(S.ssfPush) }, body: await caepSet(full) }),
  wrong: [
    ['no bearer', async () => ({ headers: setHeaders, body: await caepSet(full) })],
    ['garbage bearer', async () => ({ headers: { ...setHeaders, ...bearer('not-the-token') }, body: await caepSet(full) })],
    ['the API token', async () => ({ headers: { ...setHeaders, ...bearer(S.api) }, body: await caepSet(full) })],
    ['signed by an unknown key', async () => ({ headers: { ...setHeaders, ...bearer(S.ssfPush) }, body: await caepSet(full, { key: (await generateKeyPair('RS256')).privateKey }) })],
    ['unsigned (alg none)', () => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const claims = { iss: 'https://caep.example.com/', aud: 'https://tether.example.com/', iat: Math.floor(Date.now() / 1000), jti: 'none-1', sub_id: { format: 'email', email: 'alice@example.com' }, events: { 'https://schemas.openid.net/secevent/caep/event-type/session-revoked': {} } };
      return { headers: { ...setHeaders, ...bearer(S.ssfPush) }, body: `${enc({ alg: 'none', typ: 'secevent+jwt' })}.${enc(claims)}.` };
    }],
    ['an HS256 SET keyed with the push token', async () => ({
      headers: { ...setHeaders, ...bearer(S.ssfPush) },
      body: await new SignJWT({ jti: 'hs-1', sub_id: { format: 'email', email: 'alice@example.com' }, events: { 'https://schemas.openid.net/secevent/caep/event-type/session-revoked': {} } })
        .setProtectedHeader({ alg: 'HS256', typ: 'secevent+jwt', kid: 'k1' }).setIssuer('https://caep.example.com/').setAudience('https://tether.example.com/').setIssuedAt()
        .sign(Buffer.from(S.ssfPush)),
    })],
  ],
  // RFC 8935 §2.3: every failure to authenticate a SET is a 400 with an `err` code (protocols.md §8.5).
  refused: (a) => {
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text).err).toMatch(/^(authentication_failed|invalid_key|invalid_request|invalid_issuer)$/);
  },
};

const OKTA: Guard = {
  name: 'Okta registered header secret (okta.auth, TETHER_OKTA_HOOK_SECRET)',
  right: h({ ...json, authorization: S.okta }),
  wrong: [
    ['none', h(json)],
    ['garbage', h({ ...json, authorization: 's3cr3t-not-the-okta-secret-00' })],
    ['the secret as a bearer token', h({ ...json, ...bearer(S.okta) })],
    ['the API token', h({ ...json, ...bearer(S.api) })],
  ],
  refused: (a) => apiError(a),
};

const ENTRA: Guard = {
  name: "Entra bearer JWT (entra.auth: issuer, audience, JWKS) issued to Entra's events service",
  right: async () => ({ headers: { ...json, ...bearer(await entraJwt(full)) } }),
  wrong: [
    ['none', h(json)],
    ['forged (unknown key)', async () => ({ headers: { ...json, ...bearer(await full.entraIdp.forge({ aud: 'api://tether-entra', azp: '99045fe1-7639-4a75-9d4a-577b6ca3810f' })) } })],
    ['issued by another IdP (the proxies\')', async () => ({ headers: { ...json, ...bearer(await proxyJwt(full)) } })],
    ['the API token', h({ ...json, ...bearer(S.api) })],
  ],
  refused: (a) => apiError(a),
};

// Proxies: the caller is the subject's own credential (a bearer JWT) or the trusted header of an upstream
// authenticator; only 200/401/403 ever (src/callers/README.md).
const PROXY: Guard = {
  name: 'subject credential: bearer JWT (proxy.jwt) or the trusted subject header',
  right: async () => ({ headers: bearer(await proxyJwt(full)) }),
  wrong: [
    ['none', h({})],
    ['forged JWT', async () => ({ headers: bearer(await full.proxyIdp.forge({ aud: 'api://tether-proxies', email: 'alice@example.com' })) })],
    ['a forged JWT plus the trusted header (a bad token is never overridden)', async () => ({ headers: { ...bearer(await full.proxyIdp.forge({ aud: 'api://tether-proxies', email: 'alice@example.com' })), [SUBJECT_HEADER]: 'alice@example.com' } })],
    ['a JWT of another IdP', async () => ({ headers: bearer(await entraJwt(full)) })],
    ['the API token', h(bearer(S.api))],
  ],
  refused: (a) => {
    expect(a.status).toBe(401);
    expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
  },
};
const PROXY_HEADER: Guard = { ...PROXY, right: h({ [SUBJECT_HEADER]: 'alice@example.com' }) };

// ---- the table

const ndjson = { 'content-type': 'application/x-ndjson' };
const identity = () => JSON.stringify({ status: 'active', type: 'employee', aliases: ['new-person@example.com'] });
const decide = () => JSON.stringify({ action: 'access', subject: 'alice@example.com', device: 'mac-alice', resource: { app: 'wiki' } });
const scimUserBody = (name: string) => () => JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: name, active: true });
const patchOp = () => JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
const groupBody = () => JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Eng-renamed' });
const streamBody = () => JSON.stringify({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${full.sink.url}/evil` }, events_requested: [] });

const ROWS: Row[] = [
  // state (API token)
  { route: 'PUT /v1/identities/{id}', method: 'PUT', path: '/v1/identities/sec-new', effect: 'writes', guard: API, headers: json, body: identity },
  { route: 'GET /v1/identities/{id}', method: 'GET', path: '/v1/identities/alice', effect: 'reveals', guard: API },
  { route: 'GET /v1/identities/{id} (case-folded path)', method: 'GET', path: '/V1/IDENTITIES/alice', effect: 'reveals', guard: API },
  { route: 'GET /v1/identities/{id}/ (trailing slash)', method: 'GET', path: '/v1/identities/alice/', effect: 'reveals', guard: API },
  { route: 'GET /v1/identities/{id} (percent-encoded)', method: 'GET', path: '/v1/identities/%61lice', effect: 'reveals', guard: API },
  { route: 'DELETE /v1/identities/{id}', method: 'DELETE', path: '/v1/identities/del-identity', effect: 'writes', guard: API },
  { route: 'GET /v1/identities', method: 'GET', path: '/v1/identities', effect: 'reveals', guard: API },
  { route: 'PUT /v1/devices/{id}', method: 'PUT', path: '/v1/devices/sec-dev', effect: 'writes', guard: API, headers: json, body: () => JSON.stringify({ owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true }) },
  { route: 'GET /v1/devices/{id}', method: 'GET', path: '/v1/devices/mac-alice', effect: 'reveals', guard: API },
  { route: 'DELETE /v1/devices/{id}', method: 'DELETE', path: '/v1/devices/del-device', effect: 'writes', guard: API },
  { route: 'GET /v1/devices', method: 'GET', path: '/v1/devices', effect: 'reveals', guard: API },
  { route: 'GET /v1/devices?owner=', method: 'GET', path: '/v1/devices?owner=alice', effect: 'reveals', guard: API },
  { route: 'POST /v1/state/import', method: 'POST', path: '/v1/state/import', effect: 'writes', guard: API, headers: ndjson, body: () => JSON.stringify({ kind: 'identity', record: { id: 'imported-1', status: 'active' } }) + '\n' },
  { route: 'POST /v1/exceptions', method: 'POST', path: '/v1/exceptions', effect: 'writes', guard: API, headers: json, body: () => JSON.stringify(exceptionBody()) },
  { route: 'GET /v1/exceptions', method: 'GET', path: '/v1/exceptions', effect: 'reveals', guard: API },
  { route: 'GET /v1/exceptions/{id}', method: 'GET', path: () => `/v1/exceptions/${full.ids.exception}`, effect: 'reveals', guard: API },
  { route: 'DELETE /v1/exceptions/{id}', method: 'DELETE', path: () => `/v1/exceptions/${full.ids.exception2}`, effect: 'writes', guard: API },
  { route: 'POST /v1/break-glass/{identity}', method: 'POST', path: '/v1/break-glass/bg-admin', effect: 'writes', guard: API, headers: json, body: () => JSON.stringify(BG_BODY) },
  { route: 'GET /v1/break-glass/{identity}', method: 'GET', path: '/v1/break-glass/bg-admin2', effect: 'reveals', guard: API },
  { route: 'DELETE /v1/break-glass/{identity}', method: 'DELETE', path: '/v1/break-glass/bg-admin2', effect: 'writes', guard: API },
  { route: 'PUT /v1/apps/{id}', method: 'PUT', path: '/v1/apps/sec-new-app', effect: 'writes', guard: API, headers: json, body: () => JSON.stringify({ sensitivity: 'low' }) },
  { route: 'GET /v1/apps/{id}', method: 'GET', path: '/v1/apps/sec-app', effect: 'reveals', guard: API },
  { route: 'DELETE /v1/apps/{id}', method: 'DELETE', path: '/v1/apps/del-app', effect: 'writes', guard: API },
  { route: 'GET /v1/apps', method: 'GET', path: '/v1/apps', effect: 'reveals', guard: API },
  // lifecycle and subscriptions (API token)
  { route: 'GET /v1/lifecycle/drift', method: 'GET', path: '/v1/lifecycle/drift', effect: 'reveals', guard: API },
  { route: 'GET /v1/lifecycle/{identity}', method: 'GET', path: '/v1/lifecycle/alice', effect: 'writes+reveals', guard: API },
  { route: 'POST /v1/subscriptions', method: 'POST', path: '/v1/subscriptions', effect: 'writes', guard: API, headers: json, body: () => JSON.stringify({ url: `${full.sink.url}/evil`, secret: 's3cr3t-attacker-subscription', events: ['revocation'] }) },
  { route: 'GET /v1/subscriptions', method: 'GET', path: '/v1/subscriptions', effect: 'reveals', guard: API },
  { route: 'GET /v1/subscriptions/{id}', method: 'GET', path: () => `/v1/subscriptions/${full.ids.subscription}`, effect: 'reveals', guard: API },
  { route: 'DELETE /v1/subscriptions/{id}', method: 'DELETE', path: () => `/v1/subscriptions/${full.ids.subscription2}`, effect: 'writes', guard: API },
  // operations (API token)
  { route: 'GET /v1/policies', method: 'GET', path: '/v1/policies', effect: 'reveals', guard: API },
  { route: 'POST /v1/policies/reload', method: 'POST', path: '/v1/policies/reload', effect: 'writes', guard: API },
  { route: 'GET /v1/adapters', method: 'GET', path: '/v1/adapters', effect: 'reveals', guard: API },
  // decisions (TETHER_DECISION_TOKEN set): they reveal state (a decision; the Data API returns stored records)
  { route: 'POST /v1/decide', method: 'POST', path: '/v1/decide', effect: 'reveals', guard: DECISION, headers: json, body: decide },
  { route: 'POST /v1/decide/batch', method: 'POST', path: '/v1/decide/batch', effect: 'reveals', guard: DECISION, headers: json, body: () => `{"requests":[${decide()}]}` },
  { route: 'POST /v1/data/{path}', method: 'POST', path: '/v1/data/tether/decision', effect: 'reveals', guard: DECISION, headers: json, body: () => `{"input":${decide()}}` },
  { route: 'GET /v1/data/{path}', method: 'GET', path: '/v1/data/tether/decision', effect: 'reveals', guard: DECISION },
  { route: 'GET /v1/data (root document)', method: 'GET', path: '/v1/data', effect: 'reveals', guard: DECISION },
  { route: 'POST /v1/data (root document)', method: 'POST', path: '/v1/data', effect: 'reveals', guard: DECISION, headers: json, body: () => '{"input":{}}' },
  { route: 'POST / (OPA default decision)', method: 'POST', path: '/', effect: 'reveals', guard: DECISION, headers: json, body: decide },
  { route: 'POST /v0/data/{path}', method: 'POST', path: '/v0/data/tether/decision', effect: 'reveals', guard: DECISION, headers: json, body: decide },
  // SCIM (its own token, on every path under /scim/v2, discovery included)
  { route: 'GET /scim/v2/Users', method: 'GET', path: '/scim/v2/Users', effect: 'reveals', guard: SCIM },
  { route: 'POST /scim/v2/Users', method: 'POST', path: '/scim/v2/Users', effect: 'writes', guard: SCIM, headers: scimJson, body: scimUserBody('mallory@example.com') },
  { route: 'POST /scim/v2/Users/.search', method: 'POST', path: '/scim/v2/Users/.search', effect: 'reveals', guard: SCIM, headers: scimJson, body: () => '{"filter":"userName pr"}' },
  { route: 'GET /scim/v2/Users/{id}', method: 'GET', path: () => `/scim/v2/Users/${scimUser}`, effect: 'reveals', guard: SCIM },
  { route: 'PUT /scim/v2/Users/{id}', method: 'PUT', path: () => `/scim/v2/Users/${scimUser}`, effect: 'writes', guard: SCIM, headers: scimJson, body: () => JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'carol@example.com', active: false }) },
  { route: 'PATCH /scim/v2/Users/{id}', method: 'PATCH', path: () => `/scim/v2/Users/${scimUser}`, effect: 'writes', guard: SCIM, headers: scimJson, body: patchOp },
  { route: 'DELETE /scim/v2/Users/{id}', method: 'DELETE', path: () => `/scim/v2/Users/${scimDelUser}`, effect: 'writes', guard: SCIM },
  { route: 'GET /scim/v2/Groups', method: 'GET', path: '/scim/v2/Groups', effect: 'reveals', guard: SCIM },
  { route: 'POST /scim/v2/Groups', method: 'POST', path: '/scim/v2/Groups', effect: 'writes', guard: SCIM, headers: scimJson, body: () => JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Attackers' }) },
  { route: 'POST /scim/v2/Groups/.search', method: 'POST', path: '/scim/v2/Groups/.search', effect: 'reveals', guard: SCIM, headers: scimJson, body: () => '{}' },
  { route: 'GET /scim/v2/Groups/{id}', method: 'GET', path: () => `/scim/v2/Groups/${scimGroup}`, effect: 'reveals', guard: SCIM },
  { route: 'PUT /scim/v2/Groups/{id}', method: 'PUT', path: () => `/scim/v2/Groups/${scimGroup}`, effect: 'writes', guard: SCIM, headers: scimJson, body: groupBody },
  { route: 'PATCH /scim/v2/Groups/{id}', method: 'PATCH', path: () => `/scim/v2/Groups/${scimGroup}`, effect: 'writes', guard: SCIM, headers: scimJson, body: () => JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'Eng2' }] }) },
  { route: 'DELETE /scim/v2/Groups/{id}', method: 'DELETE', path: () => `/scim/v2/Groups/${scimDelGroup}`, effect: 'writes', guard: SCIM },
  { route: 'GET /scim/v2/ServiceProviderConfig', method: 'GET', path: '/scim/v2/ServiceProviderConfig', effect: 'reveals', guard: SCIM },
  { route: 'GET /scim/v2/ResourceTypes', method: 'GET', path: '/scim/v2/ResourceTypes', effect: 'reveals', guard: SCIM },
  { route: 'GET /scim/v2/ResourceTypes/{id}', method: 'GET', path: '/scim/v2/ResourceTypes/User', effect: 'reveals', guard: SCIM },
  { route: 'GET /scim/v2/Schemas', method: 'GET', path: '/scim/v2/Schemas', effect: 'reveals', guard: SCIM },
  { route: 'GET /scim/v2/Schemas/{id}', method: 'GET', path: '/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User', effect: 'reveals', guard: SCIM },
  { route: 'POST /scim/v2/Bulk (501)', method: 'POST', path: '/scim/v2/Bulk', effect: 'writes', guard: SCIM, headers: scimJson, body: () => '{}', ok: 501 },
  { route: 'GET /scim/v2/Me (501)', method: 'GET', path: '/scim/v2/Me', effect: 'reveals', guard: SCIM, ok: 501 },
  { route: 'GET /scim/v2/Me/{rest} (501)', method: 'GET', path: '/scim/v2/Me/groups', effect: 'reveals', guard: SCIM, ok: 501 },
  // MDM webhooks
  { route: 'POST /v1/adapters/mdm/webhook', method: 'POST', path: '/v1/adapters/mdm/webhook', effect: 'writes', guard: MDM, body: () => JSON.stringify({ device: { id: 'mdm-dev-1', owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true } }) },
  { route: 'POST /v1/adapters/jamf/webhook (Basic)', method: 'POST', path: '/v1/adapters/jamf/webhook', effect: 'writes', guard: JAMF, body: () => jamfHookBody() },
  { route: 'POST /v1/adapters/jamf/webhook (bearer)', method: 'POST', path: '/v1/adapters/jamf/webhook', effect: 'writes', guard: JAMF_BEARER, body: () => jamfHookBody() },
  // SSF receiver push endpoint
  { route: 'POST /v1/adapters/ssf/events', method: 'POST', path: '/v1/adapters/ssf/events', effect: 'writes', guard: SSF_SET },
  // SSF transmitter stream management, at /ssf and under the issuer's path
  ...['', SSF_ISSUER_PATH].flatMap((p): Row[] => [
    { route: `POST ${p}/ssf/streams`, method: 'POST', path: `${p}/ssf/streams`, effect: 'writes', guard: SSF_MGMT, headers: json, body: streamBody },
    { route: `GET ${p}/ssf/streams`, method: 'GET', path: `${p}/ssf/streams`, effect: 'reveals', guard: SSF_MGMT },
    { route: `GET ${p}/ssf/streams?stream_id=`, method: 'GET', path: () => `${p}/ssf/streams?stream_id=${full.ids.stream}`, effect: 'reveals', guard: SSF_MGMT },
    { route: `PATCH ${p}/ssf/streams`, method: 'PATCH', path: `${p}/ssf/streams`, effect: 'writes', guard: SSF_MGMT, headers: json, body: () => JSON.stringify({ stream_id: full.ids.stream, delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${full.sink.url}/evil` } }) },
    { route: `PUT ${p}/ssf/streams`, method: 'PUT', path: `${p}/ssf/streams`, effect: 'writes', guard: SSF_MGMT, headers: json, body: () => JSON.stringify({ stream_id: full.ids.stream, delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${full.sink.url}/stream-a` } }) },
    { route: `GET ${p}/ssf/status`, method: 'GET', path: () => `${p}/ssf/status?stream_id=${full.ids.stream}`, effect: 'reveals', guard: SSF_MGMT },
    { route: `POST ${p}/ssf/status`, method: 'POST', path: `${p}/ssf/status`, effect: 'writes', guard: SSF_MGMT, headers: json, body: () => JSON.stringify({ stream_id: full.ids.stream, status: 'enabled' }) },
    { route: `POST ${p}/ssf/subjects/add`, method: 'POST', path: `${p}/ssf/subjects/add`, effect: 'writes', guard: SSF_MGMT, headers: json, body: () => JSON.stringify({ stream_id: full.ids.stream, subject: { format: 'email', email: 'alice@example.com' } }) },
    { route: `POST ${p}/ssf/subjects/remove`, method: 'POST', path: `${p}/ssf/subjects/remove`, effect: 'writes', guard: SSF_MGMT, headers: json, body: () => JSON.stringify({ stream_id: full.ids.stream, subject: { format: 'email', email: 'alice@example.com' } }) },
    { route: `POST ${p}/ssf/verify`, method: 'POST', path: `${p}/ssf/verify`, effect: 'writes', guard: SSF_MGMT, headers: json, body: () => JSON.stringify({ stream_id: full.ids.stream, state: 'abc' }) },
  ]),
  { route: 'DELETE /ssf/streams?stream_id=', method: 'DELETE', path: () => `/ssf/streams?stream_id=${full.ids.stream2}`, effect: 'writes', guard: SSF_MGMT },
  { route: `DELETE ${SSF_ISSUER_PATH}/ssf/streams?stream_id=`, method: 'DELETE', path: () => `${SSF_ISSUER_PATH}/ssf/streams?stream_id=${full.ids.stream3}`, effect: 'writes', guard: SSF_MGMT },
  // proxies and IdP hooks (direct routes)
  { route: 'ANY /v1/authz/envoy/* (JWT)', method: 'GET', path: '/v1/authz/envoy/payroll/reports?x=1', effect: 'reveals', guard: PROXY },
  { route: 'ANY /v1/authz/envoy/* (POST, trusted header)', method: 'POST', path: '/v1/authz/envoy/api', effect: 'reveals', guard: PROXY_HEADER },
  { route: 'GET /v1/authz/nginx (JWT)', method: 'GET', path: '/v1/authz/nginx?app=wiki', effect: 'reveals', guard: PROXY, headers: { 'x-original-method': 'GET', 'x-original-uri': '/wiki' } },
  { route: 'GET /v1/authz/nginx (trusted header)', method: 'GET', path: '/v1/authz/nginx?app=wiki', effect: 'reveals', guard: PROXY_HEADER, headers: { 'x-original-method': 'GET', 'x-original-uri': '/wiki' } },
  { route: 'GET /v1/authz/traefik (JWT)', method: 'GET', path: '/v1/authz/traefik?app=wiki', effect: 'reveals', guard: PROXY, headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/wiki' } },
  { route: 'POST /v1/hooks/okta/token', method: 'POST', path: '/v1/hooks/okta/token', effect: 'reveals', guard: OKTA, body: () => JSON.stringify(oktaBodyFor('00ualice', 'alice@example.com')) },
  { route: 'POST /v1/hooks/entra/token-issuance-start', method: 'POST', path: '/v1/hooks/entra/token-issuance-start', effect: 'reveals', guard: ENTRA, body: () => JSON.stringify(entraBodyFor('90847c2a-e29d-4d2f-9f54-c5b4d3f26471', 'alice@example.com')) },
];

/** Waits until the positive control's consequences (outbox deliveries, lifecycle rechecks) are over. */
async function settle(): Promise<void> {
  const db = full.t.server.ctx.store.db;
  const queued = () => (db.prepare('SELECT (SELECT count(*) FROM lifecycle_outbox) + (SELECT count(*) FROM ssf_outbox)').pluck().get() as number);
  let quiet = 0;
  await until(() => (queued() === 0 && !(full.t.server.ctx.lifecycle as { catchingUp?: boolean }).catchingUp ? ++quiet : (quiet = 0)) >= 3, 10_000, 'outboxes to drain');
}

describe.each(ROWS.map((r) => [r.route, r] as const))('%s', (_name, row) => {
  test(`refuses every wrong credential (${row.guard.name}) and changes nothing; the right one gets through`, async () => {
    const body = row.body ? await row.body() : undefined;
    const before = fingerprint(full);
    for (const [what, make] of row.guard.wrong) {
      const a = await make(row, body);
      const answer = await send(full.port, row.method, a.path ?? pathOf(row), { ...row.headers, ...a.headers }, a.body ?? body);
      try {
        row.guard.refused(answer);
      } catch (err) {
        throw new Error(`${row.route} with ${what}: ${answer.status} ${answer.text.slice(0, 300)}\n${(err as Error).message}`);
      }
      expect(fingerprint(full)).toBe(before);
    }
    // The same route with its right credential is not refused (so the refusals above came from its guard).
    const a = await row.guard.right(row, body);
    const ok = await send(full.port, row.method, a.path ?? pathOf(row), { ...row.headers, ...a.headers }, a.body ?? body);
    // A proxy's 403 is a deny decision (the check got past authentication); everywhere else 401/403 is the guard.
    const refused = row.guard === PROXY || row.guard === PROXY_HEADER ? [401] : [401, 403];
    if (row.ok !== undefined) expect(ok.status).toBe(row.ok);
    else if (refused.includes(ok.status) || ok.status >= 500) throw new Error(`${row.route} with the right credential: ${ok.status} ${ok.text.slice(0, 300)}`);
    if (row.guard === SSF_SET) expect(ok.status).toBe(202);
    await settle();
  });
});

test('a SET from a transmitter whose JWKS cannot be fetched is refused (503, retried by the sender) and changes nothing', async () => {
  const before = fingerprint(full);
  const set = await caepSet(full, { iss: 'https://caep-down.example.com/' });
  const a = await send(full.port, 'POST', '/v1/adapters/ssf/events', { ...setHeaders, ...bearer(S.ssfPushDown) }, set);
  expect(a.status).toBe(503);
  expect(JSON.parse(a.text).err).toBe('temporarily_unavailable');
  expect(fingerprint(full)).toBe(before);
});

test.each(['/v1/identities/alice', '/v1/identities', '/v1/adapters', '/v1/policies', '/v1/subscriptions', '/scim/v2/Users', '/ssf/streams'])(
  'HEAD %s without a credential is refused like GET (express answers HEAD with the GET route and its guard)',
  async (p) => {
    const a = await send(full.port, 'HEAD', p);
    expect(a.status).toBe(401);
    expect(a.text).toBe('');
  },
);

// ---- deliberately open

interface OpenRow {
  route: string;
  method: string;
  path: string;
  why: string;
  status: number;
}

const OPEN: OpenRow[] = [
  { route: 'GET /health', method: 'GET', path: '/health', why: 'liveness for orchestrators; {"status":"ok"} only', status: 200 },
  { route: 'GET /health/ready', method: 'GET', path: '/health/ready', why: 'readiness for orchestrators; component states, no records or secrets', status: 200 },
  { route: 'GET /metrics', method: 'GET', path: '/metrics', why: 'Prometheus scrape, as OPA serves it; aggregate counts, no records or secrets', status: 200 },
  { route: 'GET /.well-known/ssf-configuration', method: 'GET', path: '/.well-known/ssf-configuration', why: 'SSF 1.0 §7: transmitter metadata is public', status: 200 },
  { route: 'GET /.well-known/ssf-configuration/{issuer path}', method: 'GET', path: `/.well-known/ssf-configuration${SSF_ISSUER_PATH}`, why: 'SSF 1.0 §7 (issuer with a path)', status: 200 },
  { route: 'GET /ssf/jwks.json', method: 'GET', path: '/ssf/jwks.json', why: 'public verification keys of our SETs (receivers fetch them)', status: 200 },
  { route: 'GET {issuer path}/ssf/jwks.json', method: 'GET', path: `${SSF_ISSUER_PATH}/ssf/jwks.json`, why: 'the same under the issuer path', status: 200 },
  { route: 'HEAD /v1/data/{path}', method: 'HEAD', path: '/v1/data/tether/decision', why: 'answered 405 before any evaluation, as OPA does; reveals nothing', status: 405 },
  { route: 'HEAD /v1/data', method: 'HEAD', path: '/v1/data', why: 'the same for the root document', status: 405 },
  { route: 'OPTIONS /v1/data/{path}', method: 'OPTIONS', path: '/v1/data/tether/decision', why: 'the methods the path takes (Allow), as a 405 tells before any token check', status: 204 },
  { route: 'OPTIONS /v1/data', method: 'OPTIONS', path: '/v1/data', why: 'the same for the root document', status: 204 },
];

test.each(OPEN.map((r) => [r.route, r] as const))('open by design: %s', async (_name, row) => {
  const a = await send(full.port, row.method, row.path, {});
  expect(a.status).toBe(row.status);
  if (row.path.includes('jwks')) {
    // Public keys only: no private RSA/EC parameter ever leaves the data dir.
    for (const k of JSON.parse(a.text).keys as Array<Record<string, unknown>>) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k[p]).toBeUndefined();
  }
});

describe('decision routes without TETHER_DECISION_TOKEN (the sidecar default) are open', () => {
  let open: TempServer;
  beforeAll(async () => {
    open = await serveTemp({ prefix: 'tether-security-open-', env: { TETHER_WARMUP_REQUESTS: '0' } });
    open.server.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  });
  afterAll(() => open?.stop());

  test.each([
    ['POST /v1/decide', 'POST', '/v1/decide', decide],
    ['POST /v1/decide/batch', 'POST', '/v1/decide/batch', () => `{"requests":[${decide()}]}`],
    ['POST /v1/data/{path}', 'POST', '/v1/data/tether/decision', () => `{"input":${decide()}}`],
    ['GET /v1/data/{path}', 'GET', '/v1/data/tether/decision', undefined],
    ['POST /', 'POST', '/', decide],
    ['POST /v0/data/{path}', 'POST', '/v0/data/tether/decision', decide],
  ] as const)('%s answers without a credential (api.md: unset = open, for sidecar use)', async (_n, method, path, body) => {
    const a = await send(open.port, method, path, body ? json : {}, body?.());
    expect(a.status).toBe(200);
  });

  test('...while state routes still need the API token', async () => {
    expect((await send(open.port, 'GET', '/v1/identities/alice')).status).toBe(401);
  });
});

// ---- the table covers every route the server mounts

interface Mounted {
  method: string; // upper case, or ANY
  pattern: string;
  prefix?: boolean;
}

/** Every route of an express router, mount paths included. */
function walk(router: { stack: unknown[] }, base = ''): Mounted[] {
  const out: Mounted[] = [];
  for (const layer of router.stack as Array<{ route?: { path: string | string[]; methods: Record<string, boolean> }; handle: { stack?: unknown[] }; rawPath?: string }>) {
    if (layer.route) {
      for (const p of ([] as string[]).concat(layer.route.path))
        for (const m of Object.keys(layer.route.methods)) out.push({ method: m === '_all' ? 'ANY' : m.toUpperCase(), pattern: base + p });
    } else if (layer.handle.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      out.push(...walk(layer.handle as { stack: unknown[] }, base + mount));
    }
  }
  return out;
}

const toRegExp = (m: Mounted) =>
  new RegExp(
    '^' + m.pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+').replace(/\*[A-Za-z_]+/g, '.+') + (m.prefix ? '(/.*)?' : '') + '/?$',
    'i',
  );

test('the table lists every route the server mounts (express routers and direct routes)', () => {
  const ctx = full.t.server.ctx;
  // Built again from the live context: router construction only wires handlers (adaptersFor is memoized).
  const mounted: Mounted[] = [];
  for (const m of routeModules) {
    const built = m.name === 'callers' ? callersRoutes(ctx, parseCallersConfig({})) : m.create(ctx);
    const routes = typeof built === 'function' ? { router: built } : built;
    if (routes.router) mounted.push(...walk(routes.router as unknown as { stack: unknown[] }, m.mount ?? ''));
    for (const d of routes.direct ?? []) mounted.push({ method: d.method ?? 'ANY', pattern: d.path, prefix: d.prefix });
  }
  const tried = [
    ...ROWS.map((r) => ({ method: r.method, path: pathOf(r).split('?')[0] })),
    ...OPEN.map((r) => ({ method: r.method, path: r.path })),
    ...['GET', 'POST'].map((method) => ({ method, path: '/v1/data/tether/decision' })),
  ];
  const uncovered = mounted.filter((m) => {
    const re = toRegExp(m);
    return !tried.some((t) => (m.method === 'ANY' || m.method === t.method) && re.test(t.path));
  });
  expect(uncovered).toEqual([]);
  expect(mounted.length).toBeGreaterThan(60);
});
