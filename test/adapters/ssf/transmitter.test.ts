// The CAEP transmitter end to end: revocations from the lifecycle outbox become SETs signed with
// Tether's key, pushed to a local RFC 8935 receiver within 1 s and verifiable with the published
// JWKS; discovery metadata, stream management, verification, pause/disable, durable retries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { API_TOKEN, harness, type Harness } from '../helpers';
import { LifecycleService } from '../../../src/lifecycle/service';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const ISSUER = 'https://tether.example.com';

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let receiver: http.Server;
let receiverUrl: string;
let received: Received[];
let answer: number;
let h: Harness;
let lifecycle: LifecycleService | undefined;

beforeEach(async () => {
  received = [];
  answer = 202;
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body });
      res.statusCode = answer;
      if (answer === 400) res.end(JSON.stringify({ err: 'invalid_key', description: 'nope' }));
      else res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/caep/events`;
  h = await harness(
    { TETHER_SSF_ISSUER: ISSUER, TETHER_SSF_RECEIVERS: JSON.stringify([{ endpoint_url: receiverUrl, authorization_header: 'Bearer rcv-token', aud: 'https://receiver.example/' }]) },
    undefined,
    (ctx) => {
      lifecycle = new LifecycleService({ store: ctx.store, engine: () => undefined });
      ctx.lifecycle = lifecycle;
    },
  );
  h.adapters.ssfTransmitter['cfg'].baseDelayMs = 50;
  await h.adapters.ssfTransmitter.signingKey(); // generated at start, in the background
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate' });
});
afterEach(async () => {
  await lifecycle?.stop();
  await h.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

async function waitFor(n: number, ms = 5000): Promise<void> {
  await eventually(() => received.length >= n, ms);
  expect(received.length).toBeGreaterThanOrEqual(n);
}

/** Polls cond until it holds or ms pass (the machine may be busy: assert states, not timings). */
async function eventually(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

async function verifyWithPublishedJwks(token: string) {
  const jwks = (await request(h.app).get('/ssf/jwks.json').expect(200)).body as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: 'https://receiver.example/', typ: 'secevent+jwt', algorithms: ['RS256'] });
}

test('an identity leaving active pushes a session-revoked SET within 1 s, verifiable with the published JWKS', async () => {
  const t0 = Date.now();
  h.ctx.store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
  await waitFor(1);
  const r = received[0];
  expect(r.at - t0).toBeLessThan(1000);
  expect(r.headers['content-type']).toBe('application/secevent+jwt');
  expect(r.headers.authorization).toBe('Bearer rcv-token');
  const { payload, protectedHeader } = await verifyWithPublishedJwks(r.body);
  expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'secevent+jwt' });
  expect(payload.sub).toBeUndefined();
  expect(payload.exp).toBeUndefined();
  expect(payload.sub_id).toEqual({ format: 'email', email: 'alice@example.com' });
  expect(Object.keys(payload.events as object)).toEqual([CAEP + 'session-revoked']);
  expect(typeof payload.jti).toBe('string');
  expect(typeof payload.txn).toBe('string');
});

test('a device turning non-compliant pushes device-compliance-change with a complex user+device subject', async () => {
  h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: true, compliant: false, encrypted: true, ownership: 'corporate' });
  await waitFor(1);
  const { payload } = await verifyWithPublishedJwks(received[0].body);
  expect(payload.sub_id).toEqual({ format: 'complex', device: { format: 'opaque', id: 'mac-1' }, user: { format: 'email', email: 'alice@example.com' } });
  expect((payload.events as Record<string, Record<string, unknown>>)[CAEP + 'device-compliance-change']).toMatchObject({ current_status: 'not-compliant', previous_status: 'compliant' });
});

test('changes that remove no access send nothing', async () => {
  h.ctx.store.putIdentity('bob', { status: 'active' });
  h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: true, compliant: true, encrypted: true, ownership: 'corporate', os_version: '15.1' });
  await h.adapters.ssfTransmitter.flush();
  await new Promise((r) => setTimeout(r, 100));
  expect(received).toHaveLength(0);
});

test('a failing receiver gets the SET again (durable queue with backoff); a 400 rejection is not retried', async () => {
  answer = 503;
  h.ctx.store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
  await waitFor(1);
  // The receiver has the request; the transmitter records the 503 once the answer arrives.
  await eventually(() => h.adapters.ssfTransmitter.status().state === 'WARN');
  expect(h.adapters.ssfTransmitter.depth()).toBe(1);
  expect(h.adapters.ssfTransmitter.status().state).toBe('WARN');
  answer = 202;
  await waitFor(2);
  expect(received[1].body).toBe(received[0].body); // same claims, same key: the very same SET again
  await h.adapters.ssfTransmitter.flush();
  expect(h.adapters.ssfTransmitter.depth()).toBe(0);
  answer = 400;
  h.ctx.store.putDevice('mac-1', { owner: 'alice', enrolled: false, compliant: true, encrypted: true, ownership: 'corporate' });
  await waitFor(3);
  await h.adapters.ssfTransmitter.flush();
  expect(h.adapters.ssfTransmitter.depth()).toBe(0);
  expect(h.adapters.ssfTransmitter.dropped).toBe(1);
});

test('a receiver down for many attempts still gets the SET once it is back: queued SETs are never given up', async () => {
  // Short backoff for the test (the defaults are 1 s doubling to 5 min).
  Object.assign(h.adapters.ssfTransmitter['queue']['o'], { baseDelayMs: 5, maxDelayMs: 5 });
  answer = 503;
  h.ctx.store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
  await waitFor(1);
  for (let i = 0; i < 40 && received.length < 30; i++) {
    await new Promise((r) => setTimeout(r, 10)); // past the backoff: the row is due again
    await h.adapters.ssfTransmitter.flush();
  }
  expect(received.length).toBeGreaterThanOrEqual(30);
  expect(h.adapters.ssfTransmitter.depth()).toBe(1);
  answer = 202;
  const n = received.length;
  await waitFor(n + 1);
  await h.adapters.ssfTransmitter.flush();
  expect(h.adapters.ssfTransmitter.depth()).toBe(0);
  expect(h.adapters.ssfTransmitter.dropped).toBe(0);
  expect(received[n].body).toBe(received[0].body);
});

describe('discovery and stream management', () => {
  const auth = { Authorization: `Bearer ${API_TOKEN}` };

  test('/.well-known/ssf-configuration names the endpoints; JWKS holds one RS256 key that persists', async () => {
    const meta = (await request(h.app).get('/.well-known/ssf-configuration').expect(200)).body;
    expect(meta).toMatchObject({
      spec_version: '1_0',
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/ssf/jwks.json`,
      delivery_methods_supported: ['urn:ietf:rfc:8935'],
      configuration_endpoint: `${ISSUER}/ssf/streams`,
      status_endpoint: `${ISSUER}/ssf/status`,
      verification_endpoint: `${ISSUER}/ssf/verify`,
    });
    const jwks = (await request(h.app).get('/ssf/jwks.json').expect(200)).body;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();
    const again = (await request(h.app).get('/ssf/jwks.json')).body;
    expect(again.keys[0].kid).toBe(jwks.keys[0].kid);
  });

  test('a receiver registers a push stream, asks for verification, pauses and deletes it', async () => {
    const created = await request(h.app)
      .post('/ssf/streams')
      .set(auth)
      .send({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: receiverUrl.replace('/caep/events', '/second') }, events_requested: [CAEP + 'session-revoked', 'urn:example:unknown'], description: 'second' });
    expect(created.status).toBe(201);
    const id = created.body.stream_id;
    expect(created.body).toMatchObject({ iss: ISSUER, events_delivered: [CAEP + 'session-revoked'] });
    expect((await request(h.app).get('/ssf/streams').query({ stream_id: id }).set(auth)).body.stream_id).toBe(id);
    expect((await request(h.app).get('/ssf/streams').set(auth)).body).toHaveLength(2);

    await request(h.app).post('/ssf/verify').set(auth).send({ stream_id: id, state: 'abc' }).expect(204);
    await waitFor(1);
    const v = received.find((r) => r.body && JSON.parse(Buffer.from(r.body.split('.')[1], 'base64url').toString()).events['https://schemas.openid.net/secevent/ssf/event-type/verification'])!;
    const claims = JSON.parse(Buffer.from(v.body.split('.')[1], 'base64url').toString());
    expect(claims.sub_id).toEqual({ format: 'opaque', id });
    expect(claims.events['https://schemas.openid.net/secevent/ssf/event-type/verification']).toEqual({ state: 'abc' });

    await request(h.app).post('/ssf/status').set(auth).send({ stream_id: id, status: 'paused' }).expect(200);
    expect((await request(h.app).get('/ssf/status').query({ stream_id: id }).set(auth)).body).toEqual({ stream_id: id, status: 'paused' });
    const patched = await request(h.app).patch('/ssf/streams').set(auth).send({ stream_id: id, description: 'renamed' });
    expect(patched.body.description).toBe('renamed');
    await request(h.app).post('/ssf/subjects/add').set(auth).send({ stream_id: id, subject: { format: 'email', email: 'alice@example.com' } }).expect(200);
    await request(h.app).delete('/ssf/streams').query({ stream_id: id }).set(auth).expect(204);
    await request(h.app).get('/ssf/status').query({ stream_id: id }).set(auth).expect(404);
  });

  test('metadata advertises OAuth (urn:ietf:rfc:6749) as the authorization scheme', async () => {
    const meta = (await request(h.app).get('/.well-known/ssf-configuration').expect(200)).body;
    expect(meta.authorization_schemes).toEqual([{ spec_urn: 'urn:ietf:rfc:6749' }]);
  });

  test('a configured (TETHER_SSF_RECEIVERS) stream cannot be deleted through the API: 400 naming stream_id, stream kept', async () => {
    const [stat] = (await request(h.app).get('/ssf/streams').set(auth).expect(200)).body;
    expect(stat.stream_id).toMatch(/^static-/);
    const res = await request(h.app).delete('/ssf/streams').query({ stream_id: stat.stream_id }).set(auth);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_input');
    expect(res.body.errors[0].path).toBe('/stream_id');
    expect(res.body.message).toContain('configured');
    await request(h.app).get('/ssf/streams').query({ stream_id: stat.stream_id }).set(auth).expect(200);
  });

  test('an issuer with a path: every endpoint the metadata advertises is served there', async () => {
    const issuer = 'https://tether.example.com/tenant1';
    const t = await harness({ TETHER_SSF_ISSUER: issuer });
    try {
      const meta = (await request(t.app).get('/.well-known/ssf-configuration/tenant1').expect(200)).body;
      expect(meta.issuer).toBe(issuer);
      const path = (field: string) => {
        const u = new URL(meta[field] as string);
        expect(u.origin + u.pathname).toMatch(new RegExp(`^${issuer}/`));
        return u.pathname;
      };
      const jwks = await request(t.app).get(path('jwks_uri')).expect(200);
      expect(jwks.body.keys).toHaveLength(1);
      const created = await request(t.app)
        .post(path('configuration_endpoint'))
        .set(auth)
        .send({ delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: receiverUrl }, events_requested: [CAEP + 'session-revoked'] })
        .expect(201);
      const id = created.body.stream_id;
      expect(created.body.iss).toBe(issuer);
      await request(t.app).get(path('configuration_endpoint')).query({ stream_id: id }).set(auth).expect(200);
      await request(t.app).get(path('status_endpoint')).query({ stream_id: id }).set(auth).expect(200);
      await request(t.app).post(path('add_subject_endpoint')).set(auth).send({ stream_id: id, subject: { format: 'email', email: 'alice@example.com' } }).expect(200);
      await request(t.app).post(path('remove_subject_endpoint')).set(auth).send({ stream_id: id, subject: { format: 'email', email: 'alice@example.com' } }).expect(204);
      await request(t.app).post(path('verification_endpoint')).set(auth).send({ stream_id: id }).expect(204);
      await request(t.app).delete(path('configuration_endpoint')).query({ stream_id: id }).set(auth).expect(204);
      await request(t.app).get('/ssf/jwks.json').expect(200); // a proxy that strips the prefix still reaches them
    } finally {
      await t.close();
    }
  });

  test('management needs a token and valid bodies; nothing is created on bad input', async () => {
    expect((await request(h.app).post('/ssf/streams').send({})).status).toBe(401);
    const bad = await request(h.app).post('/ssf/streams').set(auth).send({ delivery: { method: 'urn:ietf:rfc:8936', endpoint_url: 'nope' }, events_requested: 'all' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_input');
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['/delivery/method', '/delivery/endpoint_url', '/events_requested']));
    expect((await request(h.app).get('/ssf/streams').set(auth)).body).toHaveLength(1);
    expect((await request(h.app).post('/ssf/status').set(auth).send({ stream_id: 'nope', status: 'paused' })).status).toBe(404);
  });
});
