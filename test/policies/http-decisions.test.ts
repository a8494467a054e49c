// Every rule and reason code of decision-model §2 proven over HTTP: state written through the
// state API, decisions asked through POST /v1/decide (and the Data API for what /v1/decide rejects).
import request from 'supertest';
import { ago, DAY, HOUR, post, put, testApp, type TestApp } from './http-app';
import { shippedEngine } from './shipped-policies';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
  await put(t.app, '/v1/identities/alice', { status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: ago(30 * DAY) });
  await put(t.app, '/v1/devices/mac-1', healthyDevice());
});
afterEach(() => t.close());

function healthyDevice(fields: Record<string, unknown> = {}) {
  return { owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: ago(HOUR), ...fields };
}

async function decide(body: Record<string, unknown>) {
  const res = await request(t.app).post('/v1/decide').send({ action: 'access', subject: 'alice', device: 'mac-1', resource: { app: 'email' }, ...body });
  expect(res.status).toBe(200);
  return res.body as { allow: boolean; reasons: string[]; limited: boolean; obligations: string[]; lifecycle: string; exception: { id: string } | null; decision_id: string; policy_revision: string };
}

async function setDevice(fields: Record<string, unknown>) {
  // A newer observation of the same device (the store orders by observed_at).
  await put(t.app, '/v1/devices/mac-1', healthyDevice({ observed_at: ago(HOUR - 60_000), ...fields }));
}

test('healthy access is allowed with the full answer shape', async () => {
  const r = await decide({});
  expect(r).toMatchObject({ allow: true, reasons: [], limited: false, obligations: [], lifecycle: 'healthy', exception: null, policy_revision: 'test-revision' });
  expect(typeof r.decision_id).toBe('string');
});

test.each(['token', 'entitle'])('%s is decided like access', async (action) => {
  expect((await decide({ action })).allow).toBe(true);
  await setDevice({ compliant: false });
  expect((await decide({ action })).reasons).toEqual(['device_not_compliant']);
});

test('identity_unknown', async () => {
  const r = await decide({ subject: 'mallory' });
  expect(r).toMatchObject({ allow: false, reasons: ['identity_unknown'], lifecycle: 'unknown' });
});

test('identity_not_active (suspended), and no exception lifts it', async () => {
  await post(t.app, '/v1/exceptions', { identity: 'alice', waives: ['device_not_compliant'], scope: { apps: ['email'] }, reason: 'x', approved_by: 'boss', expires_at: new Date(Date.now() + DAY).toISOString() });
  await put(t.app, '/v1/identities/alice', { status: 'suspended', aliases: ['alice@example.com'] });
  expect(await decide({})).toMatchObject({ allow: false, reasons: ['identity_not_active'], exception: null });
});

test('app_unknown', async () => {
  expect(await decide({ resource: { app: 'nope' } })).toMatchObject({ allow: false, reasons: ['app_unknown'] });
});

test('action_unknown (only reachable through the Data API: /v1/decide rejects it with 400)', async () => {
  const bad = await request(t.app).post('/v1/decide').send({ action: 'delete', subject: 'alice' });
  expect(bad.status).toBe(400);
  expect(bad.body.errors[0].path).toBe('/action');
  const res = await request(t.app).post('/v1/data/tether/decision').send({ input: { action: 'delete', subject: 'alice', resource: { app: 'email' } } });
  expect(res.body.result.reasons).toContain('action_unknown');
});

