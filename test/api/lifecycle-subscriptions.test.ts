// POST/GET/DELETE /v1/subscriptions: 201 without the secret, 400 naming each bad field with nothing
// stored, 401 without the API token, 404 for unknown ids.
import request from 'supertest';
import { API_TOKEN, testApp, type TestApp } from '../policies/http-app';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(() => t.close());

const auth = { authorization: `Bearer ${API_TOKEN}` };
const sub = { url: 'https://hooks.example.com/tether', secret: 'whsec-0123456789abcdef', events: ['revocation', 'drift'] };

test('create, list, read and delete; the secret is never answered', async () => {
  const created = await request(t.app).post('/v1/subscriptions').set(auth).send(sub).expect(201);
  expect(created.body).toMatchObject({ url: sub.url, events: sub.events });
  expect(created.body.id).toEqual(expect.any(String));
  expect(created.body).not.toHaveProperty('secret');
  const list = await request(t.app).get('/v1/subscriptions').set(auth).expect(200);
  expect(list.body.subscriptions).toHaveLength(1);
  expect(JSON.stringify(list.body)).not.toContain(sub.secret);
  const one = await request(t.app).get(`/v1/subscriptions/${created.body.id}`).set(auth).expect(200);
  expect(one.body).not.toHaveProperty('secret');
  await request(t.app).delete(`/v1/subscriptions/${created.body.id}`).set(auth).expect(204);
  expect((await request(t.app).delete(`/v1/subscriptions/${created.body.id}`).set(auth).expect(404)).body.code).toBe('not_found');
  await request(t.app).get(`/v1/subscriptions/${created.body.id}`).set(auth).expect(404);
});

test.each([
  [{ ...sub, url: 'ftp://x' }, '/url'],
  [{ ...sub, url: 'https://hookuser:s3cret@hooks.example.com/tether' }, '/url'],
  [{ ...sub, secret: 'short' }, '/secret'],
  [{ ...sub, events: ['everything'] }, '/events/0'],
  [{ url: sub.url, events: sub.events }, ''],
])('400 naming the bad field and storing nothing: %j', async (body, field) => {
  const res = await request(t.app).post('/v1/subscriptions').set(auth).send(body).expect(400);
  expect(res.body.code).toBe('invalid_input');
  expect(res.body.errors.some((e: { path: string }) => e.path === field || (field === '' && e.path.length >= 0))).toBe(true);
  expect(t.ctx.store.listSubscriptions()).toEqual([]);
});

test('401 without the API token, and nothing stored', async () => {
  await request(t.app).post('/v1/subscriptions').send(sub).expect(401);
  await request(t.app).get('/v1/subscriptions').expect(401);
  await request(t.app).delete('/v1/subscriptions/x').expect(401);
  expect(t.ctx.store.listSubscriptions()).toEqual([]);
});
