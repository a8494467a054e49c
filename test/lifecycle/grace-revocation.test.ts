// The enrollment grace ending is a revocation (decision-model §4): an active identity without an
// enrolled device has limited access to low apps within the grace (enrollment_pending); when its
// lifecycle state goes from active_in_grace to active_unenrolled at the grace deadline, Tether emits
// `enrollment_grace_ended` once — across rechecks, sweeps and restarts, late if it was down — and not
// when the identity left the grace by enrolling a device or by a status change, nor for identities the
// grace gave nothing (service, break-glass, hard-gated risk tiers).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StateStore } from '../../src/state/store';
import { shippedData, shippedEngine, TestEngines } from '../policies/shipped-policies';
import { openLifecycle } from './harness';

jest.setTimeout(120_000);

const T0 = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;
const GRACE = (shippedData().config as { enrollment_grace_ns: number }).enrollment_grace_ns / 1e6;
/** The first ms at which an identity activated at T0 is past its grace (when its recheck is due). */
const PAST_GRACE = T0 + GRACE + 1;
let now = T0;
let engines: TestEngines;

beforeAll(async () => {
  engines = new TestEngines(await shippedEngine());
});

let cleanup: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  now = T0;
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function open(file = ':memory:') {
  const h = openLifecycle(engines, { file, now: () => now });
  if (!h.store.getSubscription('all')) h.store.putSubscription({ id: 'all', url: 'http://127.0.0.1:9/', secret: '0123456789abcdef', events: ['revocation', 'drift'] });
  return h;
}
function opened(file?: string) {
  const h = open(file);
  cleanup.push(h.close);
  return h;
}
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-grace-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'tether.db');
}

type Ev = { type: string; time: string; identity: string | null; reason: string; reasons: string[]; [k: string]: unknown };
const events = (store: StateStore) =>
  (store.db.prepare('SELECT body FROM lifecycle_outbox ORDER BY seq').all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as Ev);
/** [identity, reasons] of every revocation queued so far. */
const revocations = (store: StateStore) => events(store).filter((e) => e.type === 'revocation').map((e) => [e.identity, e.reasons]);
const graceEnded = (store: StateStore) => events(store).filter((e) => e.type === 'revocation' && e.reason === 'enrollment_grace_ended');

const iso = (ms: number) => new Date(ms).toISOString();
const device = (owner: string, fields: Record<string, unknown> = {}) => ({
  owner,
  ownership: 'corporate',
  enrolled: true,
  compliant: true,
  encrypted: true,
  observed_at: iso(now),
  ...fields,
});

test('the grace deadline emits enrollment_grace_ended once, with the drift event; not again on rechecks, sweeps or after a restart', async () => {
  const file = tempFile();
  const first = open(file);
  first.store.putIdentity('fresh', { status: 'active' }); // activated now (T0)
  first.lifecycle.flushRefresh();
  expect(first.lifecycle.tracker.refresh('fresh')?.state).toBe('active_in_grace');
  now = PAST_GRACE - 2;
  first.lifecycle.flushRefresh();
  expect(events(first.store)).toEqual([]);

  now = PAST_GRACE;
  first.lifecycle.flushRefresh();
  expect(graceEnded(first.store)).toEqual([
    {
      id: expect.any(String),
      type: 'revocation',
      time: iso(PAST_GRACE),
      identity: 'fresh',
      reason: 'enrollment_grace_ended',
      reasons: ['enrollment_grace_ended'],
      record: { kind: 'identity', id: 'fresh' },
      state: 'active_unenrolled',
      previous_state: 'active_in_grace',
      status: 'active',
      activated_at: iso(T0),
      grace_ended_at: iso(T0 + GRACE),
      enrollment_grace_seconds: GRACE / 1000,
    },
  ]);
  expect(events(first.store).map((e) => [e.type, e.reasons])).toEqual([
    ['revocation', ['enrollment_grace_ended']],
    ['drift', ['no_enrolled_device']],
  ]);
  now += HOUR;
  first.lifecycle.flushRefresh();
  first.lifecycle.tracker.refresh('fresh');
  await first.lifecycle.sweep();
  await first.close();

  now += HOUR;
  const second = opened(file);
  second.lifecycle.start();
  second.lifecycle.flushRefresh();
  second.lifecycle.tracker.refresh('fresh');
  await second.lifecycle.sweep();
  expect(revocations(second.store)).toEqual([['fresh', ['enrollment_grace_ended']]]);
});

