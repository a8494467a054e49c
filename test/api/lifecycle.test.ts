// GET /v1/lifecycle/{identity} and /v1/lifecycle/drift over HTTP (API token), and the end-to-end
// path: a state write through the API → a signed revocation webhook at a real receiver.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { ago, API_TOKEN, DAY, HOUR, post, put, testApp, type TestApp } from '../policies/http-app';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
  await put(t.app, '/v1/identities/alice', { status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: ago(30 * DAY) });
  await put(t.app, '/v1/devices/mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: ago(HOUR) });
});
afterEach(() => t.close());

const auth = { authorization: `Bearer ${API_TOKEN}` };

test('GET /v1/lifecycle/{identity} answers state, devices and since (aliases accepted)', async () => {
  const res = await request(t.app).get('/v1/lifecycle/alice@example.com').set(auth).expect(200);
  expect(res.body).toMatchObject({ identity: 'alice', state: 'healthy', drift: false });
  expect(res.body.devices.map((d: { id: string }) => d.id)).toEqual(['mac-1']);
  expect(Date.parse(res.body.since)).not.toBeNaN();
});

test('401 without the API token; 404 for an unknown identity', async () => {
  const res = await request(t.app).get('/v1/lifecycle/alice').expect(401);
  expect(res.body.code).toBe('unauthorized');
  await request(t.app).get('/v1/lifecycle/drift').expect(401);
  expect((await request(t.app).get('/v1/lifecycle/nobody').set(auth).expect(404)).body.code).toBe('not_found');
});

test('GET /v1/lifecycle/drift lists identities in drift states with since and reasons', async () => {
  await put(t.app, '/v1/identities/bob', { status: 'deprovisioned' });
  await put(t.app, '/v1/devices/bob-1', { owner: 'bob', ownership: 'corporate', enrolled: true, compliant: true, observed_at: ago(HOUR) });
  await put(t.app, '/v1/identities/carol', { status: 'active', activated_at: ago(10 * DAY) });
  await t.lifecycle.sweep();
  const res = await request(t.app).get('/v1/lifecycle/drift').set(auth).expect(200);
  const rows = res.body.identities as Array<{ identity: string; state: string; since: string; reasons: string[]; kind: string }>;
  expect(rows.map((r) => [r.identity, r.state, r.kind, r.reasons])).toEqual([
    ['bob', 'enrolled_not_active', 'drift', ['offboarding_incomplete']],
    ['carol', 'active_unenrolled', 'drift', ['no_enrolled_device']],
  ]);
  expect(rows.every((r) => !Number.isNaN(Date.parse(r.since)))).toBe(true);
  expect(res.body.count).toBe(2);
});

test('no policy loaded → 503 not_ready', async () => {
  t.engines.engine = undefined;
  expect((await request(t.app).get('/v1/lifecycle/alice').set(auth).expect(503)).body.code).toBe('not_ready');
});

test('a write through the API reaches a subscriber as a signed revocation webhook', async () => {
  const got: Array<{ body: string; sig: string | undefined }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString(), sig: req.headers['x-tether-signature'] as string | undefined });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  const secret = 'whsec-0123456789abcdef';
  await post(t.app, '/v1/subscriptions', { url, secret, events: ['revocation'] });
  t.lifecycle.outbox.start();
  await put(t.app, '/v1/devices/mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: false, encrypted: true, observed_at: ago(HOUR - 1000) });
  // Read-your-writes: the very next decision already denies.
  const d = await request(t.app).post('/v1/decide').send({ action: 'access', subject: 'alice', device: 'mac-1', resource: { app: 'email' } });
  expect(d.body.reasons).toEqual(['device_not_compliant']);
  for (let i = 0; i < 500 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(got).toHaveLength(1);
  expect(got[0].sig).toBe('sha256=' + createHmac('sha256', secret).update(got[0].body).digest('hex'));
  expect(JSON.parse(got[0].body)).toMatchObject({ type: 'revocation', identity: 'alice', reasons: ['device_not_compliant'], device: 'mac-1' });
  await new Promise<void>((r) => server.close(() => r()));
});