describe('activate', () => {
  beforeEach(async () => {
    await put(t.app, '/v1/identities/newbie', { status: 'provisioned', proofed: true });
    await put(t.app, '/v1/devices/nb-1', healthyDevice({ owner: 'newbie' }));
  });

  test('allowed for a provisioned, proofed identity owning a qualifying device', async () => {
    expect(await decide({ action: 'activate', subject: 'newbie', device: undefined, resource: undefined })).toMatchObject({ allow: true, reasons: [], lifecycle: 'ready_for_activation' });
  });

  test('identity_not_provisioned', async () => {
    expect(await decide({ action: 'activate', resource: undefined })).toMatchObject({ allow: false, reasons: ['identity_not_provisioned'] });
  });

  test('identity_not_proofed', async () => {
    await put(t.app, '/v1/identities/newbie', { status: 'provisioned', proofed: false });
    expect((await decide({ action: 'activate', subject: 'newbie' })).reasons).toEqual(['identity_not_proofed']);
  });

  test('no_compliant_device', async () => {
    await put(t.app, '/v1/devices/nb-1', healthyDevice({ owner: 'newbie', compliant: false, observed_at: ago(HOUR - 1000) }));
    expect((await decide({ action: 'activate', subject: 'newbie' })).reasons).toEqual(['no_compliant_device']);
  });

  test('every missing condition is listed', async () => {
    await put(t.app, '/v1/identities/alice', { status: 'active', proofed: false, aliases: ['alice@example.com'] });
    await setDevice({ enrolled: false });
    expect((await decide({ action: 'activate' })).reasons).toEqual(['identity_not_proofed', 'identity_not_provisioned', 'no_compliant_device']);
  });

  test('high/privileged tiers need an encrypted device', async () => {
    await put(t.app, '/v1/identities/newbie', { status: 'provisioned', proofed: true, risk_tier: 'privileged' });
    await put(t.app, '/v1/devices/nb-1', healthyDevice({ owner: 'newbie', encrypted: false, observed_at: ago(HOUR - 1000) }));
    expect((await decide({ action: 'activate', subject: 'newbie' })).reasons).toEqual(['no_compliant_device']);
  });
});

describe('device posture', () => {
  test('device_missing', async () => {
    expect(await decide({ device: undefined })).toMatchObject({ allow: false, reasons: ['device_missing'] });
  });

  test('device_unknown', async () => {
    expect((await decide({ device: 'ghost' })).reasons).toEqual(['device_unknown']);
  });

  test('device_not_owned_by_subject', async () => {
    await put(t.app, '/v1/identities/bob', { status: 'active' });
    await put(t.app, '/v1/devices/bob-1', healthyDevice({ owner: 'bob' }));
    expect((await decide({ device: 'bob-1' })).reasons).toEqual(['device_not_owned_by_subject']);
  });

  test('device_not_enrolled', async () => {
    await setDevice({ enrolled: false });
    expect((await decide({})).reasons).toEqual(['device_not_enrolled']);
  });

  test('device_not_compliant', async () => {
    await setDevice({ compliant: false });
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['device_not_compliant'], lifecycle: 'active_noncompliant' });
  });

  test('device_not_encrypted on high apps, not on moderate ones', async () => {
    await setDevice({ encrypted: false });
    expect((await decide({ resource: { app: 'payroll' } })).reasons).toEqual(['device_not_encrypted']);
    expect((await decide({})).allow).toBe(true);
  });

  test('admin apps are treated as high', async () => {
    await setDevice({ encrypted: false });
    expect((await decide({ resource: { app: 'admin-console' } })).reasons).toEqual(['device_not_encrypted']);
  });

  test('high/privileged identities are hard-gated on every app', async () => {
    await put(t.app, '/v1/identities/alice', { status: 'active', risk_tier: 'privileged', aliases: ['alice@example.com'], activated_at: ago(30 * DAY) });
    await setDevice({ encrypted: false });
    expect((await decide({ resource: { app: 'wiki' } })).reasons).toEqual(['device_not_encrypted']);
  });

  test('device_state_stale, by the max age of the sensitivity', async () => {
    await put(t.app, '/v1/devices/old-1', healthyDevice({ observed_at: ago(30 * HOUR) }));
    expect((await decide({ device: 'old-1' })).allow).toBe(true);
    expect((await decide({ device: 'old-1', resource: { app: 'payroll' } })).reasons).toEqual(['device_state_stale']);
    await put(t.app, '/v1/devices/old-2', healthyDevice({ observed_at: ago(4 * DAY) }));
    expect((await decide({ device: 'old-2' })).reasons).toEqual(['device_state_stale']);
    expect((await decide({ device: 'old-2', resource: { app: 'wiki' } })).allow).toBe(true);
  });

  test('device_ownership_not_allowed: byod up to low, contractor up to moderate', async () => {
    await setDevice({ ownership: 'byod' });
    expect((await decide({})).reasons).toEqual(['device_ownership_not_allowed']);
    expect((await decide({ resource: { app: 'wiki' } })).allow).toBe(true);
    await setDevice({ ownership: 'contractor', observed_at: ago(HOUR - 120_000) });
    expect((await decide({})).allow).toBe(true);
    expect((await decide({ resource: { app: 'payroll' } })).reasons).toEqual(['device_ownership_not_allowed']);
  });

  test('reasons are sorted and list every failed condition', async () => {
    await setDevice({ enrolled: false, compliant: false });
    expect((await decide({})).reasons).toEqual(['device_not_compliant', 'device_not_enrolled']);
  });
});

