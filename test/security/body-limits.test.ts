// "Request bodies are size-limited", route by route on one server with every feature configured
// (full-server.ts; TETHER_BODY_LIMIT=64kb, TETHER_IMPORT_LIMIT=128kb). Every route that reads a body gets
// a body that would be accepted but for its size (a valid request padded with JSON whitespace to one byte
// over the route's limit), with the right credential, both with a Content-Length and chunked: it must get
// 413 (or its protocol's documented answer) and the database must be unchanged. The same body padded to
// exactly the limit is accepted, so each limit is where the table says. Proxy checks never read bodies.
import { oktaBodyFor } from '../../src/callers/okta-example';
import { adaptersFor } from '../../src/adapters';
import { entraBodyFor } from '../callers/helpers/idp-payloads';
import {
  BG_BODY, S, bearer, caepSet, entraJwt, exceptionBody, fingerprint, jamfHookBody, json, mdmSigned, proxyJwt, scimJson, send, startFull, until,
  type Answer, type Full,
} from './full-server';

jest.setTimeout(60_000);

let full: Full;
beforeAll(async () => {
  full = await startFull();
  const set = adaptersFor(full.t.server.ctx);
  await Promise.all([set.jamf!.pull(), set.intune!.poll()]);
  await settle();
});
afterAll(() => full?.stop());

async function settle(): Promise<void> {
  const db = full.t.server.ctx.store.db;
  const queued = () => db.prepare('SELECT (SELECT count(*) FROM lifecycle_outbox) + (SELECT count(*) FROM ssf_outbox)').pluck().get() as number;
  let quiet = 0;
  await until(() => (queued() === 0 && !(full.t.server.ctx.lifecycle as { catchingUp?: boolean }).catchingUp ? ++quiet : (quiet = 0)) >= 3, 10_000, 'outboxes to drain');
}

const KB = 1024;
const BODY_LIMIT = 64 * KB; // TETHER_BODY_LIMIT
const IMPORT_LIMIT = 128 * KB; // TETHER_IMPORT_LIMIT
const HOOK_LIMIT = 256 * KB; // src/callers/hook-http.ts
const ADAPTER_LIMIT = 256 * KB; // Jamf webhook, SSF push (jamf.ts, receiver.ts)

interface Row {
  route: string;
  method: string;
  path: string | (() => string);
  /** The route's limit in bytes. */
  limit: number;
  /** Where the limit comes from (the limits table of the report). */
  source: string;
  /** A request that is accepted (its body is padded with trailing whitespace). */
  valid: () => string | Promise<string>;
  /** Credentials and content type for a body (the MDM signature covers the body). */
  headers: (body: string) => Record<string, string>;
  /** How the route refuses a body over its limit. */
  refused(a: Answer): void;
  /** The status of the same request padded to exactly the limit. */
  ok: number;
  /** The padded valid body must not be answered like this either (e.g. Okta's 200 deny for an unreadable body). */
  okCheck?: (a: Answer) => void;
}

const tooLarge = (a: Answer) => {
  expect(a.status).toBe(413);
  expect(JSON.parse(a.text)).toMatchObject({ code: 'payload_too_large' });
};
const api = () => ({ ...json, ...bearer(S.api) });
const decision = () => ({ ...json, ...bearer(S.decision) });
const decide = () => JSON.stringify({ action: 'access', subject: 'alice@example.com', device: 'mac-alice', resource: { app: 'wiki' } });
let seq = 0;
const uniq = () => `${Date.now().toString(36)}-${++seq}`;

