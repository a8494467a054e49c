// "Nothing secret is logged", and nothing secret is answered back. One server with every feature
// configured (full-server.ts) runs at TETHER_LOG_LEVEL=debug with every log line captured (plus anything
// written to stdout/stderr and the decision log file). Every route family is driven with its real
// credentials and through its failure paths: wrong tokens, bad signatures, stale and replayed webhooks,
// forged and unknown-kid JWTs while the IdP's JWKS is down, a transmitter whose JWKS is down, MDM APIs
// refusing Tether's client secret or unreachable, a subscriber and an SSF receiver failing deliveries,
// SCIM passwords, malformed and oversized bodies. Then no secret, no JWT, no Authorization header value
// and no signature may appear in any log, in any error answer, nor in /metrics, /v1/adapters,
// /health/ready, GET /v1/subscriptions, /v1/policies, /v1/lifecycle.
import { generateKeyPair } from 'jose';
import fs from 'node:fs';
import path from 'node:path';
import { adaptersFor } from '../../src/adapters';
import { createLogger } from '../../src/api/context';
import { serveTemp } from '../helpers/serve-temp';
import { oktaBodyFor } from '../../src/callers/okta-example';
import { entraBodyFor } from '../callers/helpers/idp-payloads';
import {
  CAEP_DOWN_ISS, CAEP_AUD, MARKER, PROXY_AUD, S, SUBJECT_HEADER, basic, bearer, caepSet, entraJwt, jamfHookBody, json, mdmSigned, proxyJwt, scimJson,
  send, startFull, until, type Answer, type Full,
} from './full-server';

jest.setTimeout(60_000);

const USER_PASSWORD = `${MARKER}-scim-user-password-61f0`;
const STREAM_AUTH = `Bearer ${MARKER}-stream-delivery-auth-2c8d`;
const JWKS_PASSWORD = `${MARKER}-jwks-basic-password-93aa`;
const CREDENTIALED_ISS = 'https://caep-creds.example.com/';

interface Exchange {
  method: string;
  path: string;
  sent: Record<string, string>;
  answer: Answer;
}

let full: Full;
const exchanges: Exchange[] = [];
/** Every Authorization value, signature, JWT and SET the test sent (none may come back or be logged). */
const sentCredentials = new Set<string>();
const written: string[] = [];
let restoreWrites: () => void;

async function call(method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (name === 'authorization') {
      sentCredentials.add(v);
      const token = v.replace(/^(bearer|basic)\s+/i, '');
      if (token.length >= 12) sentCredentials.add(token);
    }
    if (name === 'x-tether-signature') sentCredentials.add(v.replace(/^sha256=/, ''));
  }
  if (body && /^eyJ/.test(body.trim())) sentCredentials.add(body.trim());
  const answer = await send(full.port, method, p, headers, body);
  exchanges.push({ method, path: p, sent: headers, answer });
  return answer;
}

/** Every way the test and the server could have let a secret out, as one text per place. */
function places(): Array<[string, string]> {
  return [
    ['server log', full.logs.join('')],
    ['stdout/stderr', written.join('')],
    ['decision log', fs.existsSync(full.decisionLogFile) ? fs.readFileSync(full.decisionLogFile, 'utf8') : ''],
  ];
}

function leaks(text: string): string[] {
  const found: string[] = [];
  if (text.includes(MARKER)) found.push(`"${MARKER}…" at …${text.slice(Math.max(0, text.indexOf(MARKER) - 80), text.indexOf(MARKER) + 60)}…`);
  for (const s of [...Object.values(S), ...sentCredentials]) if (s.length >= 12 && text.includes(s)) found.push(`sent credential ${s.slice(0, 16)}…`);
  const jwt = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/.exec(text);
  if (jwt) found.push(`a JWT ${jwt[0].slice(0, 24)}…`);
  for (const k of privateKeyParts) if (text.includes(k)) found.push('a private key parameter of the SSF signing key');
  return found;
}

let privateKeyParts: string[] = [];

