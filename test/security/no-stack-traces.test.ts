// "No stack traces in responses", per route family, on one server with every feature configured
// (full-server.ts). Two tables: bad inputs a client can send (malformed, mistyped, mis-encoded, oversized
// fields, bad percent-encoding, deep nesting, prototype keys...) must get a 4xx (or the protocol's answer),
// never a 5xx; and faults injected into each family's dependencies (a store read or write, the decider,
// the policy engine, the transmitter, the metrics registry throwing an Error whose message and stack name
// src/ files) must give the family's 5xx (or its protocol's fail-closed answer) with a generic body. No
// answer may carry a stack frame ("    at "), a source path or the fault's message. Where the app's
// error handler answers, the details must be in the server log instead (README "Error codes").
import zlib from 'node:zlib';
import { adaptersFor } from '../../src/adapters';
import type { Decider } from '../../src/engine/decider';
import type { PolicyService } from '../../src/engine/policy-service';
import type { LifecycleService } from '../../src/lifecycle/service';
import { oktaBodyFor } from '../../src/callers/okta-example';
import { entraBodyFor } from '../callers/helpers/idp-payloads';
import { S, bearer, caepSet, entraJwt, jamfHookBody, json, mdmSigned, proxyJwt, scimJson, send, startFull, type Answer, type Full } from './full-server';

jest.setTimeout(60_000);

let full: Full;
let entraToken = '';
let proxyToken = '';
beforeAll(async () => {
  full = await startFull();
  const set = adaptersFor(full.t.server.ctx);
  await Promise.all([set.jamf!.pull(), set.intune!.poll()]);
  entraToken = await entraJwt(full);
  proxyToken = await proxyJwt(full);
});
afterAll(() => full?.stop());
afterEach(() => jest.restoreAllMocks());

const FAULT = 'boom-injected-fault';
/** An unexpected error whose message and stack name source files, as a real bug's would. */
function fault(): Error {
  const e = new Error(`${FAULT} in /work/main/src/state/sqlite-store.ts`);
  e.stack = `Error: ${FAULT}\n    at SqliteStore.getIdentity (/work/main/src/state/sqlite-store.ts:321:11)\n    at Layer.handle (/work/main/node_modules/router/lib/layer.js:160:15)`;
  return e;
}
const throwFault = () => {
  throw fault();
};
const rejectFault = () => Promise.reject(fault());

