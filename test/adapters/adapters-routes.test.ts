// GET /v1/adapters (admin read), adapter health in /health/ready and /metrics, and adapters that
// stay off without their configuration.
import request from 'supertest';
import { healthRouter } from '../../src/api/routes/health';
import { adaptersRouteModule } from '../../src/api/routes/adapters';
import { API_TOKEN, harness, type Harness } from './helpers';

let h: Harness;
afterEach(() => h.close());

test('GET /v1/adapters needs the API token and lists each configured adapter with its status', async () => {
  h = await harness({ TETHER_SCIM_TOKEN: 's', TETHER_MDM_WEBHOOK_SECRET: 'm' }, [{ name: 'health', create: healthRouter }, adaptersRouteModule]);
  const denied = await request(h.app).get('/v1/adapters');
  expect(denied.status).toBe(401);
  expect(denied.body.code).toBe('unauthorized');
  const res = await request(h.app).get('/v1/adapters').set('Authorization', `Bearer ${API_TOKEN}`).expect(200);
  expect(res.body.adapters.map((a: { name: string }) => a.name)).toEqual(['mdm-webhook', 'scim', 'ssf-transmitter']);
  for (const a of res.body.adapters) expect(Object.keys(a).sort()).toEqual(['last_success', 'message', 'name', 'state']);
  const ready = await request(h.app).get('/health/ready');
  expect(ready.body.checks.adapters).toEqual({ 'mdm-webhook': 'OK', scim: 'OK', 'ssf-transmitter': 'OK' });
  const metrics = await request(h.app).get('/metrics').expect(200);
  expect(metrics.text).toContain('tether_adapter_status{adapter="scim",state="OK"} 1');
  expect(metrics.text).toContain('tether_adapter_status{adapter="scim",state="ERROR"} 0');
  expect(metrics.text).toContain('tether_ssf_outbox_depth 0');
});

test('without their settings SCIM, the MDM webhook and the CAEP receiver are off (404, not open)', async () => {
  h = await harness({});
  expect((await request(h.app).get('/scim/v2/Users')).status).toBe(404);
  expect((await request(h.app).post('/v1/adapters/mdm/webhook').send({ device: { id: 'x' } })).status).toBe(404);
  expect((await request(h.app).post('/v1/adapters/ssf/events').set('Content-Type', 'application/secevent+jwt').send('x.y.z')).status).toBe(404);
  expect(h.adapters.registry.list().map((a) => a.name)).toEqual(['ssf-transmitter']);
});

test('TETHER_ADAPTERS_CONFIG: settings from a JSON file (structured values allowed), the environment wins', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const os = await import('node:os');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tether-adcfg-')), 'adapters.json');
  fs.writeFileSync(file, JSON.stringify({ TETHER_SCIM_TOKEN: 'from-file', TETHER_SSF_RECEIVERS: [{ endpoint_url: 'http://127.0.0.1:9/x' }], TETHER_MDM_WEBHOOK_SECRET: 'file-secret' }));
  h = await harness({ TETHER_ADAPTERS_CONFIG: file, TETHER_MDM_WEBHOOK_SECRET: 'env-secret' });
  await request(h.app).get('/scim/v2/ServiceProviderConfig').set('Authorization', 'Bearer from-file').expect(200);
  expect(h.adapters.ssfTransmitter.streams.list()).toHaveLength(1);
  const { signWebhook } = await import('../../src/adapters/mdm/hmac');
  const body = JSON.stringify({ device: { id: 'd' } });
  expect((await request(h.app).post('/v1/adapters/mdm/webhook').set(signWebhook('file-secret', body)).set('Content-Type', 'application/json').send(body)).status).toBe(401);
});
