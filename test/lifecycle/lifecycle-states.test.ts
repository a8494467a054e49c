// Lifecycle states (decision-model §3) derived by the shipped Rego through the real engine, kept
// with since-when; transitions emit ready_for_activation and drift events; the drift report and
// the per-state metric follow; the safety-net sweep also catches time-driven changes (grace ending).
import { Metrics } from '../../src/api/metrics';
import { Decider } from '../../src/engine/decider';
import { LifecycleService } from '../../src/lifecycle/service';
import { openSqliteStore, type StateStore } from '../../src/state/store';
import { shippedEngine, TestEngines } from '../policies/shipped-policies';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

const T0 = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;
let now = T0;
let store: StateStore;
let lifecycle: LifecycleService;
let decider: Decider;
let engines: TestEngines;
let metrics: Metrics;

beforeAll(async () => {
  engines = new TestEngines(await shippedEngine());
});

beforeEach(() => {
  now = T0;
  store = openSqliteStore({ path: ':memory:', now: () => new Date(now) });
  metrics = new Metrics();
  decider = new Decider({ store, engines, now: () => now, statusSince: (id) => lifecycle.statusSince(id) });
  lifecycle = new LifecycleService({ store, engine: () => decider.engine(), policyData: () => engines.baseData(), now: () => now, metrics });
  store.putSubscription({ id: 'all', url: 'http://127.0.0.1:9/', secret: '0123456789abcdef', events: ['ready_for_activation', 'drift'] });
});
afterEach(async () => {
  await lifecycle.stop();
  decider.close();
  store.close();
});

const events = () =>
  (store.db.prepare('SELECT body FROM lifecycle_outbox ORDER BY seq').all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as { type: string; identity: string; state: string; reasons: string[] });
const device = (fields: Record<string, unknown> = {}) => ({ owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: new Date(now - HOUR).toISOString(), ...fields });

test('onboarding: pending → ready_for_activation (event) → healthy', () => {
  store.putIdentity('alice', { status: 'provisioned', proofed: true });
  expect(lifecycle.tracker.refresh('alice')?.state).toBe('pending');
  store.putDevice('mac-1', device());
  lifecycle.flushRefresh();
  const ready = lifecycle.tracker.refresh('alice')!;
  expect(ready.state).toBe('ready_for_activation');
  expect(ready.since).toBe(new Date(T0).toISOString());
  expect(ready.devices.map((d) => d.id)).toEqual(['mac-1']);
  expect(events()).toEqual([expect.objectContaining({ type: 'ready_for_activation', identity: 'alice', state: 'ready_for_activation' })]);
  // The same activation the lifecycle announced is what `activate` allows.
  expect(decider.decide({ action: 'activate', subject: 'alice' }).allow).toBe(true);
  now += HOUR;
  store.putIdentity('alice', { status: 'active', proofed: true });
  const healthy = lifecycle.tracker.refresh('alice')!;
  expect(healthy).toMatchObject({ state: 'healthy', drift: false, since: new Date(now).toISOString() });
});

test('a device going non-compliant → active_noncompliant, a drift event and the drift report', () => {
  store.putIdentity('alice', { status: 'active', proofed: true });
  store.putDevice('mac-1', device());
  lifecycle.flushRefresh();
  now += HOUR;
  store.putDevice('mac-1', device({ compliant: false }));
  lifecycle.flushRefresh();
  expect(events().filter((e) => e.type === 'drift')).toEqual([expect.objectContaining({ identity: 'alice', state: 'active_noncompliant', reasons: ['no_compliant_device'] })]);
  expect(lifecycle.tracker.drift()).toEqual([{ identity: 'alice', state: 'active_noncompliant', kind: 'risk', since: new Date(now).toISOString(), reasons: ['no_compliant_device'] }]);
});

test('offboarding incomplete: deprovisioned with an enrolled device is drift; offboarded once unenrolled', () => {
  store.putIdentity('alice', { status: 'deprovisioned' });
  store.putDevice('mac-1', device());
  expect(lifecycle.tracker.refresh('alice')).toMatchObject({ state: 'enrolled_not_active', drift: true, reasons: ['offboarding_incomplete'] });
  store.putDevice('mac-1', device({ enrolled: false }));
  expect(lifecycle.tracker.refresh('alice')?.state).toBe('offboarded');
  expect(lifecycle.tracker.drift()).toEqual([]);
});

