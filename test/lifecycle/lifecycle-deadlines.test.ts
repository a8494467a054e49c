// Deadline-driven lifecycle rechecks: time-driven changes (a device going stale, the enrollment grace
// ending) are found at the identity's own deadline, computed from data.config, without a full sweep;
// deadlines live in the store's db, survive a restart, and are rebuilt when the policy data changes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Metrics } from '../../src/api/metrics';
import type { StateStore } from '../../src/state/store';
import { shippedData, shippedEngine, TestEngines } from '../policies/shipped-policies';
import { openLifecycle } from './harness';

jest.setTimeout(120_000);

const T0 = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;
let now = T0;
let engines: TestEngines;

beforeAll(async () => {
  engines = new TestEngines(await shippedEngine());
});

/** A store + decider + lifecycle service as the module wires them, on the test clock, with a subscription for every event. */
function open(file = ':memory:', opts: { deadlineMs?: number; metrics?: Metrics } = {}) {
  const h = openLifecycle(engines, { file, now: () => now, ...opts });
  if (!h.store.getSubscription('all')) h.store.putSubscription({ id: 'all', url: 'http://127.0.0.1:9/', secret: '0123456789abcdef', events: ['revocation', 'ready_for_activation', 'drift'] });
  return h;
}

type Ev = { type: string; identity: string; state: string; reasons: string[]; previous_state: string | null };
const events = (store: StateStore) =>
  (store.db.prepare('SELECT body FROM lifecycle_outbox ORDER BY seq').all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as Ev);
const driftEvents = (store: StateStore, who: string) => events(store).filter((e) => e.type === 'drift' && e.identity === who);
const device = (owner: string, observedAt: number, fields: Record<string, unknown> = {}) => ({
  owner,
  ownership: 'corporate',
  enrolled: true,
  compliant: true,
  encrypted: true,
  observed_at: new Date(observedAt).toISOString(),
  ...fields,
});
const maxAge = (level: string) => (shippedData().config as { max_age_ns: Record<string, number> }).max_age_ns[level] / 1e6;
const graceMs = () => (shippedData().config as { enrollment_grace_ns: number }).enrollment_grace_ns / 1e6;

let cleanup: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  now = T0;
  engines.data = shippedData();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

test('a device going stale moves its owner to active_noncompliant (drift event) at its deadline, rechecking only that identity', () => {
  const { store, lifecycle, close } = open();
  cleanup.push(close);
  store.putIdentity('alice', { status: 'active', proofed: true, activated_at: new Date(T0 - 30 * DAY).toISOString() });
  const observed = T0 - HOUR;
  store.putDevice('mac-1', device('alice', observed));
  // Bystanders whose earliest deadline (their provisioned tolerance) lies after alice's staleness.
  for (let i = 0; i < 50; i++) store.putIdentity(`new-${i}`, { status: 'provisioned' });
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.refresh('alice')?.state).toBe('healthy');
  // Earliest instant any max age could flip for her device: observed_at + the smallest max age.
  expect(lifecycle.tracker.rechecks.get('alice')).toBe(observed + maxAge('high') + 1);
  const before = lifecycle.stats.rechecked;

  // A standard-tier identity needs a device fresh at the moderate level: still healthy at +1 day.
  now = observed + maxAge('high') + 1;
  lifecycle.flushRefresh();
  expect(lifecycle.stats.rechecked - before).toBe(1);
  expect(lifecycle.tracker.refresh('alice')?.state).toBe('healthy');
  expect(driftEvents(store, 'alice')).toEqual([]);
  const staleAt = observed + maxAge('moderate') + 1;
  expect(lifecycle.tracker.rechecks.get('alice')).toBe(staleAt);

  // One ms before: fresh (the policy compares `<=`); nothing is due.
  now = staleAt - 1;
  lifecycle.flushRefresh();
  expect(lifecycle.stats.rechecked - before).toBe(1);

  now = staleAt;
  lifecycle.flushRefresh();
  expect(lifecycle.stats.rechecked - before).toBe(2);
  expect(driftEvents(store, 'alice')).toEqual([expect.objectContaining({ state: 'active_noncompliant', previous_state: 'healthy', reasons: ['no_compliant_device'] })]);
  expect(lifecycle.tracker.drift()).toEqual([{ identity: 'alice', state: 'active_noncompliant', kind: 'risk', since: new Date(staleAt).toISOString(), reasons: ['no_compliant_device'] }]);
  // The bystanders were never looked at again, and no sweep ran.
  expect(lifecycle.tracker.stats.sweeps).toBe(0);
  expect(lifecycle.tracker.rechecks.get('new-0')).toBeGreaterThan(now);
});

test('a provisioned identity with an enrolled device becomes onboarding drift when its tolerance ends', () => {
  const { store, lifecycle, close } = open();
  cleanup.push(close);
  store.putIdentity('frank', { status: 'provisioned', proofed: false });
  store.putDevice('mac-9', device('frank', T0));
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.refresh('frank')?.state).toBe('pending');
  const tolerance = (shippedData().config as { provisioned_tolerance_ns: number }).provisioned_tolerance_ns / 1e6;
  // Deadlines on the way (the device's max ages) recheck without a change.
  now = T0 + tolerance;
  lifecycle.flushRefresh();
  expect(driftEvents(store, 'frank')).toEqual([]);
  now = T0 + tolerance + 1;
  lifecycle.flushRefresh();
  expect(driftEvents(store, 'frank')).toEqual([expect.objectContaining({ state: 'enrolled_not_active', previous_state: 'pending', reasons: ['onboarding_incomplete'] })]);
  expect(lifecycle.tracker.stats.sweeps).toBe(0);
});