describe('low apps: the enrollment grace', () => {
  test('enrollment_pending: allowed, limited, within the grace without any enrolled device', async () => {
    await put(t.app, '/v1/identities/fresh', { status: 'active', activated_at: ago(DAY) });
    const r = await decide({ subject: 'fresh', device: undefined, resource: { app: 'wiki' } });
    expect(r).toMatchObject({ allow: true, limited: true, reasons: ['enrollment_pending'], lifecycle: 'active_in_grace' });
    // Not on moderate apps.
    expect((await decide({ subject: 'fresh', device: undefined })).reasons).toEqual(['device_missing']);
  });

  test('after the grace, moderate rules apply', async () => {
    await put(t.app, '/v1/identities/late', { status: 'active', activated_at: ago(4 * DAY) });
    expect(await decide({ subject: 'late', device: undefined, resource: { app: 'wiki' } })).toMatchObject({ allow: false, limited: false, reasons: ['device_missing'] });
  });
});

describe('exceptions', () => {
  const exc = (fields: Record<string, unknown> = {}) => ({
    identity: 'alice@example.com',
    waives: ['device_not_compliant'],
    scope: { apps: ['email'] },
    reason: 'laptop in repair',
    approved_by: 'boss',
    expires_at: new Date(Date.now() + DAY).toISOString(),
    ...fields,
  });

  test('an exception lifts exactly the reasons it waives and is named, with exception_used', async () => {
    await setDevice({ compliant: false });
    const created = await post(t.app, '/v1/exceptions', exc());
    const r = await decide({});
    expect(r).toMatchObject({ allow: true, reasons: [], obligations: ['exception_used'] });
    expect(r.exception?.id).toBe(created.body.id);
    await setDevice({ compliant: false, encrypted: false, observed_at: ago(HOUR - 120_000) });
    await post(t.app, '/v1/exceptions', exc({ scope: { apps: ['payroll'] } }));
    expect((await decide({ resource: { app: 'payroll' } })).reasons).toEqual(['device_not_encrypted']);
  });

  test('scope by max sensitivity; other apps are not covered', async () => {
    await setDevice({ compliant: false });
    await post(t.app, '/v1/exceptions', exc({ scope: { max_sensitivity: 'low' } }));
    expect((await decide({})).reasons).toEqual(['device_not_compliant']);
    expect((await decide({ resource: { app: 'wiki' } })).allow).toBe(true);
  });

  test('a scope with apps and a maximum sensitivity covers only apps that satisfy both', async () => {
    await setDevice({ compliant: false });
    await post(t.app, '/v1/exceptions', exc({ scope: { apps: ['wiki', 'email'], max_sensitivity: 'low' } }));
    expect((await decide({ resource: { app: 'wiki' } })).allow).toBe(true);
    expect((await decide({})).reasons).toEqual(['device_not_compliant']); // email: listed, but moderate
    expect((await decide({ resource: { app: 'ci' } })).reasons).toEqual(['device_not_compliant']); // not listed
  });

  test('a deleted exception no longer applies', async () => {
    await setDevice({ compliant: false });
    const created = await post(t.app, '/v1/exceptions', exc());
    expect((await decide({})).allow).toBe(true);
    await request(t.app).delete(`/v1/exceptions/${created.body.id}`).set('authorization', 'Bearer test-api-token-0123456789').expect(204);
    expect((await decide({})).reasons).toEqual(['device_not_compliant']);
  });

  // One maximum: the policy data's max_exception_ns bounds new exceptions (when shorter than
  // TETHER_MAX_EXCEPTION_HOURS) and voids longer ones already stored (a lowered maximum applies to them).
  test("the policy data's max_exception_ns bounds new exceptions and voids longer stored ones", async () => {
    await setDevice({ compliant: false });
    const long = await post(t.app, '/v1/exceptions', exc({ expires_at: new Date(Date.now() + 3 * HOUR).toISOString() }));
    expect((await decide({})).exception?.id).toBe(long.body.id);
    const data = t.engines.data as { config: Record<string, unknown> };
    t.engines.data = { ...data, config: { ...data.config, max_exception_ns: 2 * HOUR * 1e6 } };
    t.engines.engine = await shippedEngine(); // a reload: the decider sets the new data on it
    const refused = await request(t.app).post('/v1/exceptions').set('authorization', 'Bearer test-api-token-0123456789').send(exc({ expires_at: new Date(Date.now() + 3 * HOUR).toISOString() }));
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ path: '/expires_at', message: 'must be at most 2 h from now' }]);
    expect(await decide({})).toMatchObject({ allow: false, reasons: ['device_not_compliant'], exception: null });
    const short = await post(t.app, '/v1/exceptions', exc({ expires_at: new Date(Date.now() + HOUR).toISOString() }));
    expect(await decide({})).toMatchObject({ allow: true, exception: { id: short.body.id } });
  });
});