/** Nothing of a stack, a source path or the fault's text, in the body or a header. */
function expectNoInternals(a: Answer, what: string): void {
  const text = JSON.stringify(a.headers) + '\n' + a.text;
  for (const bad of [/ {4}at /, /\bat [\w$.<>]+ \(/, /\.[tj]s:\d+/, /\/src\//, /node_modules/, new RegExp(FAULT), /\/work\/main/, /SqliteError|TypeError|RangeError|SyntaxError/]) {
    if (bad.test(text)) throw new Error(`${what}: ${a.status} answer matches ${bad}: ${a.text.slice(0, 400)}`);
  }
}

const api = { ...json, ...bearer(S.api) };
const dec = { ...json, ...bearer(S.decision) };
const scim = { ...scimJson, ...bearer(S.scim) };
const decide = JSON.stringify({ action: 'access', subject: 'alice@example.com', device: 'mac-alice', resource: { app: 'wiki' } });
const setHeaders = { 'content-type': 'application/secevent+jwt', ...bearer(S.ssfPush) };
const nginx = { 'x-original-method': 'GET', 'x-original-uri': '/wiki', 'x-device-id': 'mac-alice' };

interface BadInput {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string> | (() => Record<string, string>);
  body?: string | Buffer | (() => Promise<string> | string);
  /** The documented answer when it is not a 4xx (Okta's 200 deny, a proxy's 403, ...). */
  status?: number;
}

const deep = (n: number) => '{"status":"active","attributes":' + '{"a":'.repeat(n) + '1' + '}'.repeat(n) + '}';

const BAD: BadInput[] = [
  // state (API token)
  { name: 'malformed JSON', method: 'PUT', path: '/v1/identities/x', headers: api, body: '{"status":' },
  { name: 'a JSON null body', method: 'PUT', path: '/v1/identities/x', headers: api, body: 'null' },
  { name: 'a text/plain body', method: 'PUT', path: '/v1/identities/x', headers: { ...bearer(S.api), 'content-type': 'text/plain' }, body: 'hello' },
  { name: 'a corrupt gzip body', method: 'PUT', path: '/v1/identities/x', headers: { ...api, 'content-encoding': 'gzip' }, body: Buffer.from('not gzip at all') },
  { name: 'an unknown content-encoding', method: 'PUT', path: '/v1/identities/x', headers: { ...api, 'content-encoding': 'compress' }, body: '{}' },
  { name: 'a latin1 JSON body', method: 'PUT', path: '/v1/identities/x', headers: { ...bearer(S.api), 'content-type': 'application/json; charset=latin1' }, body: '{}' },
  { name: 'invalid UTF-8 in JSON', method: 'PUT', path: '/v1/identities/x', headers: api, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
  { name: 'bad percent-encoding in the path', method: 'GET', path: '/v1/identities/%E0%A4%A', headers: api },
  { name: 'a 300-character id', method: 'PUT', path: `/v1/identities/${'x'.repeat(300)}`, headers: api, body: '{"status":"active"}' },
  { name: 'a NUL in the id', method: 'PUT', path: '/v1/identities/a%00b', headers: api, body: '{"status":"active"}' },
  { name: 'a __proto__ key', method: 'PUT', path: '/v1/identities/x', headers: api, body: '{"__proto__":{"status":"active"},"constructor":{"prototype":{"admin":true}}}' },
  { name: 'an impossible date', method: 'PUT', path: '/v1/devices/x', headers: api, body: '{"owner":"alice","ownership":"corporate","observed_at":"2026-13-45T99:99:99Z"}' },
  { name: 'a number too large for a double', method: 'POST', path: '/v1/break-glass/bg-admin', headers: api, body: '{"minutes":1e400,"reason":"r","approved_by":"a"}' },
  { name: 'a non-numeric list limit', method: 'GET', path: '/v1/identities?limit=abc&after=' + 'z'.repeat(300), headers: api },
  { name: 'repeated query parameters', method: 'GET', path: '/v1/devices?owner=a&owner=b', headers: api },
  { name: 'an exception with wrong types everywhere', method: 'POST', path: '/v1/exceptions', headers: api, body: '{"identity":1,"waives":"x","scope":[],"reason":null,"approved_by":{},"expires_at":true}' },
  { name: 'an import with a gzip encoding', method: 'POST', path: '/v1/state/import', headers: { ...bearer(S.api), 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }, body: zlib.gzipSync('{}\n') },
  { name: 'an import of garbage lines', method: 'POST', path: '/v1/state/import', headers: { ...bearer(S.api), 'content-type': 'application/x-ndjson' }, body: Buffer.concat([Buffer.from('{"kind":"x"}\n[\n\u0000\n'), Buffer.from([0xff, 0x0a])]), status: 200 },
  { name: 'a subscription with a javascript: URL', method: 'POST', path: '/v1/subscriptions', headers: api, body: '{"url":"javascript:alert(1)","secret":"0123456789abcdef","events":["revocation"]}' },
  { name: 'an unknown method on a state route', method: 'PATCH', path: '/v1/identities/alice', headers: api, body: '{}' },
  { name: 'bad percent-encoding on lifecycle', method: 'GET', path: '/v1/lifecycle/%E0%A4', headers: api },
  // decisions
  { name: 'malformed JSON', method: 'POST', path: '/v1/decide', headers: dec, body: '{"action":' },
  { name: 'an array body', method: 'POST', path: '/v1/decide', headers: dec, body: '[]' },
  // Too deep for the policy's JSON: a deny with policy_error (fail closed), not an error answer.
  { name: 'deeply nested context (5,000 levels)', method: 'POST', path: '/v1/decide', headers: dec, body: '{"action":"access","subject":"a","resource":{"app":"wiki"},"context":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '}', status: 200 },
  { name: 'a batch that is not a list', method: 'POST', path: '/v1/decide/batch', headers: dec, body: '{"requests":"x"}' },
  { name: 'a batch of 101', method: 'POST', path: '/v1/decide/batch', headers: dec, body: `{"requests":[${Array(101).fill(decide).join(',')}]}` },
  { name: 'invalid YAML on the Data API', method: 'POST', path: '/v1/data/tether/decision', headers: { ...bearer(S.decision), 'content-type': 'application/yaml' }, body: 'a: [b\n  - : :' },
  { name: 'bad JSON in ?input=', method: 'GET', path: '/v1/data/tether/decision?input=%7Bbad', headers: dec },
  { name: 'bad percent-encoding in a data path', method: 'GET', path: '/v1/data/%ZZ/x', headers: dec },
  { name: 'an array input for a tether rule', method: 'POST', path: '/v1/data/tether/device', headers: dec, body: '{"input":[1,2,3]}', status: 200 },
  { name: 'a deep data path', method: 'GET', path: '/v1/data/' + 'a/'.repeat(200) + 'b', headers: dec, status: 200 },
  { name: 'bad percent-encoding on v0', method: 'POST', path: '/v0/data/%E0%A4', headers: dec, body: '{}' },
  { name: 'a non-JSON default decision', method: 'POST', path: '/', headers: dec, body: 'not json' },
  { name: 'a corrupt gzip default decision', method: 'POST', path: '/', headers: { ...dec, 'content-encoding': 'gzip' }, body: Buffer.from('xx') },
  // SCIM
  { name: 'a bad filter', method: 'GET', path: '/scim/v2/Users?filter=userName%20eq', headers: scim },
  { name: 'a filter on an unknown operator', method: 'GET', path: '/scim/v2/Users?filter=userName%20zz%20%22a%22', headers: scim },
  { name: 'a non-integer startIndex', method: 'GET', path: '/scim/v2/Users?startIndex=abc', headers: scim },
  { name: 'malformed JSON', method: 'POST', path: '/scim/v2/Users', headers: scim, body: '{"userName":' },
  { name: 'a user without userName', method: 'POST', path: '/scim/v2/Users', headers: scim, body: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"active":"yes"}' },
  { name: 'a PATCH with an unparsable path', method: 'PATCH', path: '/scim/v2/Users/nobody', headers: scim, body: '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq","value":1}]}' },
  { name: 'a PATCH with a bad op', method: 'POST', path: '/scim/v2/Users', headers: scim, body: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"p@example.com","emails":"not-a-list"}' },
  { name: 'a group with unknown members', method: 'POST', path: '/scim/v2/Groups', headers: scim, body: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"nobody"},{"value":{"x":1}}]}' },
  { name: 'an If-Match that does not match', method: 'DELETE', path: '/scim/v2/Users/nobody', headers: { ...scim, 'if-match': 'W/"x"' } },
  // MDM webhooks
  { name: 'signed malformed JSON', method: 'POST', path: '/v1/adapters/mdm/webhook', headers: () => mdmSigned('{"device":'), body: '{"device":' },
  { name: 'a signed device with wrong types', method: 'POST', path: '/v1/adapters/mdm/webhook', headers: () => mdmSigned('{"device":{"id":"d","owner":1,"enrolled":"yes","observed_at":"soon"}}'), body: '{"device":{"id":"d","owner":1,"enrolled":"yes","observed_at":"soon"}}' },
  { name: 'a signed delete of an unknown device', method: 'POST', path: '/v1/adapters/mdm/webhook', headers: () => mdmSigned('{"event":"deleted","device":{"id":"ghost"}}'), body: '{"event":"deleted","device":{"id":"ghost"}}' },
  { name: 'a non-numeric timestamp', method: 'POST', path: '/v1/adapters/mdm/webhook', headers: { ...json, 'x-tether-timestamp': '1e99', 'x-tether-signature': 'sha256=' + 'a'.repeat(64) }, body: '{}' },
  { name: 'Jamf: malformed JSON', method: 'POST', path: '/v1/adapters/jamf/webhook', headers: { ...json, ...bearer(S.jamfHookToken) }, body: '{"webhook":' },
  { name: 'Jamf: an event without ids', method: 'POST', path: '/v1/adapters/jamf/webhook', headers: { ...json, ...bearer(S.jamfHookToken) }, body: '{"webhook":{"webhookEvent":"ComputerCheckIn"},"event":{}}' },
  { name: 'Jamf: a computer Jamf does not know', method: 'POST', path: '/v1/adapters/jamf/webhook', headers: { ...json, ...bearer(S.jamfHookToken) }, body: jamfHookBody(999) },
  // SSF receiver and management
  { name: 'a garbage SET', method: 'POST', path: '/v1/adapters/ssf/events', headers: setHeaders, body: 'a.b.c' },
  { name: 'a SET with a huge header', method: 'POST', path: '/v1/adapters/ssf/events', headers: setHeaders, body: Buffer.from('{"alg":"' + 'x'.repeat(100_000) + '"}').toString('base64url') + '.e30.' },
  { name: 'a SET as JSON', method: 'POST', path: '/v1/adapters/ssf/events', headers: { ...setHeaders, 'content-type': 'application/json' }, body: '{}' },
  { name: 'a SET about an unknown subject', method: 'POST', path: '/v1/adapters/ssf/events', headers: setHeaders, body: () => caepSet(full, { email: 'ghost@example.com' }) },
  { name: 'a stream without delivery', method: 'POST', path: '/ssf/streams', headers: { ...json, ...bearer(S.ssfMgmt) }, body: '{"events_requested":5}' },
  { name: 'a stream body that is a list', method: 'PATCH', path: '/ssf/streams', headers: { ...json, ...bearer(S.ssfMgmt) }, body: '[1]' },
  { name: 'the status of an unknown stream', method: 'GET', path: '/ssf/status?stream_id=nope', headers: bearer(S.ssfMgmt) },
  { name: 'a stream_id given twice', method: 'GET', path: '/ssf/streams?stream_id=a&stream_id=b', headers: bearer(S.ssfMgmt) },
  // IdP hooks and proxies
  { name: 'Okta: malformed JSON (a 200 deny: Okta fails open on errors)', method: 'POST', path: '/v1/hooks/okta/token', headers: { ...json, authorization: S.okta }, body: '{"data":', status: 200 },
  { name: 'Okta: a body of another event', method: 'POST', path: '/v1/hooks/okta/token', headers: { ...json, authorization: S.okta }, body: '{"eventType":"x","data":[]}', status: 200 },
  { name: 'Entra: malformed JSON', method: 'POST', path: '/v1/hooks/entra/token-issuance-start', headers: () => ({ ...json, ...bearer(entraToken) }), body: '{"type":' },
  { name: 'Entra: a body of another event', method: 'POST', path: '/v1/hooks/entra/token-issuance-start', headers: () => ({ ...json, ...bearer(entraToken) }), body: '{"type":"x"}' },
  { name: 'Envoy: a path with bad percent-encoding', method: 'GET', path: '/v1/authz/envoy/%E0%A4%A?x=%ZZ', headers: () => bearer(proxyToken), status: 403 },
  { name: 'nginx: a malformed X-Original-URL', method: 'GET', path: '/v1/authz/nginx?app=wiki', headers: () => ({ ...nginx, 'x-original-url': 'http://[::1', ...bearer(proxyToken) }), status: 200 },
  { name: 'nginx: a method that is not a token', method: 'GET', path: '/v1/authz/nginx?app=wiki', headers: () => ({ ...nginx, 'x-original-method': 'G E T', ...bearer(proxyToken) }), status: 403 },
  { name: 'Traefik: a malformed JWT', method: 'GET', path: '/v1/authz/traefik?app=wiki', headers: { authorization: 'Bearer eyJ.eyJ.x' }, status: 401 },
  // anything else
  { name: 'an unknown route', method: 'GET', path: '/v1/nope', headers: api },
  { name: 'an unknown method', method: 'PROPFIND', path: '/v1/identities', headers: api },
];

test.each(BAD.map((r) => [`${r.method} ${r.path.slice(0, 60)}: ${r.name}`, r] as const))('bad input %s: no 5xx, no internals', async (what, row) => {
  const headers = typeof row.headers === 'function' ? row.headers() : row.headers ?? {};
  const body = typeof row.body === 'function' ? await row.body() : row.body;
  const a = await send(full.port, row.method, row.path, headers, body);
  if (row.status !== undefined) expect(a.status).toBe(row.status);
  else if (a.status < 400 || a.status >= 500) throw new Error(`${what}: ${a.status} ${a.text.slice(0, 300)}`);
  expectNoInternals(a, what);
});

// A client-triggerable 500 (reported; the fix belongs in src/state): attributes nested 5,000 deep parse,
// validate, and then overflow the stack in JSON.stringify when the store serialises the record
// (src/state/sqlite-store.ts putIdentity). The answer is still a generic 500 without internals (next test).
test('deeply nested attributes (5,000 levels) on PUT /v1/identities: 400 naming /attributes', async () => {
  const a = await send(full.port, 'PUT', '/v1/identities/deep', api, deep(5000));
  expect(a.status).toBe(400);
  expect(JSON.parse(a.text).errors).toEqual([{ path: '/attributes', message: 'must not nest deeper than 32 levels' }]);
});

test('deeply nested attributes (5,000 levels): whatever the status, no internals in the answer', async () => {
  const a = await send(full.port, 'PUT', '/v1/identities/deep', api, deep(5000));
  expectNoInternals(a, 'deep attributes');
  expect(full.t.server.ctx.store.getIdentity('deep')).toBeUndefined();
});

// ---- faults

interface Fault {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string> | (() => Record<string, string>);
  body?: string | (() => Promise<string> | string);
  inject(): void;
  /** The answer: 500 unless the protocol says otherwise. */
  status?: number;
  /** The app's error handler answered: the fault must be in the server log. */
  logged?: boolean;
}

const ctx = () => full.t.server.ctx;
const store = () => ctx().store;
const decider = () => ctx().decider as Decider;
const policies = () => ctx().engine as unknown as PolicyService;
const tx = () => adaptersFor(ctx()).ssfTransmitter;

const FAULTS: Fault[] = [
  { name: 'a store read fails', method: 'GET', path: '/v1/identities/alice', headers: api, inject: () => jest.spyOn(store(), 'getIdentity').mockImplementation(throwFault), logged: true },
  { name: 'a store write fails', method: 'PUT', path: '/v1/identities/x', headers: api, body: '{"status":"active"}', inject: () => jest.spyOn(store(), 'putIdentity').mockImplementation(throwFault), logged: true },
  { name: 'an exception write fails', method: 'POST', path: '/v1/exceptions', headers: api, body: '{}', inject: () => jest.spyOn(store(), 'createException').mockImplementation(throwFault), logged: true },
  { name: 'a list fails', method: 'GET', path: '/v1/devices', headers: api, inject: () => jest.spyOn(store(), 'listDevices').mockImplementation(throwFault), logged: true },
  { name: 'an import batch fails', method: 'POST', path: '/v1/state/import', headers: { ...bearer(S.api), 'content-type': 'application/x-ndjson' }, body: '{"kind":"identity","record":{"id":"i1","status":"active"}}\n', inject: () => jest.spyOn(store(), 'importBatch').mockImplementation(throwFault), logged: true },
  { name: 'the decider fails', method: 'POST', path: '/v1/decide', headers: dec, body: decide, inject: () => jest.spyOn(decider(), 'decide').mockImplementation(throwFault), logged: true },
  { name: 'the batch decider fails', method: 'POST', path: '/v1/decide/batch', headers: dec, body: `{"requests":[${decide}]}`, inject: () => jest.spyOn(decider(), 'decideBatch').mockImplementation(throwFault), logged: true },
  { name: 'the policy engine fails (a wasm trap)', method: 'GET', path: '/v1/data/tether/device', headers: dec, inject: () => jest.spyOn(policies().current()!, 'evaluate').mockImplementation(throwFault), logged: true },
  { name: 'the policy engine fails on a decision (denied, fail closed)', method: 'POST', path: '/v1/decide', headers: dec, body: decide, inject: () => jest.spyOn(policies().current()!, 'evaluate').mockImplementation(throwFault), status: 200 },
  { name: 'the Data API fails', method: 'POST', path: '/', headers: dec, body: decide, inject: () => jest.spyOn(decider(), 'evaluatePath').mockImplementation(throwFault), logged: true },
  { name: 'the v0 Data API fails', method: 'POST', path: '/v0/data/tether/decision', headers: dec, body: decide, inject: () => jest.spyOn(decider(), 'evaluatePath').mockImplementation(throwFault), logged: true },
  { name: 'nginx check: the decider fails (403 decision_unavailable, never 5xx)', method: 'GET', path: '/v1/authz/nginx?app=wiki', headers: () => ({ ...nginx, ...bearer(proxyToken) }), inject: () => jest.spyOn(decider(), 'decide').mockImplementation(throwFault), status: 403 },
  { name: 'Envoy check: the decider fails', method: 'GET', path: '/v1/authz/envoy/wiki', headers: () => ({ 'x-device-id': 'mac-alice', ...bearer(proxyToken) }), inject: () => jest.spyOn(decider(), 'decide').mockImplementation(throwFault), status: 403 },
  { name: 'Okta hook: the decider fails (a 200 deny)', method: 'POST', path: '/v1/hooks/okta/token', headers: { ...json, authorization: S.okta }, body: JSON.stringify(oktaBodyFor('00ualice', 'alice@example.com')), inject: () => jest.spyOn(decider(), 'decide').mockImplementation(throwFault), status: 200 },
  { name: 'Entra hook: the decider fails (deny claims)', method: 'POST', path: '/v1/hooks/entra/token-issuance-start', headers: () => ({ ...json, ...bearer(entraToken) }), body: JSON.stringify(entraBodyFor('90847c2a-e29d-4d2f-9f54-c5b4d3f26471', 'alice@example.com')), inject: () => jest.spyOn(decider(), 'decide').mockImplementation(throwFault), status: 200 },
  { name: 'SCIM: a write fails', method: 'POST', path: '/scim/v2/Users', headers: scim, body: '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"z@example.com"}', inject: () => jest.spyOn(store(), 'transaction').mockImplementation(throwFault), logged: true },
  { name: 'MDM webhook: a write fails', method: 'POST', path: '/v1/adapters/mdm/webhook', headers: () => mdmSigned('{"device":{"id":"f1","owner":"alice","ownership":"corporate"}}'), body: '{"device":{"id":"f1","owner":"alice","ownership":"corporate"}}', inject: () => jest.spyOn(store(), 'transaction').mockImplementation(throwFault), logged: true },
  { name: 'Jamf webhook: a write fails', method: 'POST', path: '/v1/adapters/jamf/webhook', headers: { ...json, ...bearer(S.jamfHookToken) }, body: jamfHookBody(), inject: () => jest.spyOn(store(), 'getDevice').mockImplementation(throwFault), logged: true },
  { name: 'SSF receiver: applying a SET fails', method: 'POST', path: '/v1/adapters/ssf/events', headers: setHeaders, body: () => caepSet(full), inject: () => jest.spyOn(store(), 'transaction').mockImplementation(throwFault), logged: true },
  { name: 'SSF management: the stream table fails', method: 'GET', path: '/ssf/streams', headers: bearer(S.ssfMgmt), inject: () => jest.spyOn(tx().streams, 'list').mockImplementation(throwFault), logged: true },
  { name: 'SSF JWKS: the signing key cannot be read', method: 'GET', path: '/ssf/jwks.json', inject: () => jest.spyOn(tx(), 'signingKey').mockImplementation(rejectFault), logged: true },
  { name: 'SSF metadata fails', method: 'GET', path: '/.well-known/ssf-configuration', inject: () => jest.spyOn(tx(), 'metadata').mockImplementation(throwFault), logged: true },
  { name: 'lifecycle drift fails', method: 'GET', path: '/v1/lifecycle/drift', headers: api, inject: () => jest.spyOn((ctx().lifecycle as LifecycleService).tracker, 'drift').mockImplementation(throwFault), logged: true },
  { name: 'subscriptions fail', method: 'GET', path: '/v1/subscriptions', headers: api, inject: () => jest.spyOn(store(), 'listSubscriptions').mockImplementation(throwFault), logged: true },
  { name: 'the policy service fails', method: 'GET', path: '/v1/policies', headers: api, inject: () => jest.spyOn(policies(), 'modules').mockImplementation(throwFault), logged: true },
  { name: 'a policy reload throws', method: 'POST', path: '/v1/policies/reload', headers: api, inject: () => jest.spyOn(policies(), 'reload').mockImplementation(rejectFault), logged: true },
  { name: 'the adapter registry fails', method: 'GET', path: '/v1/adapters', headers: api, inject: () => jest.spyOn(adaptersFor(ctx()).registry, 'list').mockImplementation(throwFault), logged: true },
  { name: 'the metrics registry fails', method: 'GET', path: '/metrics', inject: () => jest.spyOn(ctx().metrics, 'text').mockImplementation(rejectFault), logged: true },
];

test.each(FAULTS.map((f) => [`${f.method} ${f.path}: ${f.name}`, f] as const))('fault %s: a generic answer, details only in the log', async (what, f) => {
  const headers = typeof f.headers === 'function' ? f.headers() : f.headers ?? {};
  const body = typeof f.body === 'function' ? await f.body() : f.body;
  const logsBefore = full.logs.length;
  f.inject();
  let a: Answer;
  try {
    a = await send(full.port, f.method, f.path, headers, body);
  } finally {
    jest.restoreAllMocks();
  }
  if (a.status !== (f.status ?? 500)) throw new Error(`${what}: ${a.status} ${a.text.slice(0, 300)}`);
  expectNoInternals(a, what);
  if (f.logged) expect(full.logs.slice(logsBefore).join('')).toContain(FAULT);
});
