// The app shell: error bodies (404/415/400/500 without stacks), tokens, health/readiness, metrics,
// and the error-code table the README must document.
import { Router } from 'express';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { ApiError, ERROR_CODE_LIST, ERROR_CODES } from '../../src/api/errors';
import { requireDecisionToken } from '../../src/api/auth';
import { routeModules } from '../../src/api/routes';
import { auth, makeApp, OWN_ROUTES, TOKEN } from './helpers';

const own = routeModules.filter((m) => OWN_ROUTES.includes(m.name));

describe('error bodies', () => {
  test('unknown routes answer 404 not_found as JSON', async () => {
    const { app } = makeApp();
    const r = await request(app).get('/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ code: 'not_found', message: 'no route for GET /v1/nothing-here' });
  });

  test('a non-JSON body is 415, malformed JSON is 400 invalid_input', async () => {
    const { app, store } = makeApp();
    const t = await request(app).put('/v1/identities/a').set(auth).set('Content-Type', 'text/plain').send('status=active');
    expect(t.status).toBe(415);
    expect(t.body.code).toBe('unsupported_media_type');
    const m = await request(app).put('/v1/identities/a').set(auth).set('Content-Type', 'application/json').send('{"status":');
    expect(m.status).toBe(400);
    expect(m.body.code).toBe('invalid_input');
    expect(store.getIdentity('a')).toBeUndefined();
  });

  test('an unexpected error is a bare 500 internal_error: no stack, no message leak', async () => {
    const { ctx } = makeApp();
    const boom = {
      name: 'boom',
      create: () => Router().get('/boom', () => {
        throw new Error('secret database password in message');
      }),
    };
    const r = await request(createApp(ctx, [...own, boom])).get('/boom');
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ code: 'internal_error', message: 'internal error' });
    expect(r.text).not.toContain('secret');
    expect(r.text).not.toContain('at ');
  });

  test('ApiError carries its code and field errors', async () => {
    const { ctx } = makeApp();
    const m = {
      name: 'x',
      create: () => Router().get('/x', () => {
        throw new ApiError('invalid_input', 'bad', [{ path: '/a', message: 'nope' }]);
      }),
    };
    const r = await request(createApp(ctx, [m])).get('/x');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ code: 'invalid_input', message: 'bad', errors: [{ path: '/a', message: 'nope' }] });
  });
});

