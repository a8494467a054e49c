// The Intune poller against a local Graph double: token, paging, Retry-After on 429, token refresh
// on 401, the managedDevice mapping, vanished devices, and status when the source stalls.
import { openSqliteStore, type StateStore } from '../../../src/state/store';
import { IntuneAdapter } from '../../../src/adapters/mdm/intune';
import { mapManagedDevice } from '../../../src/adapters/mdm/intune-mapping';
import { deviceAliases } from '../../../src/adapters/device-aliases';
import { managedDevice, startFakeGraph, type FakeGraph } from './fake-graph';

const TENANT = 'contoso.onmicrosoft.com';
let graph: FakeGraph;
let store: StateStore;
let slept: number[];

function adapter(extra: Partial<ConstructorParameters<typeof IntuneAdapter>[1]> = {}, now?: () => number) {
  return new IntuneAdapter(
    store,
    { tenantId: TENANT, clientId: 'app-id', clientSecret: 'app-secret', graphBase: graph.url, authorityBase: graph.url, pageSize: 2, sleep: async (ms) => void slept.push(ms), ...extra },
    now,
  );
}

beforeEach(async () => {
  graph = await startFakeGraph(TENANT, 'app-id', 'app-secret');
  store = openSqliteStore({ path: ':memory:' });
  store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  slept = [];
});
afterEach(async () => {
  store.close();
  await graph.close();
});

test('pages through @odata.nextLink with one client-credentials token and writes every device', async () => {
  graph.devices = [managedDevice('d1'), managedDevice('d2', { complianceState: 'noncompliant' }), managedDevice('d3', { managedDeviceOwnerType: 'personal', operatingSystem: 'iOS', isEncrypted: false })];
  const a = adapter();
  const r = await a.poll();
  expect(r).toEqual({ seen: 3, written: 3, unchanged: 0, skipped: 0, stale: 0, unenrolled: 0 });
  const v = store.getDevice('d1')!.version;
  expect(await a.poll()).toMatchObject({ seen: 3, written: 0, unchanged: 3 }); // nothing new: no writes
  expect(store.getDevice('d1')!.version).toBe(v);
  expect(graph.tokenRequests).toEqual([{ client_id: 'app-id', client_secret: 'app-secret', scope: `${graph.url}/.default`, grant_type: 'client_credentials' }]);
  expect(graph.graphRequests).toHaveLength(4);
  expect(graph.graphRequests[0].url).toContain('%24select=id%2CazureADDeviceId');
  expect(store.getDevice('d1')).toMatchObject({ owner: 'alice', compliant: true, encrypted: true, ownership: 'corporate', platform: 'windows', source: 'intune', enrolled: true });
  expect(store.getDevice('d2')!.compliant).toBe(false);
  expect(store.getDevice('d3')).toMatchObject({ ownership: 'byod', platform: 'ios', encrypted: false });
  expect(store.getDevice('d1')!.observed_at).toBe(new Date(Date.parse(graph.devices[0].lastSyncDateTime as string)).toISOString());
  expect(deviceAliases(store).resolve('aad-d1')).toBe('d1');
  expect(a.status().state).toBe('NOT_READY'); // not started: poll() alone does not start the unit
});

test('429 with Retry-After is waited out (the header value honoured), then the page is fetched', async () => {
  graph.devices = [managedDevice('d1'), managedDevice('d2'), managedDevice('d3')];
  graph.throttleRequest = { n: 2, retryAfter: '7' };
  const r = await adapter().poll();
  expect(r.written).toBe(3);
  expect(slept).toEqual([7000]);
  expect(graph.graphRequests).toHaveLength(3);
});

test('a Retry-After longer than the limit fails the poll (status says throttled), nothing written; the next poll recovers', async () => {
  graph.devices = [managedDevice('d1'), managedDevice('d2'), managedDevice('d3')];
  graph.throttleRequest = { n: 1, retryAfter: '3600' };
  const a = adapter();
  await a.start();
  await a['polling']?.catch(() => undefined);
  expect(a.status().state).toBe('WARN');
  expect(a.status().message).toContain('throttled for 3600s');
  expect(store.getDevice('d1')).toBeUndefined();
  expect((await a.poll()).written).toBe(3);
  expect(a.status().state).toBe('OK');
  await a.stop();
});

test('a device that never synced (0001-01-01) is stored with that age, so policy sees it as stale', async () => {
  graph.devices = [managedDevice('d1', { lastSyncDateTime: '0001-01-01T00:00:00Z' })];
  await adapter().poll();
  expect(Date.parse(store.getDevice('d1')!.observed_at!)).toBeLessThan(0);
});

