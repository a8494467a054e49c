// Every revocation trigger of decision-model §4 queues a revocation event in the durable outbox in
// the same transaction as the write; rejected writes queue nothing; expiry is found by the sweep.
import { LifecycleService } from '../../src/lifecycle/service';
import { openSqliteStore, type StateStore } from '../../src/state/store';

const T0 = Date.parse('2026-03-01T12:00:00Z');
let now = T0;
let store: StateStore;
let lifecycle: LifecycleService;

type Row = { event_type: string; body: string; subscription_id: string };
const events = () =>
  (store.db.prepare('SELECT event_type, body, subscription_id FROM lifecycle_outbox ORDER BY seq').all() as Row[]).map((r) => ({
    sub: r.subscription_id,
    ...(JSON.parse(r.body) as { type: string; identity: string | null; reason: string; reasons: string[] }),
  }));
const revocations = () => events().filter((e) => e.type === 'revocation');

beforeEach(() => {
  now = T0;
  store = openSqliteStore({ path: ':memory:', now: () => new Date(now) });
  // No engine: triggers do not depend on the policies.
  lifecycle = new LifecycleService({ store, engine: () => undefined, now: () => now });
  store.putSubscription({ id: 'sub-r', url: 'http://127.0.0.1:9/hook', secret: '0123456789abcdef', events: ['revocation'] });
  store.putSubscription({ id: 'sub-other', url: 'http://127.0.0.1:9/other', secret: '0123456789abcdef', events: ['ready_for_activation'] });
  store.putIdentity('alice', { status: 'active', aliases: ['alice@example.com'] });
  store.putDevice('mac-1', { owner: 'alice@example.com', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true });
});
afterEach(async () => {
  await lifecycle.stop();
  store.close();
});

test('creating state removes no access: no event', () => {
  expect(events()).toEqual([]);
});

test('identity leaves active → revocation identity_not_active, only to revocation subscribers', () => {
  store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] });
  const ev = revocations();
  expect(ev).toHaveLength(1);
  expect(ev[0]).toMatchObject({ sub: 'sub-r', identity: 'alice', reason: 'identity_not_active', status: 'suspended' });
  expect(events().every((e) => e.sub === 'sub-r')).toBe(true);
});

test('identity deleted → revocation identity_deleted', () => {
  store.deleteIdentity('alice');
  expect(revocations()[0]).toMatchObject({ identity: 'alice', reason: 'identity_deleted' });
});

test('risk tier raised → revocation identity_risk_raised', () => {
  store.putIdentity('alice', { status: 'active', risk_tier: 'privileged', aliases: ['alice@example.com'] });
  expect(revocations()[0]).toMatchObject({ identity: 'alice', reasons: ['identity_risk_raised'] });
});

test.each([
  [{ compliant: false }, ['device_not_compliant']],
  [{ enrolled: false }, ['device_not_enrolled']],
  [{ encrypted: false }, ['device_not_encrypted']],
  [{ ownership: 'byod' }, ['device_ownership_changed']],
  [{ enrolled: false, compliant: false }, ['device_not_enrolled', 'device_not_compliant']],
])('device change %j → revocation %j for its owner', (change, reasons) => {
  store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, ...change });
  const ev = revocations();
  expect(ev).toHaveLength(1);
  expect(ev[0]).toMatchObject({ identity: 'alice', reasons, device: 'mac-1', device_was_compliant: true });
});

test('device owner change → revocation for the previous owner', () => {
  store.putIdentity('bob', { status: 'active' });
  store.putDevice('mac-1', { owner: 'bob', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true });
  expect(revocations()[0]).toMatchObject({ identity: 'alice', reasons: ['device_owner_changed'] });
});

test('a device enrolled before its owner existed, bound when the owner is created, is not a revocation', () => {
  store.putDevice('nb-1', { owner: 'newbie@example.com', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true });
  store.putIdentity('newbie', { status: 'provisioned', aliases: ['newbie@example.com'] });
  expect(store.getDevice('nb-1')).toMatchObject({ owner: 'newbie', owner_resolved: true });
  expect(revocations()).toEqual([]);
});

test('device deleted → revocation device_deleted', () => {
  store.deleteDevice('mac-1');
  expect(revocations()[0]).toMatchObject({ identity: 'alice', reason: 'device_deleted', device: 'mac-1' });
});

test('a device getting better is not a revocation', () => {
  store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, platform: 'macos' });
  expect(revocations()).toEqual([]);
});

test('a rejected (stale) write queues nothing', () => {
  store.putDevice('mac-2', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, version: 5 });
  expect(() => store.putDevice('mac-2', { owner: 'alice', ownership: 'corporate', enrolled: false, version: 3 })).toThrow();
  expect(revocations()).toEqual([]);
});

test('a listener failure aborts the write and its event together (same transaction)', () => {
  const off = store.onChange(() => {
    throw new Error('boom');
  });
  expect(() => store.putIdentity('alice', { status: 'suspended', aliases: ['alice@example.com'] })).toThrow();
  off();
  expect(revocations()).toEqual([]);
  expect(store.getIdentity('alice')?.status).toBe('active');
});

test('exception deleted before expiry → exception_ended; expiry → exception_expired once', () => {
  const e1 = store.createException({ identity: 'alice', waives: ['device_not_compliant'], scope: { apps: ['email'] }, reason: 'r', approved_by: 'boss', expires_at: new Date(T0 + 3600_000).toISOString() });
  store.createException({ identity: 'alice', waives: ['device_not_compliant'], scope: { apps: ['email'] }, reason: 'r', approved_by: 'boss', expires_at: new Date(T0 + 7200_000).toISOString() });
  store.deleteException(e1.id);
  expect(revocations().map((e) => e.reason)).toEqual(['exception_ended']);
  expect(lifecycle.sweepDeadlines()).toBe(0);
  now = T0 + 7200_000;
  expect(lifecycle.sweepDeadlines()).toBe(1);
  expect(lifecycle.sweepDeadlines()).toBe(0);
  expect(revocations().map((e) => e.reason)).toEqual(['exception_ended', 'exception_expired']);
});

test('break-glass window closed → break_glass_ended; expiry → break_glass_expired', () => {
  store.putIdentity('bg', { status: 'active', type: 'break_glass' });
  store.openBreakGlass('bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
  store.closeBreakGlass('bg');
  expect(revocations().map((e) => [e.identity, e.reason])).toEqual([['bg', 'break_glass_ended']]);
  store.openBreakGlass('bg', { minutes: 30, reason: 'outage', approved_by: 'boss' });
  now = T0 + 31 * 60_000;
  expect(lifecycle.sweepDeadlines()).toBe(1);
  expect(revocations().map((e) => e.reason)).toEqual(['break_glass_ended', 'break_glass_expired']);
});

test('app made stricter → revocation with the app and no identity', () => {
  store.putApp('crm', { sensitivity: 'low', allow_service: true });
  store.putApp('crm', { sensitivity: 'high' });
  expect(revocations()[0]).toMatchObject({ identity: null, app: 'crm', reasons: ['app_sensitivity_raised', 'app_service_disallowed'] });
});
