// POST /v1/decide and /v1/decide/batch: validation (400 naming the field), batch limits and order,
// the optional decision token; the OPA Data API envelope ({"result", "decision_id"} or {}).
import request from 'supertest';
import { ago, API_TOKEN, DAY, DECISION_TOKEN, HOUR, put, testApp, type TestApp } from '../policies/http-app';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

let t: TestApp;
afterEach(() => t.close());

async function seed(app: TestApp['app']) {
  await put(app, '/v1/identities/alice', { status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: ago(30 * DAY) });
  await put(app, '/v1/devices/mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: ago(HOUR) });
}
const ok = { action: 'access', subject: 'alice@example.com', device: 'mac-1', resource: { app: 'email' }, context: { ip: '203.0.113.7' } };

describe('POST /v1/decide', () => {
  beforeEach(async () => {
    t = await testApp();
    await seed(t.app);
  });

  test('answers 200 with the api.md fields', async () => {
    const res = await request(t.app).post('/v1/decide').send(ok).expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['allow', 'decision_id', 'exception', 'lifecycle', 'limited', 'obligations', 'policy_revision', 'reasons']);
    expect(res.body.allow).toBe(true);
  });

  test.each([
    [{ ...ok, action: 'fly' }, '/action'],
    [{ ...ok, subject: '' }, '/subject'],
    [{ action: 'access', resource: { app: 'email' } }, ''],
    [{ ...ok, device: 7 }, '/device'],
    [{ ...ok, resource: {} }, '/resource'],
    [{ action: 'access', subject: 'alice' }, ''],
  ])('400 invalid_input naming the field: %j', async (body, pathPrefix) => {
    const res = await request(t.app).post('/v1/decide').send(body).expect(400);
    expect(res.body.code).toBe('invalid_input');
    expect(res.body.errors.length).toBeGreaterThan(0);
    expect(res.body.errors.some((e: { path: string }) => e.path.startsWith(pathPrefix))).toBe(true);
  });

  test('not JSON → 415; malformed JSON → 400', async () => {
    await request(t.app).post('/v1/decide').set('content-type', 'text/plain').send('hi').expect(415);
    const res = await request(t.app).post('/v1/decide').set('content-type', 'application/json').send('{"action":').expect(400);
    expect(res.body.code).toBe('invalid_input');
  });

  test('activate needs no app', async () => {
    const res = await request(t.app).post('/v1/decide').send({ action: 'activate', subject: 'alice' }).expect(200);
    expect(res.body.reasons).toEqual(['identity_not_provisioned']);
  });
});