beforeAll(async () => {
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => (written.push(String(chunk)), origOut(chunk as string, ...(rest as [])))) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => (written.push(String(chunk)), origErr(chunk as string, ...(rest as [])))) as typeof process.stderr.write;
  restoreWrites = () => {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  };
  full = await startFull({
    // A transmitter whose jwks_uri carries Basic credentials (some SSF transmitters protect their keys):
    // the fetch fails (fetch refuses credentials in URLs) and the error must not carry the password.
    extraTransmitters: (sink) => [{ issuer: CREDENTIALED_ISS, jwksUri: `${sink.url.replace('http://', `http://jwks-user:${JWKS_PASSWORD}@`)}/keys`, audience: CAEP_AUD }],
  });
  const ctx = full.t.server.ctx;
  const set = adaptersFor(ctx);
  await Promise.all([set.jamf!.pull(), set.intune!.poll(), set.ssfTransmitter.signingKey()]); // the key is generated in the background
  const jwk = JSON.parse(fs.readFileSync(path.join(full.t.dataDir, 'ssf', 'signing-key.jwk'), 'utf8')) as Record<string, string>;
  privateKeyParts = ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((k) => jwk[k]).filter(Boolean);
  const decide = JSON.stringify({ action: 'access', subject: 'alice@example.com', device: 'mac-alice', resource: { app: 'wiki' } });

  // -- API token: writes, reads, wrong tokens, bad bodies (also in the query string)
  await call('PUT', '/v1/identities/erin', { ...json, ...bearer(S.api) }, JSON.stringify({ status: 'active', aliases: ['erin@example.com'] }));
  await call('GET', '/v1/identities/erin', bearer(S.api));
  await call('GET', '/v1/identities/erin', bearer(`${MARKER}-wrong-api-token-1`));
  await call('GET', `/v1/identities/erin?access_token=${S.api}`);
  await call('PUT', '/v1/identities/erin', { ...json, ...bearer(S.api) }, `{"status": "active", "note": "${MARKER}-in-a-broken-body`);
  await call('PUT', '/v1/identities/erin', { ...json, ...bearer(S.api) }, JSON.stringify({ status: `${MARKER}-as-a-bad-enum-value` }));
  await call('PUT', '/v1/identities/erin', { 'content-type': 'text/plain', ...bearer(S.api) }, `${MARKER}-in-a-text-body`);

  // -- decision token
  await call('POST', '/v1/decide', { ...json, ...bearer(S.decision) }, decide);
  await call('POST', '/v1/decide', { ...json, ...bearer(`${MARKER}-wrong-decision-token`) }, decide);
  await call('POST', '/v1/data/tether/decision', { ...json, ...bearer(S.decision) }, `{"input": ${MARKER}}`);
  await call('POST', '/', { ...json, ...bearer(S.decision) }, decide);

  // -- subscriptions: secrets are write-only; a failing subscriber is logged by id, never with its secret
  full.sink.status['/hooks-failing'] = 500;
  await call('POST', '/v1/subscriptions', { ...json, ...bearer(S.api) }, JSON.stringify({ url: `${full.sink.url}/hooks-failing`, secret: S.subscriptionFailing, events: ['revocation', 'drift'] }));
  await call('POST', '/v1/subscriptions', { ...json, ...bearer(S.api) }, JSON.stringify({ url: `${full.sink.url}/hooks`, secret: `${MARKER}-short`, events: ['revocation'] }));
  await call('POST', '/v1/subscriptions', { ...json, ...bearer(S.api) }, JSON.stringify({ url: `https://hook-user:${MARKER}-url-password@example.com/hook`, secret: S.subscription, events: ['revocation'] }));

  // -- SCIM: a password is never stored, answered or logged
  const scimHeaders = { ...scimJson, ...bearer(S.scim) };
  const created = await call('POST', '/scim/v2/Users', scimHeaders, JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'frank@example.com', active: true, password: USER_PASSWORD }));
  const id = JSON.parse(created.text).id as string;
  await call('PATCH', `/scim/v2/Users/${id}`, scimHeaders, JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'password', value: USER_PASSWORD }, { op: 'add', value: { password: USER_PASSWORD } }] }));
  await call('PUT', `/scim/v2/Users/${id}`, scimHeaders, JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'frank@example.com', active: true, password: USER_PASSWORD }));
  await call('GET', `/scim/v2/Users/${id}`, scimHeaders);
  await call('GET', '/scim/v2/Users?filter=password%20pr', scimHeaders);
  await call('GET', '/scim/v2/Users', { ...scimJson, ...bearer(`${MARKER}-wrong-scim-token`) });
  await call('POST', '/scim/v2/Users', scimHeaders, `{"userName": ${MARKER}}`);

  // -- MDM webhook: valid, replayed, wrong secret, stale, unsigned
  const device = JSON.stringify({ device: { id: 'mdm-dev-9', owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true } });
  const signed = mdmSigned(device);
  await call('POST', '/v1/adapters/mdm/webhook', signed, device);
  await call('POST', '/v1/adapters/mdm/webhook', signed, device);
  await call('POST', '/v1/adapters/mdm/webhook', mdmSigned(device, `${MARKER}-wrong-mdm-key-00`), device);
  await call('POST', '/v1/adapters/mdm/webhook', mdmSigned(device, S.mdm, Math.floor(Date.now() / 1000) - 3600), device);
  await call('POST', '/v1/adapters/mdm/webhook', { ...json, 'x-tether-signature': `sha256=${MARKER}`, 'x-tether-timestamp': 'now' }, device);
  const badJson = `{"device": ${MARKER}`;
  await call('POST', '/v1/adapters/mdm/webhook', mdmSigned(badJson), badJson);

  // -- Jamf: webhook with Basic and bearer, wrong credentials; its API refusing the client secret is below
  await call('POST', '/v1/adapters/jamf/webhook', { ...json, ...basic(S.jamfHookUser, S.jamfHookPassword) }, jamfHookBody());
  await call('POST', '/v1/adapters/jamf/webhook', { ...json, ...bearer(S.jamfHookToken) }, jamfHookBody());
  await call('POST', '/v1/adapters/jamf/webhook', { ...json, ...basic(S.jamfHookUser, `${MARKER}-wrong-jamf-pw`) }, jamfHookBody());
  await call('POST', '/v1/adapters/jamf/webhook', { ...json, ...bearer(S.jamfHookToken) }, `{"webhook": ${MARKER}}`);
  await call('POST', '/v1/adapters/jamf/webhook', { ...json, ...bearer(S.jamfHookToken) }, jamfHookBody(404));

  // -- Intune: Graph refuses the client secret (invalid_client); the poll fails and is reported
  full.graph.badSecret = true;
  await set.intune!.poll().catch(() => undefined);

  // -- IdP hooks: right and wrong credentials; Entra's JWKS down while a token names an unknown kid
  await call('POST', '/v1/hooks/okta/token', { ...json, authorization: S.okta }, JSON.stringify(oktaBodyFor('00ualice', 'alice@example.com')));
  await call('POST', '/v1/hooks/okta/token', { ...json, authorization: `${MARKER}-wrong-okta-secret` }, JSON.stringify(oktaBodyFor('00ualice', 'alice@example.com')));
  await call('POST', '/v1/hooks/okta/token', { ...json, authorization: S.okta }, `{"eventType": ${MARKER}}`);
  const entraBody = JSON.stringify(entraBodyFor('90847c2a-e29d-4d2f-9f54-c5b4d3f26471', 'alice@example.com'));
  await call('POST', '/v1/hooks/entra/token-issuance-start', { ...json, ...bearer(await entraJwt(full)) }, entraBody);
  await call('POST', '/v1/hooks/entra/token-issuance-start', { ...json, ...bearer(await entraJwt(full, 'not-the-events-service')) }, entraBody);
  await call('POST', '/v1/hooks/entra/token-issuance-start', { ...json, ...bearer(await full.entraIdp.forge({ aud: 'api://tether-entra', azp: 'x' })) }, entraBody);
  full.entraIdp.jwksBehaviour.down = true;
  await call('POST', '/v1/hooks/entra/token-issuance-start', { ...json, ...bearer(await full.entraIdp.signWithKid({ aud: 'api://tether-entra', azp: '99045fe1-7639-4a75-9d4a-577b6ca3810f' }, 'rotated-kid')) }, entraBody);

  // -- proxies: JWT, trusted header, forged JWT, a token in the original URL, JWKS down with an unknown kid
  const nginx = { 'x-original-method': 'GET', 'x-original-uri': `/wiki?access_token=${MARKER}-token-in-the-url`, 'x-device-id': 'mac-alice' };
  await call('GET', '/v1/authz/nginx?app=wiki', { ...nginx, ...bearer(await proxyJwt(full)) });
  await call('GET', '/v1/authz/nginx?app=wiki', { ...nginx, [SUBJECT_HEADER]: 'alice@example.com' });
  await call('GET', `/v1/authz/envoy/wiki?access_token=${MARKER}-envoy-url-token`, { 'x-device-id': 'mac-alice', ...bearer(await proxyJwt(full)) });
  await call('GET', '/v1/authz/traefik?app=wiki', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': `/wiki?token=${MARKER}-traefik`, ...bearer(await full.proxyIdp.forge({ aud: PROXY_AUD, email: 'alice@example.com' })) });
  full.proxyIdp.jwksBehaviour.down = true;
  await call('GET', '/v1/authz/nginx?app=wiki', { ...nginx, ...bearer(await full.proxyIdp.signWithKid({ aud: PROXY_AUD, email: 'alice@example.com' }, 'rotated-kid')) });

  // -- SSF receiver: valid SET, wrong push token, unknown key, a transmitter whose JWKS is down, one with credentials in its jwks_uri
  const setHeaders = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
  await call('POST', '/v1/adapters/ssf/events', { ...setHeaders, ...bearer(S.ssfPush) }, await caepSet(full));
  await call('POST', '/v1/adapters/ssf/events', { ...setHeaders, ...bearer(`${MARKER}-wrong-push-token`) }, await caepSet(full));
  await call('POST', '/v1/adapters/ssf/events', { ...setHeaders, ...bearer(S.ssfPush) }, await caepSet(full, { key: (await generateKeyPair('RS256')).privateKey }));
  await call('POST', '/v1/adapters/ssf/events', { ...setHeaders, ...bearer(S.ssfPushDown) }, await caepSet(full, { iss: CAEP_DOWN_ISS }));
  await call('POST', '/v1/adapters/ssf/events', setHeaders, await caepSet(full, { iss: CREDENTIALED_ISS }));

  // -- SSF management: a stream whose delivery carries a credential, wrong tokens, verification
  const stream = await call('POST', '/ssf/streams', { ...json, ...bearer(S.ssfMgmt) }, JSON.stringify({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${full.sink.url}/ssf-failing`, authorization_header: STREAM_AUTH } }));
  const streamId = JSON.parse(stream.text).stream_id as string;
  await call('GET', '/ssf/streams', bearer(`${MARKER}-wrong-mgmt-token`));
  await call('POST', '/ssf/streams', { ...json, ...bearer(S.ssfMgmt) }, JSON.stringify({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${MARKER}-not-a-url` } }));

  // -- state changes that make both outboxes deliver; one subscriber and two SSF receivers fail
  full.sink.status['/ssf-receiver'] = 500;
  full.sink.status['/ssf-failing'] = 500;
  await call('POST', '/ssf/verify', { ...json, ...bearer(S.ssfMgmt) }, JSON.stringify({ stream_id: streamId, state: 'x' }));
  await call('PUT', '/v1/identities/alice', { ...json, ...bearer(S.api) }, JSON.stringify({ status: 'suspended', type: 'employee', risk_tier: 'standard', proofed: true, aliases: ['alice@example.com'] }));
  await until(() => full.logs.some((l) => l.includes('webhook delivery failed')), 10_000, 'a failed webhook delivery');
  await until(() => full.sink.received.some((r) => r.path === '/ssf-receiver'), 10_000, 'an SSF delivery attempt');
  await until(() => full.sink.received.some((r) => r.path === '/ssf-failing'), 10_000, 'an SSF delivery attempt on the new stream');
  for (const r of full.sink.received) {
    if (r.headers['x-tether-signature']) sentCredentials.add(String(r.headers['x-tether-signature']).replace(/^sha256=/, ''));
    if (/^eyJ/.test(r.body)) sentCredentials.add(r.body.trim()); // our own SETs
  }

  // -- policies, import
  await call('POST', '/v1/policies/reload', bearer(S.api));
  await call('POST', '/v1/state/import', { 'content-type': 'application/x-ndjson', ...bearer(S.api) }, // (a rejected line's message quotes a fragment of it back to the caller who sent it: no marker here)
    '{"kind":"identity","record":{"id":"gina","status":"active"}}\n{"kind": oops}\n');

  // -- Jamf unreachable: the webhook's re-read fails (502), and so does the next pull
  await full.jamf.close();
  await call('POST', '/v1/adapters/jamf/webhook', { ...json, ...bearer(S.jamfHookToken) }, jamfHookBody());
  await set.jamf!.pull().catch(() => undefined);
}, 60_000);

