// protocols.md §1 (OPA REST API): the wire details and Gotchas no other test proved, against the real
// service (serve(): store, shipped policies, every router) with requests shaped as OPA clients send them
// (the Data API, the v0 webhook variant, the default decision `POST /`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createLogger } from '../../src/api/context';
import { rawRequest, type RawResponse } from '../callers/helpers/http';
import { seedPeople } from '../callers/helpers/tether';
import { serveTemp, type TempServer } from '../helpers/serve-temp';

// Starting the service compiles the shipped policies: slow on a loaded 2-core machine.
jest.setTimeout(120_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DECISION_TOKEN = 'decision-token-4b1e9c0a7f';
const bearer = { authorization: `Bearer ${DECISION_TOKEN}` };
const alice = { action: 'access', subject: 'alice@example.com', device: 'mac-alice', resource: { app: 'payroll' } };
const MISSING_INPUT = { code: 'api_usage_warning', message: "'input' key missing from the request" };

let t: TempServer;

beforeAll(async () => {
  // As OPA runs with --authentication=token: every decision route needs the bearer token.
  t = await serveTemp({ prefix: 'tether-opa-', env: { TETHER_DECISION_TOKEN: DECISION_TOKEN } });
  seedPeople(t);
});

afterAll(async () => {
  await t?.stop();
});

const post = (p: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  rawRequest(t.port, { method: 'POST', path: p, headers: { host: `127.0.0.1:${t.port}`, ...bearer, ...headers }, body });
const get = (p: string, headers: Record<string, string> = {}) =>
  rawRequest(t.port, { method: 'GET', path: p, headers: { host: `127.0.0.1:${t.port}`, ...bearer, ...headers } });
const json = { 'content-type': 'application/json' };
const isJson = (r: RawResponse) => expect(r.headers['content-type']).toMatch(/^application\/json/);

describe('§1.2 Data API', () => {
  test('a gzip-compressed body (Content-Encoding: gzip) is inflated and evaluated', async () => {
    const r = await post('/v1/data/tether/decision', zlib.gzipSync(JSON.stringify({ input: alice })), { ...json, 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ result: { allow: true, reasons: [] }, decision_id: expect.stringMatching(UUID) });
  });

  test('GET /v1/data (no path) answers the whole data document', async () => {
    const r = await get('/v1/data');
    expect(r.status).toBe(200);
    isJson(r);
    const { result } = r.json();
    expect(result.config.hard_gate_tiers).toEqual(['high', 'privileged']);
    expect(result.apps.payroll).toEqual({ sensitivity: 'high' });
    expect(result.tether).toEqual(expect.objectContaining({ decision: expect.any(Object) }));
  });

  test('?instrument=true adds metrics, as ?metrics=true does', async () => {
    const r = await post('/v1/data/tether/decision?instrument=true', JSON.stringify({ input: alice }), json);
    expect(r.json().metrics).toEqual({ timer_rego_query_eval_ns: expect.any(Number), timer_server_handler_ns: expect.any(Number) });
    const p = await post('/v1/data/tether/decision?metrics=true', JSON.stringify({ input: alice }), json);
    expect(p.json().metrics).toEqual({ timer_rego_query_eval_ns: expect.any(Number), timer_server_handler_ns: expect.any(Number) });
  });

  test('answers are application/json, a defined document and an undefined one ({}) alike', async () => {
    const defined = await get('/v1/data/config/hard_gate_tiers');
    isJson(defined);
    const undef = await post('/v1/data/no/such/rule', JSON.stringify({ input: {} }), json);
    expect(undef.status).toBe(200);
    isJson(undef);
    expect(undef.text).toBe('{}');
  });

  test('gotcha 1: an unwrapped input gets 200 and the warning, and the decision it makes denies', async () => {
    // The client forgot {"input": ...}: OPA (and Tether) evaluate with no input. A client that only
    // looks for `result === false` or `allow` must still see a deny, never an allow.
    const d = await post('/v1/data/tether/decision', JSON.stringify(alice), json);
    expect(d.status).toBe(200);
    expect(d.json()).toMatchObject({ warning: MISSING_INPUT, result: { allow: false } });
    const a = await post('/v1/data/tether/allow', JSON.stringify(alice), json);
    expect(a.json()).toMatchObject({ warning: MISSING_INPUT, result: false });
  });

  test('decision routes take OPA --authentication=token style bearer tokens: without one, 401 in the error envelope', async () => {
    const r = await rawRequest(t.port, { method: 'POST', path: '/v1/data/tether/decision', headers: json, body: JSON.stringify({ input: alice }) });
    expect(r.status).toBe(401);
    expect(r.json()).toEqual({ code: 'unauthorized', message: expect.any(String) });
  });
});

describe('§1.3 the webhook variant (/v0/data) and the default decision (POST /)', () => {
  test('POST / reads the bare input as OPA does: JSON whatever the content type (curl -d sends form-urlencoded)', async () => {
    for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
      const r = await post('/', JSON.stringify(alice), { 'content-type': type });
      expect([type, r.status]).toEqual([type, 200]);
      isJson(r);
      expect(r.json()).toMatchObject({ allow: true, reasons: [], lifecycle: 'healthy' });
    }
  });

  test('POST / reads YAML when the content type says so, and gzip bodies', async () => {
    const yaml = 'action: access\nsubject: alice@example.com\ndevice: mac-alice\nresource:\n  app: payroll\n';
    const y = await post('/', yaml, { 'content-type': 'application/yaml' });
    expect(y.status).toBe(200);
    expect(y.json()).toMatchObject({ allow: true });
    const z = await post('/', zlib.gzipSync(JSON.stringify(alice)), { ...json, 'content-encoding': 'gzip' });
    expect(z.status).toBe(200);
    expect(z.json()).toMatchObject({ allow: true });
    const bad = await post('/', '{"action": ', json);
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'invalid_input', errors: [{ path: '', message: 'is not valid JSON' }] });
  });

  test('POST /v0/data/{path}: the body is the input itself, the answer the bare value', async () => {
    const d = await post('/v0/data/tether/decision', JSON.stringify(alice), json);
    expect(d.status).toBe(200);
    isJson(d);
    expect(d.json()).toMatchObject({ allow: true, reasons: [], lifecycle: 'healthy' });
    expect(d.json().decision_id).toBeUndefined(); // bare: no envelope
    const a = await post('/v0/data/tether/allow', JSON.stringify({ ...alice, device: 'pc-bob' }), json);
    expect(a.status).toBe(200);
    expect(a.text).toBe('false');
    const tiers = await post('/v0/data/config/hard_gate_tiers/1', '', json);
    expect(tiers.json()).toBe('privileged');
  });

  test('gotcha 2: undefined is 404 undefined_document on /v0/data, 200 {} on /v1/data', async () => {
    const v0 = await post('/v0/data/no/such/rule', JSON.stringify({}), json);
    expect(v0.status).toBe(404);
    expect(v0.json()).toEqual({ code: 'undefined_document', message: 'document missing: data.no.such.rule' });
    const v1 = await post('/v1/data/no/such/rule', JSON.stringify({ input: {} }), json);
    expect(v1.status).toBe(200);
    expect(v1.json()).toEqual({});
  });

  test('the v0 endpoints are decision routes: 401 without the decision token', async () => {
    for (const p of ['/', '/v0/data/tether/decision']) {
      const r = await rawRequest(t.port, { method: 'POST', path: p, headers: json, body: JSON.stringify(alice) });
      expect([p, r.status, r.json().code]).toEqual([p, 401, 'unauthorized']);
    }
  });
});