describe('POST /v1/decide/batch', () => {
  beforeEach(async () => {
    t = await testApp();
    await seed(t.app);
  });

  test('answers in order', async () => {
    const requests = [ok, { ...ok, subject: 'nobody' }, { ...ok, device: 'ghost' }, { ...ok, resource: { app: 'nope' } }];
    const res = await request(t.app).post('/v1/decide/batch').send({ requests }).expect(200);
    expect(res.body.results.map((r: { reasons: string[] }) => r.reasons)).toEqual([[], ['identity_unknown'], ['device_unknown'], ['app_unknown']]);
    expect(new Set(res.body.results.map((r: { decision_id: string }) => r.decision_id)).size).toBe(4);
  });

  test('up to 100 requests; 101 is 400 naming /requests', async () => {
    const res100 = await request(t.app).post('/v1/decide/batch').send({ requests: Array(100).fill(ok) }).expect(200);
    expect(res100.body.results).toHaveLength(100);
    const res = await request(t.app).post('/v1/decide/batch').send({ requests: Array(101).fill(ok) }).expect(400);
    expect(res.body.errors[0].path).toBe('/requests');
  });

  test('a bad item rejects the batch, naming it', async () => {
    const res = await request(t.app).post('/v1/decide/batch').send({ requests: [ok, { ...ok, action: 'nope' }] }).expect(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('/requests/1/action');
  });
});

describe('decision token', () => {
  beforeEach(async () => {
    t = await testApp({ decisionToken: true });
    await seed(t.app);
  });

  test('401 without it, 200 with the decision or API token', async () => {
    const res = await request(t.app).post('/v1/decide').send(ok).expect(401);
    expect(res.body.code).toBe('unauthorized');
    await request(t.app).post('/v1/decide').set('authorization', `Bearer ${DECISION_TOKEN}`).send(ok).expect(200);
    await request(t.app).post('/v1/decide').set('authorization', `Bearer ${API_TOKEN}`).send(ok).expect(200);
    await request(t.app).post('/v1/data/tether/decision').send({ input: ok }).expect(401);
  });
});

describe('OPA Data API', () => {
  beforeEach(async () => {
    t = await testApp();
    await seed(t.app);
  });

  test('POST /v1/data/tether/decision → {result, decision_id}', async () => {
    const res = await request(t.app).post('/v1/data/tether/decision').send({ input: ok }).expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['decision_id', 'result']);
    expect(res.body.result).toMatchObject({ allow: true, reasons: [], lifecycle: 'healthy', policy_revision: expect.any(String) });
    const direct = await request(t.app).post('/v1/decide').send(ok).expect(200);
    expect(Object.keys(res.body.result).sort()).toEqual(Object.keys(direct.body).filter((k) => k !== 'decision_id').sort());
  });

  test('the body is read as OPA reads it: JSON whatever the content type, YAML when the type says so', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'application/octet-stream']) {
      const res = await request(t.app).post('/v1/data/tether/decision').set('Content-Type', type).send(JSON.stringify({ input: ok })).expect(200);
      expect(res.body.result).toMatchObject({ allow: true, lifecycle: 'healthy' });
    }
    const yaml = `input:\n  action: access\n  subject: ${ok.subject}\n  device: ${ok.device}\n  resource:\n    app: ${ok.resource.app}\n`;
    const y = await request(t.app).post('/v1/data/tether/decision').set('Content-Type', 'application/yaml').send(yaml).expect(200);
    expect(y.body.result).toMatchObject({ allow: true, lifecycle: 'healthy' });
    const bad = await request(t.app).post('/v1/data/tether/decision').set('Content-Type', 'text/plain').send('{nope').expect(400);
    expect(bad.body).toMatchObject({ code: 'invalid_input', errors: [{ path: '', message: 'is not valid JSON' }] });
  });

  test("a body without an input key gets OPA's api_usage_warning", async () => {
    const res = await request(t.app).post('/v1/data/config/hard_gate_tiers').send({ inpt: {} }).expect(200);
    expect(res.body).toEqual({ result: ['high', 'privileged'], decision_id: expect.any(String), warning: { code: 'api_usage_warning', message: "'input' key missing from the request" } });
    const withInput = await request(t.app).post('/v1/data/config/hard_gate_tiers').send({ input: {} }).expect(200);
    expect(withInput.body.warning).toBeUndefined();
  });

  test('an integer path segment indexes an array; pretty and metrics as in OPA; HEAD is 405', async () => {
    expect((await request(t.app).get('/v1/data/config/hard_gate_tiers/1').expect(200)).body.result).toBe('privileged');
    expect((await request(t.app).get('/v1/data/config/hard_gate_tiers/7').expect(200)).body).toEqual({});
    const pretty = await request(t.app).get('/v1/data/config/hard_gate_tiers?pretty=true').expect(200);
    expect(pretty.text).toContain('\n  "result": [\n    "high",');
    const m = await request(t.app).get('/v1/data/config/hard_gate_tiers?metrics=true').expect(200);
    expect(m.body.metrics).toEqual({ timer_rego_query_eval_ns: expect.any(Number), timer_server_handler_ns: expect.any(Number) });
    const head = await request(t.app).head('/v1/data/config');
    expect(head.status).toBe(405);
  });

  test('an undefined document answers exactly {}', async () => {
    const res = await request(t.app).post('/v1/data/no/such/rule').send({ input: {} }).expect(200);
    expect(res.body).toEqual({});
    const get = await request(t.app).get('/v1/data/tether/decision/nope').expect(200);
    expect(get.body).toEqual({});
  });

  test('GET reads rules and policy data; ?input= is accepted', async () => {
    const res = await request(t.app).get('/v1/data/config/max_age_ns').expect(200);
    expect(res.body.result).toEqual({ high: 86400000000000, moderate: 259200000000000, low: 604800000000000 });
    const q = encodeURIComponent(JSON.stringify(ok));
    const st = await request(t.app).get(`/v1/data/tether/lifecycle/state?input=${q}`).expect(200);
    expect(st.body.result).toBe('healthy');
    await request(t.app).get('/v1/data/tether/decision?input=%7Bnot-json').expect(400);
  });

  test('apps written through PUT /v1/apps appear in data.apps', async () => {
    await put(t.app, '/v1/apps/crm', { sensitivity: 'high' });
    const res = await request(t.app).get('/v1/data/apps/crm').expect(200);
    expect(res.body.result).toEqual({ sensitivity: 'high' });
  });

  test('GET /v1/apps lists the catalog decisions use: the shipped defaults and stored apps over them', async () => {
    await put(t.app, '/v1/apps/crm', { sensitivity: 'high' });
    await put(t.app, '/v1/apps/wiki', { sensitivity: 'moderate' });
    const res = await request(t.app).get('/v1/apps').set('Authorization', `Bearer ${API_TOKEN}`).expect(200);
    const byId = Object.fromEntries(res.body.apps.map((a: { id: string }) => [a.id, a]));
    expect(Object.keys(byId)).toEqual(['admin-console', 'ci', 'crm', 'email', 'payroll', 'wiki']);
    expect(byId.payroll).toEqual({ id: 'payroll', sensitivity: 'high', source: 'policy' });
    expect(byId.wiki).toMatchObject({ id: 'wiki', sensitivity: 'moderate', source: 'store', version: 1 });
    expect(byId.crm).toMatchObject({ sensitivity: 'high', source: 'store' });
  });

  test('tether rules never trust client-supplied state', async () => {
    const input = { action: 'access', subject: { id: 'eve', status: 'active' }, device: { id: 'x', compliant: true }, app: 'email' };
    const res = await request(t.app).post('/v1/data/tether/decision').send({ input }).expect(200);
    expect(res.body.result).toMatchObject({ allow: false, reasons: ['identity_unknown'] });
    const allow = await request(t.app).post('/v1/data/tether/allow').send({ input }).expect(200);
    expect(allow.body.result).toBe(false);
  });

  test('a missing body is an undefined input; a non-object body is 400', async () => {
    const res = await request(t.app).post('/v1/data/tether/decision').expect(200);
    expect(res.body.result.reasons).toEqual(expect.arrayContaining(['identity_unknown', 'action_unknown']));
    await request(t.app).post('/v1/data/tether/decision').set('content-type', 'application/json').send('[1]').expect(400);
  });
});
