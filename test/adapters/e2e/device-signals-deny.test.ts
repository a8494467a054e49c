// Done-when of the adapters issue, through the real service and shipped policies: an Intune poll
// with a non-compliant device, a CAEP device-compliance-change to not-compliant, and a generic MDM
// webhook each turn the next decision for that device into device_not_compliant.
import request from 'supertest';
import { SignJWT, type CryptoKey } from 'jose';
import { adaptersFor } from '../../../src/adapters';
import { signWebhook } from '../../../src/adapters/mdm/hmac';
import { managedDevice, startFakeGraph, type FakeGraph } from '../mdm/fake-graph';
import { transmitterKey } from '../ssf/transmitter-key';
import { serveWithAdapters, type Served } from './server-harness';

const TENANT = 'contoso.onmicrosoft.com';
const ISS = 'https://idp.example.com/';
const AUD = 'https://tether.example.com/';
let t: Served;
let graph: FakeGraph;
let key: CryptoKey;

beforeAll(async () => {
  graph = await startFakeGraph(TENANT, 'app', 'secret');
  graph.devices = [managedDevice('intune-1', { userPrincipalName: 'alice@example.com', lastSyncDateTime: new Date().toISOString() })];
  const signing = await transmitterKey();
  key = signing.key;
  const jwk = signing.jwk;
  t = await serveWithAdapters({
    TETHER_INTUNE_TENANT_ID: TENANT,
    TETHER_INTUNE_CLIENT_ID: 'app',
    TETHER_INTUNE_CLIENT_SECRET: 'secret',
    TETHER_INTUNE_GRAPH_URL: graph.url,
    TETHER_INTUNE_AUTHORITY_URL: graph.url,
    TETHER_INTUNE_INTERVAL_SECONDS: '3600',
    TETHER_SSF_RECEIVER_ISSUER: ISS,
    TETHER_SSF_RECEIVER_JWKS: JSON.stringify({ keys: [jwk] }),
    TETHER_SSF_RECEIVER_AUDIENCE: AUD,
    TETHER_MDM_WEBHOOK_SECRET: 'hook-secret',
  }, { decisions: true });
  await request(t.url)
    .put('/v1/identities/alice')
    .set('Authorization', `Bearer ${t.apiToken}`)
    .send({ status: 'active', proofed: true, activated_at: '2024-01-01T00:00:00Z', aliases: ['alice@example.com'] })
    .expect((r) => expect([200, 201]).toContain(r.status));
}, 120_000);
afterAll(async () => {
  await t?.stop();
  await graph?.close();
});

async function decide(device: string) {
  const res = await request(t.url).post('/v1/decide').send({ action: 'access', subject: 'alice@example.com', device, resource: { app: 'email' } });
  expect(res.status).toBe(200);
  return res.body as { allow: boolean; reasons: string[] };
}

test('an Intune poll reporting the device noncompliant → next decision device_not_compliant', async () => {
  const intune = adaptersFor(t.server.ctx).intune!;
  await intune.poll();
  expect(await decide('intune-1')).toMatchObject({ allow: true });
  graph.devices = [managedDevice('intune-1', { userPrincipalName: 'alice@example.com', complianceState: 'noncompliant', lastSyncDateTime: new Date().toISOString() })];
  await intune.poll();
  const after = await decide('intune-1');
  expect(after.allow).toBe(false);
  expect(after.reasons).toContain('device_not_compliant');
});

test('a CAEP device-compliance-change to not-compliant → next decision device_not_compliant', async () => {
  const body = JSON.stringify({ device: { id: 'mac-caep', owner: 'alice@example.com', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', observed_at: new Date().toISOString() } });
  await request(t.url).post('/v1/adapters/mdm/webhook').set('Content-Type', 'application/json').set(signWebhook('hook-secret', body)).send(body).expect(200);
  expect(await decide('mac-caep')).toMatchObject({ allow: true });
  const set = await new SignJWT({
    jti: 'e2e-1',
    sub_id: { format: 'complex', device: { format: 'opaque', id: 'mac-caep' }, user: { format: 'email', email: 'alice@example.com' } },
    events: { 'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change': { current_status: 'not-compliant', previous_status: 'compliant' } },
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: 'k1' })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setIssuedAt()
    .sign(key);
  await request(t.url).post('/v1/adapters/ssf/events').set('Content-Type', 'application/secevent+jwt').send(set).expect(202);
  const after = await decide('mac-caep');
  expect(after.allow).toBe(false);
  expect(after.reasons).toContain('device_not_compliant');
});

test('a generic MDM webhook reporting the device non-compliant → next decision device_not_compliant', async () => {
  const post = (compliant: boolean) => {
    const body = JSON.stringify({ device: { id: 'mac-hook', owner: 'alice@example.com', enrolled: true, compliant, encrypted: true, ownership: 'corporate', observed_at: new Date().toISOString() } });
    return request(t.url).post('/v1/adapters/mdm/webhook').set('Content-Type', 'application/json').set(signWebhook('hook-secret', body)).send(body);
  };
  await post(true).expect(200);
  expect(await decide('mac-hook')).toMatchObject({ allow: true });
  await post(false).expect(200);
  const after = await decide('mac-hook');
  expect(after.allow).toBe(false);
  expect(after.reasons).toContain('device_not_compliant');
});