describe('§1.2 status codes: an evaluation error is a 500 in the error envelope', () => {
  let c: TempServer;
  beforeAll(async () => {
    // The shipped policies plus a rule whose two definitions conflict for one input.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-opa-policies-'));
    fs.cpSync(path.join(__dirname, '../../policies'), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'conflict.rego'), 'package gotcha\n\nx := 1 if input.a\n\nx := 2 if input.b\n');
    // Silent: the 500's details go to the server log, which would only clutter the test output.
    c = await serveTemp({ prefix: 'tether-opa-conflict-', env: { TETHER_POLICY_DIR: dir }, logger: createLogger('silent') });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await c?.stop();
  });

  test('conflicting rule outputs: 500 with {code, message}, no stack; the same rule without the conflict answers', async () => {
    const r = await rawRequest(c.port, { method: 'POST', path: '/v1/data/gotcha/x', headers: json, body: JSON.stringify({ input: { a: true, b: true } }) });
    expect(r.status).toBe(500);
    isJson(r);
    expect(r.json()).toEqual({ code: 'internal_error', message: expect.any(String) });
    expect(r.text).not.toMatch(/\bat .*\.ts:\d+/);
    const ok = await rawRequest(c.port, { method: 'POST', path: '/v1/data/gotcha/x', headers: json, body: JSON.stringify({ input: { a: true } }) });
    expect(ok.json()).toMatchObject({ result: 1 });
  });
});
