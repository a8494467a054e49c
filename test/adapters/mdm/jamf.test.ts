// The Jamf Pro adapter against a local Jamf double: webhook receiver (Basic auth, thin payloads,
// re-read from the API), inventory pull with paging, 401 refresh, 429 Retry-After, and api.md
// errors for bad webhooks that change nothing.
import request from 'supertest';
import { harness, type Harness } from '../helpers';
import { mapJamfComputer, parseJamfWebhook, jamfEpochToIso } from '../../../src/adapters/mdm/jamf-mapping';
import { jamfComputer, jamfMobile, startFakeJamf, type FakeJamf } from './fake-jamf';

let jamf: FakeJamf;
let h: Harness;
const basic = 'Basic ' + Buffer.from('jamf-hook:hook-pass').toString('base64');
const PATH = '/v1/adapters/jamf/webhook';

beforeEach(async () => {
  jamf = await startFakeJamf('jamf-client', 'jamf-secret');
  h = await harness({
    TETHER_JAMF_URL: jamf.url,
    TETHER_JAMF_CLIENT_ID: 'jamf-client',
    TETHER_JAMF_CLIENT_SECRET: 'jamf-secret',
    TETHER_JAMF_WEBHOOK_USER: 'jamf-hook',
    TETHER_JAMF_WEBHOOK_PASSWORD: 'hook-pass',
  });
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  await h.adapters.jamf!['pulling']?.catch(() => undefined); // the start-up pull against an empty Jamf
  Object.assign(h.adapters.jamf!['client'], { sleep: async () => undefined }); // Retry-After waits take no real time here
});
afterEach(async () => {
  await h.close();
  await jamf.close();
});

const hook = (webhookEvent: string, event: Record<string, unknown>) => ({ webhook: { id: 7, name: 'tether', webhookEvent, eventTimestamp: 1667601111000 }, event });

test('ComputerInventoryCompleted (flat) and ComputerCheckIn (nested) re-read the computer from the API', async () => {
  jamf.computers = [jamfComputer('52')];
  const res = await request(h.app).post(PATH).set('Authorization', basic).send(hook('ComputerInventoryCompleted', { jssID: 52, udid: 'UDID-COMPUTER-52', serialNumber: 'C02SERIAL52', deviceName: 'mac-52' }));
  expect(res.status).toBe(200);
  expect(jamf.requests).toContain('GET /api/v1/computers-inventory-detail/52');
  expect(h.ctx.store.getDevice('UDID-COMPUTER-52')).toMatchObject({ owner: 'alice', enrolled: true, compliant: true, encrypted: true, platform: 'macos', os_version: '14.5.0', source: 'jamf' });
  jamf.computers = [jamfComputer('52', { fileVault: 'NOT_ENCRYPTED', lastContact: new Date().toISOString() })];
  await request(h.app).post(PATH).set('Authorization', basic).send(hook('ComputerCheckIn', { computer: { jssID: 52, udid: 'UDID-COMPUTER-52' }, trigger: 'CHECKIN', username: 'alice' })).expect(200);
  expect(h.ctx.store.getDevice('UDID-COMPUTER-52')).toMatchObject({ compliant: false, encrypted: false });
});

test('MobileDeviceEnrolled stores the device; MobileDeviceUnEnrolled unenrolls it', async () => {
  jamf.mobiles = [jamfMobile('9')];
  await request(h.app).post(PATH).set('Authorization', basic).send(hook('MobileDeviceEnrolled', { jssID: 9, udid: 'UDID-MOBILE-9', serialNumber: 'F2LSERIAL9', username: 'alice' })).expect(200);
  expect(h.ctx.store.getDevice('UDID-MOBILE-9')).toMatchObject({ enrolled: true, compliant: true, platform: 'ios', ownership: 'corporate' });
  const un = await request(h.app).post(PATH).set('Authorization', basic).send(hook('MobileDeviceUnEnrolled', { jssID: 9, udid: 'UDID-MOBILE-9' }));
  expect(un.status).toBe(200);
  expect(h.ctx.store.getDevice('UDID-MOBILE-9')).toMatchObject({ enrolled: false, compliant: false });
});

