// Done-when of the adapters issue: a SCIM deactivation as Okta sends it and as Entra sends it each
// turn the next decision for that user into a deny — through the real service and shipped policies.
import request from 'supertest';
import { serveWithAdapters, type Served } from './server-harness';

const SCIM_TOKEN = 'e2e-scim-token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let t: Served;
beforeAll(async () => {
  t = await serveWithAdapters({ TETHER_SCIM_TOKEN: SCIM_TOKEN }, { decisions: true });
}, 120_000);
afterAll(() => t?.stop());

async function provision(userName: string, externalId: string): Promise<string> {
  const res = await request(t.url)
    .post('/scim/v2/Users')
    .set('Authorization', `Bearer ${SCIM_TOKEN}`)
    .set('Content-Type', 'application/scim+json')
    .set('User-Agent', 'Okta SCIM Client 1.0.0')
    .send(JSON.stringify({ schemas: [USER], userName, externalId, active: true, emails: [{ value: userName, type: 'work', primary: true }] }));
  expect(res.status).toBe(201);
  const id = t.server.ctx.store.resolveIdentityId(userName)!;
  // The device an MDM reports for this person (by email, as MDMs know users).
  await request(t.url)
    .put(`/v1/devices/mac-${externalId}`)
    .set('Authorization', `Bearer ${t.apiToken}`)
    .send({ owner: userName, enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', platform: 'macos', observed_at: new Date().toISOString() })
    .expect((r) => expect([200, 201]).toContain(r.status));
  return res.body.id as string;
}

async function decide(subject: string, device: string) {
  const res = await request(t.url).post('/v1/decide').send({ action: 'access', subject, device, resource: { app: 'wiki' } });
  expect(res.status).toBe(200);
  if (process.env.DEBUG_E2E) console.log(JSON.stringify(res.body));
  return res.body as { allow: boolean; reasons: string[] };
}

test('Okta: PATCH replace without path, value {"active": false} → next decision denies identity_not_active', async () => {
  const scimId = await provision('okta.user@example.com', '00uOKTA1');
  expect((await decide('okta.user@example.com', 'mac-00uOKTA1')).allow).toBe(true);
  await request(t.url)
    .patch(`/scim/v2/Users/${scimId}`)
    .set('Authorization', `Bearer ${SCIM_TOKEN}`)
    .set('Content-Type', 'application/scim+json')
    .send(JSON.stringify({ schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] }))
    .expect(200);
  const after = await decide('00uOKTA1', 'mac-00uOKTA1'); // by the Okta id alias too
  expect(after.allow).toBe(false);
  expect(after.reasons).toContain('identity_not_active');
});

test('Entra: PATCH {"op": "Replace", "path": "active", "value": "False"} → next decision denies identity_not_active', async () => {
  const scimId = await provision('entra.user@example.com', 'entraNick1');
  expect((await decide('entra.user@example.com', 'mac-entraNick1')).allow).toBe(true);
  await request(t.url)
    .patch(`/scim/v2/Users/${scimId}`)
    .set('Authorization', `Bearer ${SCIM_TOKEN}`)
    .set('Content-Type', 'application/scim+json')
    .send(JSON.stringify({ schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }))
    .expect(200);
  const after = await decide('entra.user@example.com', 'mac-entraNick1');
  expect(after.allow).toBe(false);
  expect(after.reasons).toContain('identity_not_active');
});

test('DELETE deprovisions: the next decision denies; the adapter shows in /v1/adapters and /health/ready', async () => {
  const scimId = await provision('leaver@example.com', 'leaver1');
  expect((await decide('leaver@example.com', 'mac-leaver1')).allow).toBe(true);
  await request(t.url).delete(`/scim/v2/Users/${scimId}`).set('Authorization', `Bearer ${SCIM_TOKEN}`).expect(204);
  const after = await decide('leaver@example.com', 'mac-leaver1');
  expect(after.allow).toBe(false);
  expect(after.reasons).toContain('identity_not_active');
  const list = await request(t.url).get('/v1/adapters').set('Authorization', `Bearer ${t.apiToken}`).expect(200);
  expect(list.body.adapters.find((a: { name: string }) => a.name === 'scim')).toMatchObject({ state: 'OK' });
  const ready = await request(t.url).get('/health/ready');
  expect(ready.body.checks.adapters.scim).toBe('OK');
});

test('malformed SCIM JSON through the real app still answers a SCIM error body', async () => {
  const res = await request(t.url).post('/scim/v2/Users').set('Authorization', `Bearer ${SCIM_TOKEN}`).set('Content-Type', 'application/scim+json').send('{"userName":');
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidSyntax' });
});
