// The generic signed MDM webhook inside the real app: HMAC authentication, device writes, and
// api.md error bodies for every kind of bad input, none of which changes stored state.
import request from 'supertest';
import { signBody } from '../../../src/adapters/mdm/hmac';
import { API_TOKEN, harness, type Harness } from '../helpers';

const SECRET = 'mdm-secret';
const PATH = '/v1/adapters/mdm/webhook';
let h: Harness;

beforeEach(async () => {
  h = await harness({ TETHER_MDM_WEBHOOK_SECRET: SECRET });
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
});
afterEach(() => h.close());

function post(body: string, signature: string | null = signBody(SECRET, body), contentType = 'application/json') {
  const req = request(h.app).post(PATH).set('Content-Type', contentType);
  if (signature !== null) req.set('X-Tether-Signature', signature);
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

describe('bad input gets api.md errors and changes nothing', () => {
  test('missing signature → 401 unauthorized', async () => {
    const res = await post(JSON.stringify({ device: device() }), null);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
    expect(h.ctx.store.getDevice('mac-123')).toBeUndefined();
  });
  test('signature by another secret, or over another body → 401', async () => {
    const body = JSON.stringify({ device: device() });
    expect((await post(body, signBody('other', body))).status).toBe(401);
    expect((await post(body, signBody(SECRET, body + ' '))).status).toBe(401);
    expect((await post(body, 'sha256=zz')).status).toBe(401);
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