test('smart-group compliance: membership change re-reads the listed computers', async () => {
  await h.close();
  h = await harness({ TETHER_JAMF_URL: jamf.url, TETHER_JAMF_CLIENT_ID: 'jamf-client', TETHER_JAMF_CLIENT_SECRET: 'jamf-secret', TETHER_JAMF_WEBHOOK_TOKEN: 'hook-token', TETHER_JAMF_COMPLIANT_GROUP: 'Compliant Macs' });
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  jamf.computers = [jamfComputer('1', { groups: ['Compliant Macs'] }), jamfComputer('2')];
  await request(h.app).post(PATH).set('Authorization', 'Bearer hook-token').send(hook('SmartGroupComputerMembershipChange', { jssid: 3, name: 'Compliant Macs', smartGroup: true, groupAddedDevicesIds: [1], groupRemovedDevicesIds: [2] })).expect(200);
  expect(h.ctx.store.getDevice('UDID-COMPUTER-1')!.compliant).toBe(true);
  expect(h.ctx.store.getDevice('UDID-COMPUTER-2')!.compliant).toBe(false);
});

test('inventory pull pages through computers-inventory; 401 refreshes the token; 429 waits', async () => {
  jamf.computers = Array.from({ length: 5 }, (_, i) => jamfComputer(String(i + 1)));
  h.adapters.jamf!['cfg'].pageSize = 2;
  jamf.revokeTokens();
  jamf.throttleNext = 1;
  const before = jamf.tokenRequests;
  const r = await h.adapters.jamf!.pull();
  expect(r).toEqual({ seen: 5, written: 5, unchanged: 0, skipped: 0, stale: 0 });
  expect(jamf.tokenRequests).toBe(before + 1);
  expect(jamf.requests.filter((q) => q.startsWith('GET /api/v1/computers-inventory?')).length).toBe(1 + 1 + 1 + 3); // start-up pull, the 401, the 429, then 3 pages
  expect(jamf.requests.some((q) => q.includes('section=DISK_ENCRYPTION') && q.includes('page-size=2'))).toBe(true);
  expect(h.adapters.jamf!.status().state).toBe('OK');
});

describe('bad webhooks: api.md errors, nothing changes', () => {
  test('no or wrong credentials → 401', async () => {
    jamf.computers = [jamfComputer('52')];
    expect((await request(h.app).post(PATH).send(hook('ComputerAdded', { jssID: 52 }))).status).toBe(401);
    const wrong = 'Basic ' + Buffer.from('jamf-hook:nope').toString('base64');
    const res = await request(h.app).post(PATH).set('Authorization', wrong).send(hook('ComputerAdded', { jssID: 52 }));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
    expect(h.ctx.store.getDevice('UDID-COMPUTER-52')).toBeUndefined();
  });
  test('malformed JSON or XML → 400 invalid_input', async () => {
    const res = await request(h.app).post(PATH).set('Authorization', basic).set('Content-Type', 'text/xml').send('<JSSEvent><webhook/></JSSEvent>');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_input');
  });
  test('not a Jamf webhook → 400 naming the field', async () => {
    const res = await request(h.app).post(PATH).set('Authorization', basic).send({ device: { id: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('/webhook/webhookEvent');
    expect((await request(h.app).post(PATH).set('Authorization', basic).send(hook('ComputerAdded', { udid: 'x' }))).body.errors[0].path).toBe('/event/jssID');
  });
  test('unknown device → 404 (Jamf has no such computer; Tether has no such mobile)', async () => {
    expect((await request(h.app).post(PATH).set('Authorization', basic).send(hook('ComputerAdded', { jssID: 999 }))).status).toBe(404);
    expect((await request(h.app).post(PATH).set('Authorization', basic).send(hook('MobileDeviceUnEnrolled', { jssID: 5, udid: 'ghost' }))).status).toBe(404);
    expect(h.ctx.store.counts().device).toBe(0);
  });
  test('events Tether does not act on are acknowledged', async () => {
    const res = await request(h.app).post(PATH).set('Authorization', basic).send(hook('JSSStartup', { hostAddress: '10.0.0.1', institution: 'Acme' }));
    expect(res.body).toEqual({ status: 'ignored', event: 'JSSStartup' });
  });
});

test('mapping details: 10- and 13-digit epochs, compliance rule, no user → skipped', () => {
  expect(jamfEpochToIso(1667601111)).toBe(jamfEpochToIso(1667601111000));
  expect(mapJamfComputer(jamfComputer('1', { sip: 'DISABLED' }))).toMatchObject({ ok: true, record: { compliant: false, encrypted: true } });
  expect(mapJamfComputer(jamfComputer('1', { managed: false }))).toMatchObject({ ok: true, record: { enrolled: false, compliant: false } });
  expect(mapJamfComputer({ ...jamfComputer('1'), userAndLocation: {} })).toMatchObject({ ok: false, reason: 'no user assigned in Jamf' });
  expect(parseJamfWebhook(hook('ComputerCheckIn', { computer: { jssID: 4 } }))).toEqual({ kind: 'refresh', device: 'computer', jamfIds: ['4'] });
});