const ROWS: Row[] = [
  { route: 'PUT /v1/identities/{id}', method: 'PUT', path: () => `/v1/identities/big-${uniq()}`, limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => '{"status":"active"}', headers: api, refused: tooLarge, ok: 201 },
  { route: 'PUT /v1/devices/{id}', method: 'PUT', path: () => `/v1/devices/big-${uniq()}`, limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => '{"owner":"alice","ownership":"corporate"}', headers: api, refused: tooLarge, ok: 201 },
  { route: 'PUT /v1/apps/{id}', method: 'PUT', path: () => `/v1/apps/big-${uniq()}`, limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => '{"sensitivity":"low"}', headers: api, refused: tooLarge, ok: 201 },
  { route: 'POST /v1/exceptions', method: 'POST', path: '/v1/exceptions', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => JSON.stringify(exceptionBody()), headers: api, refused: tooLarge, ok: 201 },
  { route: 'POST /v1/break-glass/{identity}', method: 'POST', path: '/v1/break-glass/bg-admin', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => JSON.stringify(BG_BODY), headers: api, refused: tooLarge, ok: 201 },
  { route: 'POST /v1/subscriptions', method: 'POST', path: '/v1/subscriptions', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => JSON.stringify({ url: `${full.sink.url}/big`, secret: S.subscription, events: ['revocation'] }), headers: api, refused: tooLarge, ok: 201 },
  { route: 'POST /v1/policies/reload', method: 'POST', path: '/v1/policies/reload', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => '{}', headers: api, refused: tooLarge, ok: 200 },
  { route: 'DELETE /v1/apps/{id} (with a body)', method: 'DELETE', path: () => { const id = `del-${uniq()}`; full.t.server.ctx.store.putApp(id, { sensitivity: 'low' }); return `/v1/apps/${id}`; }, limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => '{}', headers: api, refused: tooLarge, ok: 204 },
  { route: 'POST /v1/decide', method: 'POST', path: '/v1/decide', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: decide, headers: decision, refused: tooLarge, ok: 200 },
  { route: 'POST /v1/decide/batch', method: 'POST', path: '/v1/decide/batch', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => `{"requests":[${decide()}]}`, headers: decision, refused: tooLarge, ok: 200 },
  { route: 'POST /v1/data/{path}', method: 'POST', path: '/v1/data/tether/decision', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => `{"input":${decide()}}`, headers: decision, refused: tooLarge, ok: 200 },
  { route: 'POST /', method: 'POST', path: '/', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: decide, headers: decision, refused: tooLarge, ok: 200 },
  { route: 'POST /v0/data/{path}', method: 'POST', path: '/v0/data/tether/decision', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: decide, headers: decision, refused: tooLarge, ok: 200 },
  { route: 'POST /ssf/streams', method: 'POST', path: '/ssf/streams', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => JSON.stringify({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${full.sink.url}/big` } }), headers: () => ({ ...json, ...bearer(S.ssfMgmt) }), refused: tooLarge, ok: 201 },
  { route: 'POST /ssf/verify', method: 'POST', path: '/ssf/verify', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT', valid: () => JSON.stringify({ stream_id: full.ids.stream }), headers: () => ({ ...json, ...bearer(S.ssfMgmt) }), refused: tooLarge, ok: 204 },
  {
    route: 'POST /v1/state/import', method: 'POST', path: '/v1/state/import', limit: IMPORT_LIMIT, source: 'TETHER_IMPORT_LIMIT',
    // One record line; the padding stays inside the line, so a chunked upload cut at the limit holds no complete line.
    valid: () => JSON.stringify({ kind: 'identity', record: { id: `imp-${uniq()}`, status: 'active' } }),
    headers: () => ({ 'content-type': 'application/x-ndjson', ...bearer(S.api) }), refused: tooLarge, ok: 200,
  },
  {
    route: 'POST /scim/v2/Users', method: 'POST', path: '/scim/v2/Users', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT',
    valid: () => JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `big-${uniq()}@example.com`, active: true }),
    headers: () => ({ ...scimJson, ...bearer(S.scim) }),
    refused: (a) => {
      expect(a.status).toBe(413);
      expect(JSON.parse(a.text)).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '413' });
    },
    ok: 201,
  },
  {
    route: 'POST /v1/adapters/mdm/webhook', method: 'POST', path: '/v1/adapters/mdm/webhook', limit: BODY_LIMIT, source: 'TETHER_BODY_LIMIT',
    valid: () => JSON.stringify({ device: { id: `mdm-big-${uniq()}`, owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true } }),
    headers: (body) => mdmSigned(body), refused: tooLarge, ok: 200,
  },
  { route: 'POST /v1/adapters/jamf/webhook', method: 'POST', path: '/v1/adapters/jamf/webhook', limit: ADAPTER_LIMIT, source: '256 KB (jamf.ts)', valid: () => jamfHookBody(), headers: () => ({ ...json, ...bearer(S.jamfHookToken) }), refused: tooLarge, ok: 200 },
  {
    route: 'POST /v1/adapters/ssf/events', method: 'POST', path: '/v1/adapters/ssf/events', limit: ADAPTER_LIMIT, source: '256 KB (receiver.ts)',
    valid: () => caepSet(full),
    headers: () => ({ 'content-type': 'application/secevent+jwt', ...bearer(S.ssfPush) }),
    // RFC 8935: every refusal is a 400 with an `err` code.
    refused: (a) => {
      expect(a.status).toBe(400);
      expect(JSON.parse(a.text)).toEqual({ err: 'invalid_request', description: 'SET too large' });
    },
    ok: 202,
  },
  {
    route: 'POST /v1/hooks/okta/token', method: 'POST', path: '/v1/hooks/okta/token', limit: HOOK_LIMIT, source: '256 KiB (hook-http.ts)',
    valid: () => JSON.stringify(oktaBodyFor('00ualice', 'alice@example.com')),
    headers: () => ({ ...json, authorization: S.okta }),
    // Okta fails OPEN on anything but a 200: an unreadable body is a 200 deny in Okta's shape (callers README).
    refused: (a) => {
      expect(a.status).toBe(200);
      expect(JSON.parse(a.text).error.errorCauses[0].reason).toBe('invalid_hook_request');
    },
    ok: 200,
    okCheck: (a) => expect(JSON.parse(a.text).commands).toBeDefined(),
  },
  {
    route: 'POST /v1/hooks/entra/token-issuance-start', method: 'POST', path: '/v1/hooks/entra/token-issuance-start', limit: HOOK_LIMIT, source: '256 KiB (hook-http.ts)',
    valid: () => JSON.stringify(entraBodyFor('90847c2a-e29d-4d2f-9f54-c5b4d3f26471', 'alice@example.com')),
    headers: () => ({ ...json, authorization: `Bearer ${entraToken}` }),
    refused: tooLarge, ok: 200,
  },
];

let entraToken = '';
beforeAll(async () => {
  entraToken = await entraJwt(full);
});

/** `valid` padded with JSON whitespace (inside the line for NDJSON) to exactly `size` bytes. */
function padded(row: Row, valid: string, size: number): string {
  const pad = ' '.repeat(size - Buffer.byteLength(valid));
  if (row.path === '/v1/state/import') return valid.slice(0, -1) + pad + '}';
  return valid + pad;
}

describe.each(ROWS.map((r) => [r.route, r] as const))('%s', (_name, row) => {
  test.each([['with Content-Length', false], ['chunked', true]] as const)(`one byte over ${row.limit} bytes (${row.source}), %s: refused, nothing stored`, async (_mode, chunked) => {
    const body = padded(row, await row.valid(), row.limit + 1);
    const path = typeof row.path === 'function' ? row.path() : row.path;
    await settle();
    const before = fingerprint(full);
    const a = await send(full.port, row.method, path, row.headers(body), body, chunked);
    row.refused(a);
    expect(fingerprint(full)).toBe(before);
  });

  test(`exactly ${row.limit} bytes is accepted`, async () => {
    const body = padded(row, await row.valid(), row.limit);
    const path = typeof row.path === 'function' ? row.path() : row.path;
    const a = await send(full.port, row.method, path, row.headers(body), body);
    if (a.status !== row.ok) throw new Error(`${row.route}: ${a.status} ${a.text.slice(0, 300)}`);
    row.okCheck?.(a);
    await settle();
  });
});

test.each([
  ['envoy', 'POST', '/v1/authz/envoy/upload', {}],
  ['nginx', 'GET', '/v1/authz/nginx?app=wiki', { 'x-original-method': 'POST', 'x-original-uri': '/upload' }],
  ['traefik', 'POST', '/v1/authz/traefik?app=wiki', { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/upload' }],
] as const)('proxy check (%s) never reads a forwarded body: a 1 MB body is decided as usual', async (_n, method, path, extra) => {
  const a = await send(full.port, method, path, { ...extra, ...bearer(await proxyJwt(full)), 'x-device-id': 'mac-alice', 'content-type': 'application/octet-stream' }, Buffer.alloc(1024 * KB, 'x'));
  if (a.status !== 200) throw new Error(`${a.status} ${String(a.headers['x-tether-reasons'])} ${a.text}`);
});

test('a bulk import streamed past TETHER_IMPORT_LIMIT keeps the complete lines before it and says so (README "Bulk import")', async () => {
  const id = `imp-stream-${uniq()}`;
  const line = JSON.stringify({ kind: 'identity', record: { id, status: 'active' } }) + '\n';
  const body = line + padded(ROWS.find((r) => r.path === '/v1/state/import')!, JSON.stringify({ kind: 'identity', record: { id: `${id}-2`, status: 'active' } }), IMPORT_LIMIT);
  const a = await send(full.port, 'POST', '/v1/state/import', { 'content-type': 'application/x-ndjson', ...bearer(S.api) }, body, true);
  expect(a.status).toBe(413);
  expect(JSON.parse(a.text)).toMatchObject({ code: 'payload_too_large', imported: 1 });
  expect(full.t.server.ctx.store.getIdentity(id)).toBeDefined();
  expect(full.t.server.ctx.store.getIdentity(`${id}-2`)).toBeUndefined();
});
