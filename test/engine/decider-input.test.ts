// composeInput / composePolicyData: the policy input is built from the store (aliases resolved,
// times as integer ns, exceptions normalized, break-glass window) and stored apps join data.apps.
import { composeInput, composePolicyData, toNs } from '../../src/engine/decision-input';
import { openSqliteStore, type StateStore } from '../../src/state/store';

const NOW = Date.parse('2026-03-01T12:00:00Z');
let store: StateStore;

beforeEach(() => {
  store = openSqliteStore({ path: ':memory:', now: () => new Date(NOW) });
  store.putIdentity('bg', { status: 'active', type: 'break_glass', aliases: ['bg@example.com'], activated_at: '2026-01-01T00:00:00Z' });
  store.putDevice('d1', { owner: 'bg@example.com', ownership: 'byod', enrolled: true, compliant: false, observed_at: '2026-03-01T11:00:00Z' });
  store.putDevice('d2', { owner: 'someone-else', ownership: 'corporate', enrolled: true, compliant: true });
});
afterEach(() => store.close());

test('resolves the subject alias and lists the devices it owns', () => {
  const input = composeInput(store, { action: 'access', subject: 'bg@example.com', device: 'd2', resource: { app: 'email' } }, { nowMs: NOW });
  expect(input.subject).toMatchObject({ id: 'bg', status: 'active', type: 'break_glass', activated_at_ns: Date.parse('2026-01-01T00:00:00Z') * 1e6 });
  expect(input.owned_devices.map((d) => d.id)).toEqual(['d1']);
  expect(input.owned_devices[0]).toMatchObject({ owner: 'bg', ownership: 'byod', observed_at_ns: Date.parse('2026-03-01T11:00:00Z') * 1e6 });
  expect(input.device).toMatchObject({ id: 'd2', owner: 'someone-else', observed_at_ns: null });
  expect(input).toMatchObject({ action: 'access', device_id: 'd2', app: 'email', now_ns: NOW * 1e6 });
});

test('unknown subject and device become null; wrong types are treated as absent', () => {
  const input = composeInput(store, { action: 7, subject: { id: 'bg' }, device: 'nope', resource: 'x' }, { nowMs: NOW });
  expect(input).toMatchObject({ action: null, subject: null, device_id: 'nope', device: null, owned_devices: [], exceptions: [], break_glass: null, app: null });
});

test('unexpired exceptions are normalized and the break-glass window is in ns', () => {
  store.createException({ identity: 'bg', waives: ['device_not_compliant'], scope: { max_sensitivity: 'moderate' }, reason: 'r', approved_by: 'boss', expires_at: '2026-03-02T12:00:00Z' });
  store.openBreakGlass('bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
  const input = composeInput(store, { action: 'access', subject: 'bg' }, { nowMs: NOW });
  expect(input.exceptions).toHaveLength(1);
  expect(input.exceptions[0]).toMatchObject({ identity: 'bg', waives: ['device_not_compliant'], scope: { apps: [], max_sensitivity: 'moderate' }, expires_at_ns: Date.parse('2026-03-02T12:00:00Z') * 1e6 });
  expect(input.break_glass).toMatchObject({ identity: 'bg', opened_at_ns: NOW * 1e6, expires_at_ns: (NOW + 30 * 60_000) * 1e6 });
});

test('status_since comes from the tracker when given, else activated_at for active accounts', () => {
  const a = composeInput(store, { action: 'access', subject: 'bg' }, { nowMs: NOW });
  expect(a.subject?.status_since_ns).toBe(toNs('2026-01-01T00:00:00Z'));
  const b = composeInput(store, { action: 'access', subject: 'bg' }, { nowMs: NOW, statusSince: () => '2026-02-01T00:00:00Z' });
  expect(b.subject?.status_since_ns).toBe(toNs('2026-02-01T00:00:00Z'));
});

test('stored apps are merged over the shipped catalog', () => {
  store.putApp('email', { sensitivity: 'high', admin: true });
  store.putApp('crm', { sensitivity: 'low', allow_service: true });
  const data = composePolicyData({ config: { x: 1 }, apps: { email: { sensitivity: 'moderate' }, wiki: { sensitivity: 'low' } } }, store.listApps());
  expect(data).toEqual({
    config: { x: 1 },
    apps: { email: { sensitivity: 'high', admin: true }, wiki: { sensitivity: 'low' }, crm: { sensitivity: 'low', allow_service: true } },
  });
});