afterAll(async () => {
  restoreWrites?.();
  await full?.stop();
});

test('the drive went through the failure paths it means to', () => {
  const log = full.logs.join('');
  expect(log).toContain('webhook delivery failed');
  expect(log).toContain('JWKS fetch failed');
  const status = (p: string, m = 'POST') => exchanges.filter((e) => e.path.startsWith(p) && e.method === m).map((e) => e.answer.status);
  expect(status('/v1/adapters/mdm/webhook')).toEqual([200, 200, 401, 401, 401, 400]);
  expect(status('/v1/adapters/ssf/events')).toEqual([202, 400, 400, 503, 503]);
  expect(status('/v1/adapters/jamf/webhook')).toEqual([200, 200, 401, 400, 404, 502]);
  expect(status('/v1/subscriptions')).toEqual([201, 400, 400]);
  expect(status('/v1/hooks/entra/token-issuance-start')).toEqual([200, 403, 401, 200]);
  expect(full.graph.tokenRequests.some((f) => f.client_secret === S.intuneClient)).toBe(true);
});

test.each(['server log', 'stdout/stderr', 'decision log'])('no secret, JWT, Authorization value or signature in the %s', (where) => {
  const [, text] = places().find(([w]) => w === where)!;
  expect(leaks(text)).toEqual([]);
});