test('time alone moves states: the (safety-net) sweep also finds the end of the enrollment grace', async () => {
  store.putIdentity('alice', { status: 'active' });
  await lifecycle.sweep();
  expect(lifecycle.tracker.refresh('alice')?.state).toBe('active_in_grace');
  now += 4 * DAY;
  await lifecycle.sweep();
  expect(lifecycle.tracker.drift().map((d) => [d.identity, d.state])).toEqual([['alice', 'active_unenrolled']]);
  expect(await metrics.text()).toMatch(/tether_identities_by_lifecycle_state\{state="active_unenrolled"\} 1/);
});

test('a provisioned identity with a non-qualifying device past the tolerance is onboarding drift', () => {
  store.putIdentity('alice', { status: 'provisioned', proofed: false });
  store.putDevice('mac-1', device());
  expect(lifecycle.tracker.refresh('alice')?.state).toBe('pending');
  now += 4 * DAY;
  store.putDevice('mac-1', device());
  expect(lifecycle.tracker.refresh('alice')).toMatchObject({ state: 'enrolled_not_active', reasons: ['onboarding_incomplete'] });
});

test('status_since is tracked from status transitions', () => {
  store.putIdentity('alice', { status: 'provisioned' });
  expect(lifecycle.statusSince('alice')).toBe(new Date(T0).toISOString());
  now += DAY;
  store.putIdentity('alice', { status: 'provisioned', proofed: true });
  expect(lifecycle.statusSince('alice')).toBe(new Date(T0).toISOString());
  store.putIdentity('alice', { status: 'active' });
  expect(lifecycle.statusSince('alice')).toBe(new Date(T0 + DAY).toISOString());
});

test('a new identity starts its status at observed_at with one write and no read; a row left from before is updated as a transition', () => {
  const tracker = (lifecycle as unknown as { tracker: { stmts: Record<string, { run: (...a: unknown[]) => unknown; get: (...a: unknown[]) => unknown }> } }).tracker;
  const runs: string[] = [];
  for (const [name, st] of Object.entries(tracker.stmts)) {
    const run = st.run.bind(st);
    const get = st.get.bind(st);
    st.run = (...a) => (runs.push(name), run(...a));
    st.get = (...a) => (runs.push(name), get(...a));
  }
  store.putIdentity('bob', { status: 'provisioned', observed_at: new Date(T0 - HOUR).toISOString() });
  expect(runs).toEqual(['insertStatus']);
  expect(lifecycle.statusSince('bob')).toBe(new Date(T0 - HOUR).toISOString());
  // A row the store's delete did not remove (the lifecycle was off then): the new record is a transition.
  store.db.prepare("INSERT INTO lifecycle_identities (identity, status, status_since) VALUES ('carol', 'suspended', ?)").run(new Date(T0 - DAY).toISOString());
  runs.length = 0;
  store.putIdentity('carol', { status: 'active', observed_at: new Date(T0 - HOUR).toISOString() });
  expect(runs).toEqual(['insertStatus', 'get', 'updateStatus']);
  expect(lifecycle.statusSince('carol')).toBe(new Date(T0).toISOString());
});

test('no policy loaded: refresh answers undefined instead of guessing', () => {
  store.putIdentity('alice', { status: 'active' });
  const saved = engines.engine;
  engines.engine = undefined;
  try {
    expect(lifecycle.tracker.refresh('alice')).toBeUndefined();
  } finally {
    engines.engine = saved;
  }
});

describe('sweep pacing follows TETHER_LIFECYCLE_CATCHUP_PERCENT', () => {
  // A sweep works in ~0.5 ms slices; the rest after each is the catch-up share of a core (0.5 ms at 50%).
  const restsOfSweep = async (catchupPercent: number) => {
    await lifecycle.stop(); // the default service (10%) would pace its own rechecks of these writes
    for (let i = 0; i < 300; i++) store.putIdentity(`u${i}`, { status: 'active' });
    const paced = new LifecycleService({ store, engine: () => decider.engine(), policyData: () => engines.baseData(), now: () => now, catchupPercent });
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      expect(await paced.tracker.sweep()).toBe(true);
      return spy.mock.calls.map((c) => c[1]);
    } finally {
      spy.mockRestore();
      await paced.stop();
    }
  };

  test('at 50% a sweep rests 0.5 ms after each slice', async () => {
    const delays = await restsOfSweep(50);
    expect(delays.filter((d) => d === 0.5).length).toBeGreaterThan(0);
    expect(delays).not.toContain(4.5);
  });

  test('at 100% a sweep runs back to back, with no rests', async () => {
    const delays = await restsOfSweep(100);
    expect(delays).not.toContain(4.5);
    expect(delays.filter((d) => d === 0).length).toBe(0);
  });
});
