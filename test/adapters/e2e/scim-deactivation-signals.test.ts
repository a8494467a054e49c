// Through the real service: a SCIM deactivation (Entra's shape) is a revocation trigger: the CAEP
// session-revoked SET for that user reaches a local RFC 8935 receiver, and the signed revocation
// webhook reaches a subscriber, both within 1 s; the SET verifies with the JWKS Tether publishes
// (the well-known document points at it) and the webhook with the subscription's HMAC secret.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { serveWithAdapters, type Served } from './server-harness';

const SCIM_TOKEN = 'e2e-scim-token';
let t: Served;
let receiver: http.Server;
const received: Array<{ at: number; body: string; auth?: string }> = [];
const webhooks: Array<{ at: number; body: string; signature?: string }> = [];
const WEBHOOK_SECRET = 'e2e-webhook-secret-0123456789';

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/webhook') webhooks.push({ at: Date.now(), body, signature: req.headers['x-tether-signature'] as string | undefined });
      else received.push({ at: Date.now(), body, auth: req.headers.authorization });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
  t = await serveWithAdapters({
    TETHER_SCIM_TOKEN: SCIM_TOKEN,
    TETHER_SSF_RECEIVERS: JSON.stringify([{ endpoint_url: endpoint, authorization_header: 'Bearer r', aud: 'urn:receiver' }]),
  });
}, 120_000);
afterAll(async () => {
  await t?.stop();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

test('Entra deactivation → session-revoked SET and signed revocation webhook at their receivers within 1 s', async () => {
  const created = await request(t.url)
    .post('/scim/v2/Users')
    .set('Authorization', `Bearer ${SCIM_TOKEN}`)
    .send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'leaver@contoso.com', externalId: 'leaver', active: true });
  expect(created.status).toBe(201);
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
  await request(t.url)
    .post('/v1/subscriptions')
    .set('Authorization', `Bearer ${t.apiToken}`)
    .send({ url: hookUrl, secret: WEBHOOK_SECRET, events: ['revocation'] })
    .expect(201);
  const meta = (await request(t.url).get('/.well-known/ssf-configuration').expect(200)).body;
  expect(meta.jwks_uri).toMatch(/\/ssf\/jwks\.json$/);
  await request(t.url).get('/ssf/jwks.json').expect(200); // key ready before the clock starts
  const t0 = Date.now();
  await request(t.url)
    .patch(`/scim/v2/Users/${created.body.id}`)
    .set('Authorization', `Bearer ${SCIM_TOKEN}`)
    .send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })
    .expect(200);
  while ((received.length === 0 || webhooks.length === 0) && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 10));
  expect(received).toHaveLength(1);
  expect(received[0].at - t0).toBeLessThan(1000);
  expect(webhooks).toHaveLength(1);
  expect(webhooks[0].at - t0).toBeLessThan(1000);
  expect(webhooks[0].signature).toBe('sha256=' + createHmac('sha256', WEBHOOK_SECRET).update(webhooks[0].body).digest('hex'));
  expect(JSON.parse(webhooks[0].body)).toMatchObject({ type: 'revocation', reasons: expect.arrayContaining(['identity_not_active']) });
  expect(received[0].auth).toBe('Bearer r');
  // The receiver resolves the JWKS the way a real one would: from Tether's jwks endpoint over HTTP.
  const jwks = createRemoteJWKSet(new URL(`${t.url}/ssf/jwks.json`));
  const { payload } = await jwtVerify(received[0].body, jwks, { issuer: meta.issuer, audience: 'urn:receiver', typ: 'secevent+jwt' });
  expect(payload.sub_id).toEqual({ format: 'email', email: 'leaver@contoso.com' });
  expect(payload.events).toHaveProperty(['https://schemas.openid.net/secevent/caep/event-type/session-revoked']);
});