// The one exception: SSF stream management answers the stream configuration it stores, whose
// delivery.authorization_header is the credential the receiver chose for its own endpoint (SSF 1.0 §8.1.1;
// Okta's and SailPoint's transmitters answer it too), to holders of the management or API token only.
const isStreamConfig = (e: Exchange) => /^\/ssf\/streams/.test(e.path) && e.answer.status < 300;

test('no answer of the drive carries a secret back (errors included)', () => {
  const found = exchanges.filter((e) => !isStreamConfig(e)).flatMap((e) => leaks(JSON.stringify(e.answer.headers) + e.answer.text).map((l) => `${e.method} ${e.path} → ${e.answer.status}: ${l}`));
  expect(found).toEqual([]);
});

test.each([
  ['/metrics', {}],
  ['/health/ready', {}],
  ['/v1/adapters', bearer(S.api)],
  ['/v1/subscriptions', bearer(S.api)],
  ['/v1/policies', bearer(S.api)],
  ['/v1/lifecycle/alice', bearer(S.api)],
  ['/v1/lifecycle/drift', bearer(S.api)],
  ['/v1/identities/erin', bearer(S.api)],
  ['/ssf/jwks.json', {}],
  ['/.well-known/ssf-configuration', {}],
] as const)('GET %s reveals no secret', async (p, headers) => {
  const a = await send(full.port, 'GET', p, headers);
  // /health/ready is 503 here: the drive broke Jamf and Intune on purpose.
  expect(a.status === 200 || (p === '/health/ready' && a.status === 503)).toBe(true);
  expect(leaks(JSON.stringify(a.headers) + a.text)).toEqual([]);
});

