// The generic signed MDM webhook inside the real app: HMAC authentication, device writes, and
// api.md error bodies for every kind of bad input, none of which changes stored state.
import request from 'supertest';
import { signWebhook } from '../../../src/adapters/mdm/hmac';
import { API_TOKEN, harness, type Harness } from '../helpers';

const SECRET = 'mdm-secret';
const PATH = '/v1/adapters/mdm/webhook';
let h: Harness;

beforeEach(async () => {
  h = await harness({ TETHER_MDM_WEBHOOK_SECRET: SECRET });
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
});
afterEach(() => h.close());

// Signed as an MDM signs a delivery (hmac.ts); `headers` null sends none, or give others.
function post(body: string, headers: Record<string, string> | null = signWebhook(SECRET, body), contentType = 'application/json') {
  const req = request(h.app).post(PATH).set('Content-Type', contentType);
  if (headers !== null) req.set(headers);
  return req.send(body);
}

const device = (extra: Record<string, unknown> = {}) => ({
  id: 'mac-123',
  owner: 'alice@example.com',
  enrolled: true,
  compliant: true,
  encrypted: true,
  platform: 'macos',
  os_version: '14.6.1',
  ownership: 'corporate',
  observed_at: '2026-11-25T10:00:00Z',
  ...extra,
});

test('a signed device is stored with its owner resolved from an alias and its source', async () => {
  const res = await post(JSON.stringify({ device: device() }));
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('stored');
  expect(h.ctx.store.getDevice('mac-123')).toMatchObject({ owner: 'alice', owner_resolved: true, compliant: true, source: 'mdm', observed_at: '2026-11-25T10:00:00Z' });
  const list = await request(h.app).get('/v1/adapters').set('Authorization', `Bearer ${API_TOKEN}`);
  const mdm = list.body.adapters.find((a: { name: string }) => a.name === 'mdm-webhook');
  expect(mdm).toMatchObject({ state: 'OK' });
  expect(mdm.last_success).not.toBeNull();
});

test('a non-compliant update flips the stored device; a delete event removes it', async () => {
  await post(JSON.stringify({ device: device() })).expect(200);
  await post(JSON.stringify({ device: device({ compliant: false, observed_at: '2026-11-25T11:00:00Z' }) })).expect(200);
  expect(h.ctx.store.getDevice('mac-123')!.compliant).toBe(false);
  await post(JSON.stringify({ event: 'deleted', device: { id: 'mac-123' } })).expect(200);
  expect(h.ctx.store.getDevice('mac-123')).toBeUndefined();
});

test('a delivery replayed byte for byte is a duplicate: it cannot undo a later report', async () => {
  const compliantBody = JSON.stringify({ device: device({ observed_at: undefined }) });
  const captured = signWebhook(SECRET, compliantBody, Math.floor(Date.now() / 1000) - 60);
  await post(compliantBody, captured).expect(200);
  await post(JSON.stringify({ device: device({ compliant: false, observed_at: undefined }) })).expect(200);
  const replay = await post(compliantBody, captured);
  expect(replay.status).toBe(200);
  expect(replay.body).toEqual({ status: 'duplicate' });
  expect(h.ctx.store.getDevice('mac-123')!.compliant).toBe(false);
});

test('without observed_at a device is observed at its signed send time, so deliveries apply in send order', async () => {
  const now = Math.floor(Date.now() / 1000);
  const later = JSON.stringify({ device: device({ compliant: false, observed_at: undefined }) });
  const earlier = JSON.stringify({ device: device({ compliant: true, observed_at: undefined }) });
  await post(later, signWebhook(SECRET, later, now - 10)).expect(200);
  expect(h.ctx.store.getDevice('mac-123')!.observed_at).toBe(new Date((now - 10) * 1000).toISOString());
  const res = await post(earlier, signWebhook(SECRET, earlier, now - 20)); // sent first, arrived last
  expect(res.status).toBe(409);
  expect(h.ctx.store.getDevice('mac-123')!.compliant).toBe(false);
});

describe('bad input gets api.md errors and changes nothing', () => {
  test('missing signature → 401 unauthorized', async () => {
    const res = await post(JSON.stringify({ device: device() }), null);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
    expect(h.ctx.store.getDevice('mac-123')).toBeUndefined();
  });
  test('signature by another secret, or over another body → 401', async () => {
    const body = JSON.stringify({ device: device() });
    expect((await post(body, signWebhook('other', body))).status).toBe(401);
    expect((await post(body, signWebhook(SECRET, body + ' '))).status).toBe(401);
    expect((await post(body, { ...signWebhook(SECRET, body), 'X-Tether-Signature': 'sha256=zz' })).status).toBe(401);
    expect(h.ctx.store.getDevice('mac-123')).toBeUndefined();
  });
  test('a timestamp missing, not the signed one, or more than 5 minutes off → 401 naming the header', async () => {
    const body = JSON.stringify({ device: device() });
    const signed = signWebhook(SECRET, body);
    const { 'X-Tether-Timestamp': _t, ...noTime } = signed;
    expect((await post(body, noTime)).body.message).toMatch(/X-Tether-Timestamp/);
    expect((await post(body, { ...signed, 'X-Tether-Timestamp': String(Number(signed['X-Tether-Timestamp']) - 1) })).status).toBe(401);
    const old = signWebhook(SECRET, body, Math.floor(Date.now() / 1000) - 301);
    const res = await post(body, old);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/X-Tether-Timestamp is 30\d s from this server's clock/);
    expect(h.ctx.store.getDevice('mac-123')).toBeUndefined();
  });
  test('malformed JSON (signed) → 400 invalid_input', async () => {
    const res = await post('{"device": {');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_input');
  });
  test('wrong schema → 400 naming every bad field under /device', async () => {
    const res = await post(JSON.stringify({ device: device({ compliant: 'yes', ownership: 'stolen' }) }));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_input');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/device/compliant', '/device/ownership']));
    expect(h.ctx.store.getDevice('mac-123')).toBeUndefined();
  });
  test('no device object or no id → 400', async () => {
    expect((await post(JSON.stringify({ devices: [] }))).body.errors[0].path).toBe('/device');
    expect((await post(JSON.stringify({ device: { owner: 'alice' } }))).body.errors[0].path).toBe('/device/id');
  });
  test('an older observed_at than stored → 409 stale_update, stored record unchanged', async () => {
    await post(JSON.stringify({ device: device({ compliant: false, observed_at: '2026-11-25T12:00:00Z' }) })).expect(200);
    const res = await post(JSON.stringify({ device: device({ compliant: true, observed_at: '2026-11-25T09:00:00Z' }) }));
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('stale_update');
    expect(h.ctx.store.getDevice('mac-123')!.compliant).toBe(false);
  });
  test('deleting an unknown device → 404 not_found', async () => {
    const res = await post(JSON.stringify({ event: 'deleted', device: { id: 'nope' } }));
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });
});