test('a grace that ended while Tether was down is reported after the restart, late and once', async () => {
  const file = tempFile();
  const first = open(file);
  first.store.putIdentity('fresh', { status: 'active' });
  first.lifecycle.flushRefresh();
  await first.close();

  now = PAST_GRACE + 5 * HOUR;
  const second = open(file);
  second.lifecycle.start(); // the first tick picks up the overdue recheck
  second.lifecycle.flushRefresh();
  expect(graceEnded(second.store)).toEqual([expect.objectContaining({ identity: 'fresh', time: iso(now), grace_ended_at: iso(T0 + GRACE) })]);
  await second.close();

  now += HOUR;
  const third = opened(file);
  third.lifecycle.flushRefresh();
  await third.lifecycle.sweep();
  expect(revocations(third.store)).toEqual([['fresh', ['enrollment_grace_ended']]]);
});

test('no grace revocation when a device enrolls before the grace ends (nothing was removed); its later unenrollment is its own', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('fresh', { status: 'active' });
  store.putIdentity('enrolling', { status: 'active' });
  lifecycle.flushRefresh();
  now = T0 + HOUR;
  store.putDevice('mac-1', device('enrolling'));
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.refresh('enrolling')?.state).toBe('healthy');
  now = PAST_GRACE - HOUR;
  store.putDevice('mac-1', device('enrolling')); // checks in again: still fresh when the grace ends
  lifecycle.flushRefresh();

  now = PAST_GRACE;
  lifecycle.flushRefresh();
  now += HOUR;
  store.putDevice('mac-1', device('enrolling', { enrolled: false }));
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.refresh('enrolling')?.state).toBe('active_unenrolled');
  expect(revocations(store)).toEqual([
    ['fresh', ['enrollment_grace_ended']],
    ['enrolling', ['device_not_enrolled']],
  ]);
});

test('no grace revocation for service or break-glass identities (active_exempt) or hard-gated risk tiers (the grace gave them nothing)', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('fresh', { status: 'active' });
  store.putIdentity('svc', { status: 'active', type: 'service' });
  store.putIdentity('bg', { status: 'active', type: 'break_glass' });
  store.putIdentity('exec', { status: 'active', risk_tier: 'high' });
  lifecycle.flushRefresh();
  expect(['svc', 'bg', 'exec'].map((id) => lifecycle.tracker.refresh(id)?.state)).toEqual(['active_exempt', 'active_exempt', 'active_in_grace']);
  now = PAST_GRACE;
  lifecycle.flushRefresh();
  expect(lifecycle.tracker.refresh('exec')?.state).toBe('active_unenrolled');
  expect(revocations(store)).toEqual([['fresh', ['enrollment_grace_ended']]]);
});

test('no grace revocation when the identity left active: the status change is the revocation (identity_not_active)', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('fresh', { status: 'active' });
  store.putIdentity('leaver', { status: 'active' });
  store.putIdentity('back', { status: 'active' });
  lifecycle.flushRefresh();
  now = T0 + HOUR;
  store.putIdentity('leaver', { status: 'suspended' });
  lifecycle.flushRefresh();

  // Suspended and reactivated (keeping its old activated_at) after the grace ended, with no recheck in
  // between: the access went with the suspension; the grace's end at the recheck removes nothing more.
  now = PAST_GRACE + HOUR;
  store.putIdentity('back', { status: 'suspended' });
  store.putIdentity('back', { status: 'active', activated_at: iso(T0) });
  lifecycle.flushRefresh();
  expect(['leaver', 'back'].map((id) => lifecycle.tracker.refresh(id)?.state)).toEqual(['suspended', 'active_unenrolled']);
  expect(revocations(store)).toEqual([
    ['leaver', ['identity_not_active']],
    ['back', ['identity_not_active']],
    ['fresh', ['enrollment_grace_ended']],
  ]);
});