test('states with no time-driven change keep no deadline', () => {
  const { store, lifecycle, close } = open();
  cleanup.push(close);
  store.putIdentity('gone', { status: 'deprovisioned' });
  store.putIdentity('old', { status: 'active', activated_at: new Date(T0 - 30 * DAY).toISOString() });
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.refresh('gone')?.state).toBe('offboarded');
  expect(lifecycle.tracker.refresh('old')?.state).toBe('active_unenrolled');
  expect(lifecycle.tracker.rechecks.get('gone')).toBeUndefined();
  expect(lifecycle.tracker.rechecks.get('old')).toBeUndefined();
});

test('the timer finds the grace end at its deadline: active_in_grace → active_unenrolled (drift event), no sweep', async () => {
  const metrics = new Metrics();
  const { store, lifecycle, close } = open(':memory:', { deadlineMs: 20, metrics });
  cleanup.push(close);
  lifecycle.start();
  await lifecycle.sweep(); // the first start's rebuild (nothing stored yet)
  const sweeps = lifecycle.tracker.stats.sweeps;
  store.putIdentity('carol', { status: 'active', activated_at: new Date(T0).toISOString() });
  await new Promise((r) => setTimeout(r, 50));
  expect(lifecycle.tracker.refresh('carol')?.state).toBe('active_in_grace');
  const deadline = T0 + graceMs() + 1;
  expect(lifecycle.tracker.rechecks.get('carol')).toBe(deadline);

  now = deadline - 1;
  await new Promise((r) => setTimeout(r, 100));
  expect(driftEvents(store, 'carol')).toEqual([]);

  now = deadline;
  for (let i = 0; i < 100 && driftEvents(store, 'carol').length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(driftEvents(store, 'carol')).toEqual([expect.objectContaining({ state: 'active_unenrolled', previous_state: 'active_in_grace', reasons: ['no_enrolled_device'] })]);
  expect(lifecycle.tracker.drift().map((d) => [d.identity, d.state, d.since])).toEqual([['carol', 'active_unenrolled', new Date(deadline).toISOString()]]);
  expect(lifecycle.tracker.stats.sweeps).toBe(sweeps);
  // The per-state gauges follow rechecks too (no sweep needed).
  await new Promise((r) => setTimeout(r, 50));
  const text = await metrics.text();
  expect(text).toMatch(/tether_identities_by_lifecycle_state\{state="active_unenrolled"\} 1/);
  expect(text).toMatch(/tether_identities_by_lifecycle_state\{state="active_in_grace"\} 0/);
});

test('deadlines and pending rechecks survive a restart; no full sweep runs when the policies are unchanged', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-deadlines-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tether.db');

  const first = open(file);
  first.lifecycle.start();
  await first.lifecycle.sweep();
  first.store.putIdentity('carol', { status: 'active', activated_at: new Date(T0).toISOString() });
  first.lifecycle.flushRefresh();
  expect(first.lifecycle.tracker.refresh('carol')?.state).toBe('active_in_grace');
  // Written, then the process stops before the post-write refresh ran.
  first.store.putIdentity('dave', { status: 'active', activated_at: new Date(T0 - 30 * DAY).toISOString() });
  await first.close();

  now = T0 + HOUR;
  const second = open(file);
  cleanup.push(second.close);
  expect(second.lifecycle.tracker.rechecks.get('carol')).toBe(T0 + graceMs() + 1);
  second.lifecycle.start();
  await new Promise((r) => setTimeout(r, 50));
  expect(second.lifecycle.tracker.stats.sweeps).toBe(0);
  // dave's durable "recheck now" mark was picked up: he has a state and a drift event.
  expect(driftEvents(second.store, 'dave')).toEqual([expect.objectContaining({ state: 'active_unenrolled' })]);

  now = T0 + graceMs() + 1;
  second.lifecycle.flushRefresh();
  expect(driftEvents(second.store, 'carol')).toEqual([expect.objectContaining({ state: 'active_unenrolled', previous_state: 'active_in_grace' })]);
  expect(second.lifecycle.tracker.stats.sweeps).toBe(0);
});

test('a change of data.config re-derives every deadline (one rebuild sweep), then no more sweeps', async () => {
  const { store, lifecycle, close } = open(':memory:', { deadlineMs: 20 });
  cleanup.push(close);
  lifecycle.start();
  await lifecycle.sweep();
  store.putIdentity('carol', { status: 'active', activated_at: new Date(T0).toISOString() });
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.rechecks.get('carol')).toBe(T0 + graceMs() + 1);
  const sweeps = lifecycle.tracker.stats.sweeps;

  const data = shippedData() as { config: Record<string, unknown> };
  data.config.enrollment_grace_ns = DAY * 1e6;
  data.config.provisioned_tolerance_ns = DAY * 1e6;
  engines.data = data;
  for (let i = 0; i < 100 && lifecycle.tracker.rechecks.get('carol') !== T0 + DAY + 1; i++) await new Promise((r) => setTimeout(r, 20));
  expect(lifecycle.tracker.rechecks.get('carol')).toBe(T0 + DAY + 1);
  // Later ticks see the new fingerprint recorded: no further sweep.
  await new Promise((r) => setTimeout(r, 150));
  expect(lifecycle.tracker.stats.sweeps).toBe(sweeps + 1);
});

test('a deleted identity leaves no deadline behind', () => {
  const { store, lifecycle, close } = open();
  cleanup.push(close);
  store.putIdentity('erin', { status: 'active', activated_at: new Date(T0).toISOString() });
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.rechecks.get('erin')).toBe(T0 + graceMs() + 1);
  store.deleteIdentity('erin');
  expect(lifecycle.tracker.rechecks.get('erin')).toBeUndefined();
  now = T0 + 10 * DAY;
  lifecycle.flushRefresh();
  expect(events(store).filter((e) => e.type === 'drift')).toEqual([]);
});
