// A CAEP device-compliance-change verdict against the generic signed MDM webhook: like an Intune poll
// or a Jamf pull, a delivery whose observed_at is not newer than the verdict's does not undo it
// (409 stale_update, nothing changed); a strictly newer observation replaces it.
import request from 'supertest';
import type { CryptoKey, JWK } from 'jose';
import { signWebhook } from '../../../src/adapters/mdm/hmac';
import { harness, type Harness } from '../helpers';
import { complianceVerdictSet, transmitterKey } from '../ssf/transmitter-key';

const SECRET = 'mdm-secret';
const ISS = 'https://idp.example.com/';
const AUD = 'https://tether.example.com/';

let key: CryptoKey;
let jwk: JWK;
let h: Harness;

beforeAll(async () => {
  ({ key, jwk } = await transmitterKey());
});
beforeEach(async () => {
  h = await harness({
    TETHER_MDM_WEBHOOK_SECRET: SECRET,
    TETHER_SSF_RECEIVER_ISSUER: ISS,
    TETHER_SSF_RECEIVER_JWKS: JSON.stringify({ keys: [jwk] }),
    TETHER_SSF_RECEIVER_AUDIENCE: AUD,
  });
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
});
afterEach(() => h.close());

function deliver(device: Record<string, unknown>) {
  const body = JSON.stringify({ device: { id: 'mac-123', owner: 'alice@example.com', enrolled: true, encrypted: true, ownership: 'corporate', ...device } });
  return request(h.app).post('/v1/adapters/mdm/webhook').set('Content-Type', 'application/json').set(signWebhook(SECRET, body)).send(body);
}

let seq = 0;
async function verdict(status: 'compliant' | 'not-compliant', eventTimestampS: number): Promise<void> {
  const set = await complianceVerdictSet(key, { iss: ISS, aud: AUD, jti: `w-${++seq}-${Date.now()}`, deviceId: 'mac-123', status, eventTimestampS });
  await request(h.app).post('/v1/adapters/ssf/events').set('Content-Type', 'application/secevent+jwt').send(set).expect(202);
}

const nowS = () => Math.floor(Date.now() / 1000);
const iso = (s: number) => new Date(s * 1000).toISOString();

test('a webhook delivery observed at the same time as a CAEP not-compliant verdict is 409 stale_update and the verdict stands', async () => {
  const checkIn = nowS() - 600;
  await deliver({ compliant: true, observed_at: iso(checkIn) }).expect(200);
  const at = nowS() - 60;
  await verdict('not-compliant', at);
  const underVerdict = h.ctx.store.getDevice('mac-123')!;
  expect(underVerdict).toMatchObject({ compliant: false, source: 'caep', observed_at: iso(at) });

  const res = await deliver({ compliant: true, observed_at: iso(at) });
  expect(res.status).toBe(409);
  expect(res.body.code).toBe('stale_update');
  expect(res.body.message).toContain('CAEP compliance verdict');
  expect(h.ctx.store.getDevice('mac-123')).toMatchObject({ compliant: false, source: 'caep', version: underVerdict.version });

  // An older observation is refused as before (the store's own rule).
  expect((await deliver({ compliant: true, observed_at: iso(checkIn + 1) })).body.code).toBe('stale_update');
  expect(h.ctx.store.getDevice('mac-123')!.compliant).toBe(false);
});

test('a webhook delivery observed after the CAEP verdict replaces it', async () => {
  await deliver({ compliant: true, observed_at: iso(nowS() - 600) }).expect(200);
  const at = nowS() - 60;
  await verdict('not-compliant', at);
  const res = await deliver({ compliant: true, observed_at: iso(at + 1) });
  expect(res.status).toBe(200);
  expect(h.ctx.store.getDevice('mac-123')).toMatchObject({ compliant: true, source: 'mdm', observed_at: iso(at + 1) });
});

test('a webhook delivery without observed_at is observed at its signed time, which is newer than an earlier verdict', async () => {
  await deliver({ compliant: true, observed_at: iso(nowS() - 600) }).expect(200);
  await verdict('not-compliant', nowS() - 60);
  await deliver({ compliant: true }).expect(200);
  expect(h.ctx.store.getDevice('mac-123')).toMatchObject({ compliant: true, source: 'mdm' });
});

test('a malformed field is still a 400 naming it, not a 409, under a CAEP verdict', async () => {
  await deliver({ compliant: true, observed_at: iso(nowS() - 600) }).expect(200);
  await verdict('not-compliant', nowS() - 60);
  const res = await deliver({ compliant: 'yes', observed_at: 'yesterday' });
  expect(res.status).toBe(400);
  expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['/device/compliant', '/device/observed_at']));
  expect(h.ctx.store.getDevice('mac-123')).toMatchObject({ compliant: false, source: 'caep' });
});