test('a broken Graph page fails the poll: earlier pages stay, nothing is unenrolled, status records it', async () => {
  graph.devices = [managedDevice('d1'), managedDevice('d2'), managedDevice('d3')];
  const a = adapter();
  await a.poll();
  graph.brokenRequest = 4; // the first page of the second poll is fine, the second is not
  graph.devices = [managedDevice('d1', { complianceState: 'noncompliant', lastSyncDateTime: new Date().toISOString() }), managedDevice('d2'), managedDevice('d4')];
  await expect(a.poll()).rejects.toThrow('GET answered non-JSON');
  expect(store.getDevice('d1')!.compliant).toBe(false);
  expect(store.getDevice('d3')!.enrolled).toBe(true); // an incomplete listing never unenrolls
  a['tracker'].markStarted();
  expect(a.status().message).toContain('non-JSON');
});

test('401 on an expired token: one new token, the request retried', async () => {
  graph.devices = [managedDevice('d1')];
  const a = adapter();
  await a.poll();
  graph.revokeTokens();
  graph.devices = [managedDevice('d1', { complianceState: 'noncompliant', lastSyncDateTime: new Date().toISOString() })];
  await a.poll();
  expect(graph.tokenRequests).toHaveLength(2);
  expect(store.getDevice('d1')!.compliant).toBe(false);
});

test('a bad client secret fails the poll; status says so and nothing is written', async () => {
  graph.devices = [managedDevice('d1')];
  graph.badSecret = true;
  let now = Date.now();
  const a = adapter({ intervalMs: 60_000 }, () => now);
  await expect(a.poll()).rejects.toThrow('token endpoint answered HTTP 401');
  expect(store.getDevice('d1')).toBeUndefined();
  a['tracker'].markStarted();
  now += 61_000;
  expect(a.status()).toMatchObject({ state: 'WARN', last_success: null });
  expect(a.status().message).toContain('HTTP 401');
  expect(a.status().message).not.toContain('app-secret');
});

test('a device that disappears from Intune becomes unenrolled; a stalled poller turns WARN then ERROR', async () => {
  let now = Date.now();
  graph.devices = [managedDevice('d1'), managedDevice('d2')];
  const a = adapter({ intervalMs: 60_000 }, () => now);
  await a.start();
  await a['polling'];
  expect(a.status().state).toBe('OK');
  graph.devices = [managedDevice('d1')];
  expect((await a.poll()).unenrolled).toBe(1);
  expect(store.getDevice('d2')!.enrolled).toBe(false);
  await a.stop();
  a['tracker'].markStarted();
  now += 61_000;
  expect(a.status().state).toBe('WARN');
  now += 120_000;
  expect(a.status().state).toBe('ERROR');
});

describe('managedDevice mapping', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  test.each([
    ['compliant', {}, true],
    ['noncompliant', { complianceState: 'noncompliant' }, false],
    ['error', { complianceState: 'error' }, false],
    ['conflict', { complianceState: 'conflict' }, false],
    ['unknown', { complianceState: 'unknown' }, false],
    ['configManager', { complianceState: 'configManager' }, false],
    ['in grace, not expired', { complianceState: 'inGracePeriod', complianceGracePeriodExpirationDateTime: '2026-11-26T00:00:00Z' }, true],
    ['in grace, expired', { complianceState: 'inGracePeriod', complianceGracePeriodExpirationDateTime: '2026-11-24T00:00:00Z' }, false],
    ['jailbroken string "True"', { jailBroken: 'True' }, false],
    ['partner threat high', { partnerReportedThreatState: 'highSeverity' }, false],
  ])('%s → compliant %s', (_n, extra, compliant) => {
    const m = mapManagedDevice(managedDevice('x', extra) as never, now);
    expect(m.ok && m.record.compliant).toBe(compliant);
  });
  test('beta managementState other than managed → not enrolled; unknown owner type → byod; no user → skipped', () => {
    const m = mapManagedDevice(managedDevice('x', { managementState: 'retirePending', managedDeviceOwnerType: 'unknown' }) as never, now);
    expect(m.ok && m.record).toMatchObject({ enrolled: false, ownership: 'byod' });
    const u = mapManagedDevice(managedDevice('x', { userPrincipalName: null, emailAddress: '', userId: null }) as never, now);
    expect(u).toEqual({ ok: false, id: 'x', reason: 'no user (userless or shared device)' });
  });
  test('Graph\'s 0001-01-01 lastSyncDateTime is kept (the device reads as stale, not fresh)', () => {
    const m = mapManagedDevice(managedDevice('x', { lastSyncDateTime: '0001-01-01T00:00:00Z' }) as never, now);
    expect(m.ok && Date.parse(m.record.observed_at as string)).toBeLessThan(0);
  });
});