describe('break-glass', () => {
  beforeEach(async () => {
    await put(t.app, '/v1/identities/bg', { status: 'active', type: 'break_glass' });
  });

  test('break_glass_inactive outside a window, with an alert', async () => {
    expect(await decide({ subject: 'bg', device: undefined })).toMatchObject({ allow: false, reasons: ['break_glass_inactive'], obligations: ['alert'] });
  });

  test('inside an open window: allowed regardless of device, with an alert; closed again → inactive', async () => {
    await post(t.app, '/v1/break-glass/bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
    expect(await decide({ subject: 'bg', device: undefined, resource: { app: 'payroll' } })).toMatchObject({ allow: true, reasons: [], obligations: ['alert'] });
    await request(t.app).delete('/v1/break-glass/bg').set('authorization', 'Bearer test-api-token-0123456789');
    expect((await decide({ subject: 'bg', device: undefined })).reasons).toEqual(['break_glass_inactive']);
  });
});

describe('service identities', () => {
  beforeEach(async () => {
    await put(t.app, '/v1/identities/svc', { status: 'active', type: 'service' });
  });

  test('allowed without a device on apps with allow_service', async () => {
    expect(await decide({ subject: 'svc', device: undefined, resource: { app: 'ci' } })).toMatchObject({ allow: true, reasons: [] });
  });

  test('lifecycle active_exempt, never in the drift report, long after any grace', async () => {
    await put(t.app, '/v1/identities/svc', { status: 'active', type: 'service', activated_at: ago(30 * DAY) });
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'ci' } })).lifecycle).toBe('active_exempt');
    const drift = await request(t.app).get('/v1/lifecycle/drift').set('authorization', 'Bearer test-api-token-0123456789').expect(200);
    expect(JSON.stringify(drift.body)).not.toContain('"svc"');
  });

  test('service_not_allowed elsewhere, including apps stored without the flag', async () => {
    expect((await decide({ subject: 'svc', device: undefined })).reasons).toEqual(['service_not_allowed']);
    await put(t.app, '/v1/apps/ci', { sensitivity: 'moderate' });
    expect((await decide({ subject: 'svc', device: undefined, resource: { app: 'ci' } })).reasons).toEqual(['service_not_allowed']);
  });
});

test('fail closed: no policy loaded → deny policy_error', async () => {
  t.engines.engine = undefined;
  expect(await decide({})).toMatchObject({ allow: false, reasons: ['policy_error'] });
});
