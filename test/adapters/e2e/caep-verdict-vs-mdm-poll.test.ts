// A CAEP device-compliance-change to not-compliant stands until the MDM reports an observation
// newer than the verdict: the next Intune poll / Jamf pull carrying the same (or an older) sync
// time is skipped as stale (not an adapter error); a newer sync replaces the verdict.
import request from 'supertest';
import type { CryptoKey, JWK } from 'jose';
import { harness, type Harness } from '../helpers';
import { complianceVerdictSet, transmitterKey } from '../ssf/transmitter-key';
import { managedDevice, startFakeGraph, type FakeGraph } from '../mdm/fake-graph';
import { jamfComputer, startFakeJamf, type FakeJamf } from '../mdm/fake-jamf';

const ISS = 'https://idp.example.com/';
const AUD = 'https://tether.example.com/';
const TENANT = 'contoso.onmicrosoft.com';

let key: CryptoKey;
let jwk: JWK;
let graph: FakeGraph;
let jamf: FakeJamf;
let h: Harness;

beforeAll(async () => {
  ({ key, jwk } = await transmitterKey());
});

beforeEach(async () => {
  graph = await startFakeGraph(TENANT, 'app-id', 'app-secret');
  jamf = await startFakeJamf('jamf-client', 'jamf-secret');
  h = await harness({
    TETHER_SSF_RECEIVER_ISSUER: ISS,
    TETHER_SSF_RECEIVER_JWKS: JSON.stringify({ keys: [jwk] }),
    TETHER_SSF_RECEIVER_AUDIENCE: AUD,
    TETHER_INTUNE_TENANT_ID: TENANT,
    TETHER_INTUNE_CLIENT_ID: 'app-id',
    TETHER_INTUNE_CLIENT_SECRET: 'app-secret',
    TETHER_INTUNE_GRAPH_URL: graph.url,
    TETHER_INTUNE_AUTHORITY_URL: graph.url,
    TETHER_JAMF_URL: jamf.url,
    TETHER_JAMF_CLIENT_ID: 'jamf-client',
    TETHER_JAMF_CLIENT_SECRET: 'jamf-secret',
  });
  h.ctx.store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  await h.adapters.intune!['polling']?.catch(() => undefined); // start-up poll against an empty Graph
  await h.adapters.jamf!['pulling']?.catch(() => undefined);
});
afterEach(async () => {
  await h.close();
  await graph.close();
  await jamf.close();
});

let seq = 0;
async function pushVerdict(deviceId: string, status: 'compliant' | 'not-compliant', eventTimestampMs: number): Promise<void> {
  const set = await complianceVerdictSet(key, { iss: ISS, aud: AUD, jti: `v-${++seq}-${Date.now()}`, deviceId, status, eventTimestampS: Math.floor(eventTimestampMs / 1000) });
  await request(h.app).post('/v1/adapters/ssf/events').set('Content-Type', 'application/secevent+jwt').send(set).expect(202);
}
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('Intune', () => {
  test('a poll with the same lastSyncDateTime keeps the CAEP verdict; a newer sync wins', async () => {
    const sync = Date.now() - 10 * 60_000;
    graph.devices = [managedDevice('d1', { userPrincipalName: 'alice@example.com', lastSyncDateTime: iso(sync) })];
    const a = h.adapters.intune!;
    expect(await a.poll()).toMatchObject({ written: 1 });
    expect(h.ctx.store.getDevice('d1')!.compliant).toBe(true);

    await pushVerdict('d1', 'not-compliant', Date.now() - 60_000);
    expect(h.ctx.store.getDevice('d1')).toMatchObject({ compliant: false, source: 'caep' });

    const r = await a.poll(); // Intune has nothing new: the same lastSyncDateTime
    expect(r).toMatchObject({ written: 0, stale: 1, skipped: 0 });
    expect(h.ctx.store.getDevice('d1')).toMatchObject({ compliant: false, source: 'caep' });
    expect(a.status().state).toBe('OK'); // a stale answer is not an adapter error

    graph.devices = [managedDevice('d1', { userPrincipalName: 'alice@example.com', lastSyncDateTime: iso(Date.now()) })];
    expect(await a.poll()).toMatchObject({ written: 1, stale: 0 });
    expect(h.ctx.store.getDevice('d1')).toMatchObject({ compliant: true, source: 'intune' });
  });

  test('a not-compliant verdict older than the last sync still lands and is not undone by that same sync', async () => {
    const sync = Date.now() - 5 * 60_000;
    graph.devices = [managedDevice('d1', { userPrincipalName: 'alice@example.com', lastSyncDateTime: iso(sync) })];
    const a = h.adapters.intune!;
    await a.poll();
    await pushVerdict('d1', 'not-compliant', sync - 3_600_000);
    expect(h.ctx.store.getDevice('d1')!.compliant).toBe(false);
    expect(await a.poll()).toMatchObject({ written: 0, stale: 1 });
    expect(h.ctx.store.getDevice('d1')!.compliant).toBe(false);
  });

  test('a device under a CAEP verdict that vanishes from Intune is still unenrolled', async () => {
    graph.devices = [managedDevice('d1', { userPrincipalName: 'alice@example.com' })];
    const a = h.adapters.intune!;
    await a.poll();
    await pushVerdict('d1', 'not-compliant', Date.now() - 1000);
    graph.devices = [];
    expect((await a.poll()).unenrolled).toBe(1);
    expect(h.ctx.store.getDevice('d1')).toMatchObject({ enrolled: false, compliant: false });
  });
});

describe('Jamf', () => {
  test('a pull with the same lastContactTime keeps the CAEP verdict; a newer contact wins', async () => {
    const contact = Date.now() - 10 * 60_000;
    jamf.computers = [jamfComputer('1', { lastContact: new Date(contact).toISOString() })];
    const j = h.adapters.jamf!;
    expect(await j.pull()).toMatchObject({ written: 1 });
    const id = h.ctx.store.listDevices({ limit: 10 }).items.find((d) => d.source === 'jamf')!.id;
    expect(h.ctx.store.getDevice(id)!.compliant).toBe(true);

    await pushVerdict(id, 'not-compliant', Date.now() - 60_000);
    expect(await j.pull()).toMatchObject({ written: 0, stale: 1, skipped: 0 });
    expect(h.ctx.store.getDevice(id)).toMatchObject({ compliant: false, source: 'caep' });
    expect(j.status().state).toBe('OK');

    jamf.computers = [jamfComputer('1', { lastContact: new Date().toISOString() })];
    expect(await j.pull()).toMatchObject({ written: 1 });
    expect(h.ctx.store.getDevice(id)).toMatchObject({ compliant: true, source: 'jamf' });
  });
});