test('each subscription is answered without its secret', async () => {
  const list = JSON.parse((await send(full.port, 'GET', '/v1/subscriptions', bearer(S.api))).text).subscriptions as Array<{ id: string }>;
  expect(list.length).toBeGreaterThanOrEqual(3);
  for (const s of list) {
    const one = await send(full.port, 'GET', `/v1/subscriptions/${s.id}`, bearer(S.api));
    expect(one.status).toBe(200);
    expect(JSON.parse(one.text).secret).toBeUndefined();
    expect(leaks(one.text)).toEqual([]);
  }
});

test('the SCIM password was dropped, not stored', () => {
  const db = full.t.server.ctx.store.db;
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  for (const t of tables) expect(JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all())).not.toContain(USER_PASSWORD);
});

test('a JWKS URI with credentials in the callers file: its failed fetches are logged without the password', async () => {
  const logs: string[] = [];
  const t = await serveTemp({
    prefix: 'tether-security-jwks-',
    logger: createLogger('debug', (l) => void logs.push(l)),
    env: { TETHER_WARMUP_REQUESTS: '0', TETHER_LOG_LEVEL: 'debug' },
    processEnv: (dir) => {
      const file = path.join(dir, 'callers.json');
      // Some IdPs put their keys behind Basic auth; fetch refuses such URLs, so every fetch fails and is logged.
      fs.writeFileSync(file, JSON.stringify({ okta: { auth: { type: 'jwt', issuer: 'https://idp.example.com', audience: 'tether', jwks_uri: `https://keys-user:${JWKS_PASSWORD}@127.0.0.1:1/keys` } } }));
      return { TETHER_CALLERS_CONFIG: file };
    },
  });
  try {
    await until(() => logs.some((l) => l.includes('JWKS fetch failed')), 5000, 'the start-up JWKS fetch to fail');
    const line = logs.find((l) => l.includes('JWKS fetch failed'))!;
    expect(line).toContain('127.0.0.1:1/keys'); // the URI is logged (which key set), its password is not
    expect(logs.join('')).not.toContain(MARKER);
  } finally {
    await t.stop();
  }
});