describe('error code table', () => {
  test('contains every code of api.md with its status', () => {
    const expected: Record<string, number> = {
      invalid_input: 400, unauthorized: 401, not_found: 404, method_not_allowed: 405, stale_update: 409, payload_too_large: 413,
      unsupported_media_type: 415, policy_compile_failed: 422, not_ready: 503, state_unavailable: 503, internal_error: 500,
    };
    for (const [code, status] of Object.entries(expected)) {
      expect(ERROR_CODE_LIST).toContain(code);
      expect(ERROR_CODES[code as keyof typeof ERROR_CODES].status).toBe(status);
    }
    for (const code of ERROR_CODE_LIST) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});

describe('decision token', () => {
  const decideModule = (name: string) => ({
    name,
    create: (ctx: Parameters<typeof requireDecisionToken>[0]) => Router().post('/v1/test-decide', requireDecisionToken(ctx), (_q, s) => void s.json({ ok: true })),
  });

  test('open when TETHER_DECISION_TOKEN is unset', async () => {
    const { ctx } = makeApp();
    await request(createApp(ctx, [decideModule('d')])).post('/v1/test-decide').send({}).expect(200);
  });

  test('required when set; the API token is accepted too', async () => {
    const { ctx } = makeApp({ TETHER_DECISION_TOKEN: 'decide-secret' });
    const app = createApp(ctx, [decideModule('d')]);
    const r = await request(app).post('/v1/test-decide').send({});
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthorized');
    await request(app).post('/v1/test-decide').set('Authorization', 'Bearer nope').send({}).expect(401);
    await request(app).post('/v1/test-decide').set('Authorization', 'Bearer decide-secret').send({}).expect(200);
    await request(app).post('/v1/test-decide').set('Authorization', `Bearer ${TOKEN}`).send({}).expect(200);
  });

  test('an API-token route fails closed when no API token is configured', async () => {
    const { ctx } = makeApp();
    ctx.config.apiToken = undefined;
    const app = createApp(ctx, own);
    await request(app).get('/v1/apps').set('Authorization', 'Bearer ').expect(401);
    await request(app).get('/v1/apps').set('Authorization', 'Bearer undefined').expect(401);
  });
});

describe('health and readiness', () => {
  test('/health is 200 always; /health/ready is 503 until policies load and adapters are OK', async () => {
    const { app, ctx } = makeApp();
    await request(app).get('/health').expect(200, { status: 'ok' });
    const notReady = await request(app).get('/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ code: 'not_ready', checks: { store: 'OK', policies: 'NOT_READY' } });

    ctx.readiness.policiesLoaded = true;
    let scim = 'NOT_READY';
    ctx.adapters.push({ name: 'scim', status: () => scim as 'NOT_READY' });
    const syncing = await request(app).get('/health/ready');
    expect(syncing.status).toBe(503);
    expect(syncing.body.checks.adapters).toEqual({ scim: 'NOT_READY' });
    scim = 'OK';
    await request(app).get('/health/ready').expect(200);

    ctx.store.close();
    const closed = await request(app).get('/health/ready');
    expect(closed.status).toBe(503);
    expect(closed.body.checks.store).toBe('ERROR');
  });

  test('a closed store answers 503 state_unavailable (fail closed), never a 500 or stale data', async () => {
    const { app, store } = makeApp();
    store.putIdentity('a', { status: 'active' });
    store.close();
    const r = await request(app).get('/v1/identities/a').set(auth);
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('state_unavailable');
  });
});

describe('metrics', () => {
  test('/metrics exposes decision, state, policy, outbox and decision-log metrics', async () => {
    const { app, ctx, store } = makeApp();
    store.putIdentity('a', { status: 'active', source: 'okta' });
    store.putDevice('d', { owner: 'a', ownership: 'corporate', source: 'jamf' });
    ctx.metrics.observeDecision('access', false, ['device_not_compliant', 'device_state_stale'], 0.0004);
    ctx.metrics.observeDecision('token', true, [], 0.0002);
    ctx.metrics.setLifecycleStates({ healthy: 3, active_unenrolled: 1 });
    ctx.metrics.setPolicyRevision('rev-1');
    ctx.metrics.policyReloadFailed();
    ctx.metrics.setOutboxDepth(4);
    ctx.metrics.outboxDeliveryFailed('sub_1');
    ctx.metrics.decisionLogDrop(2);
    const r = await request(app).get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/plain/);
    const t = r.text;
    expect(t).toContain('tether_decision_duration_seconds_bucket{le="0.0005",action="access"} 1');
    expect(t).toContain('tether_decisions_total{action="access",allow="false",reason="device_not_compliant"} 1');
    expect(t).toContain('tether_decisions_total{action="token",allow="true",reason="none"} 1');
    expect(t).toContain('tether_identities_by_lifecycle_state{state="active_unenrolled"} 1');
    expect(t).toContain('tether_state_records{kind="identity"} 1');
    expect(t).toContain('tether_state_records{kind="device"} 1');
    await store.residentSettled();
    const settled = (await request(app).get('/metrics')).text;
    expect(settled).toContain('tether_state_resident_complete{replica="state"} 1');
    expect(settled).toContain('tether_state_resident_entries{replica="state"} 2'); // the identity and its devices
    expect(settled).toContain('tether_state_resident_dirty{replica="state"} 0');
    expect(settled).toMatch(/tether_state_resident_bytes\{replica="state"\} [1-9]\d*/);
    expect(t).toMatch(/tether_state_newest_update_age_seconds\{kind="device",source="jamf"\} \d/);
    expect(t).toContain('tether_policy_revision_info{revision="rev-1"} 1');
    expect(t).toContain('tether_policy_reload_failures_total 1');
    expect(t).toContain('tether_outbox_depth 4');
    expect(t).toContain('tether_outbox_delivery_failures_total{subscriber="sub_1"} 1');
    expect(t).toContain('tether_decision_log_dropped_total{allow="true"} 2');
  });

  test('HTTP requests are counted by route pattern, not raw path', async () => {
    const { app, ctx } = makeApp();
    await request(app).get('/v1/identities/some-user-id').set(auth);
    const t = await ctx.metrics.text();
    expect(t).toContain('route="/v1/identities/:id",code="404"');
    expect(t).not.toContain('some-user-id');
  });
});
