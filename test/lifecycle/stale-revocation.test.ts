// Revocation by the passage of time: an enrolled, compliant device of an active identity whose last
// check-in ages past a sensitivity level's max age gets one `device_state_stale` revocation per level,
// found at its owner's recheck deadline, exactly once per (device, observed_at, level) — across
// rechecks, sweeps and restarts, late after downtime — and never for thresholds crossed before
// Tether held the device (bulk import of an old device) or for devices that gave no access.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StateStore, ImportLine } from '../../src/state/store';
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

let cleanup: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  now = T0;
  engines.data = shippedData();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function open(file = ':memory:') {
  const h = openLifecycle(engines, { file, now: () => now });
  if (!h.store.getSubscription('all')) h.store.putSubscription({ id: 'all', url: 'http://127.0.0.1:9/', secret: '0123456789abcdef', events: ['revocation', 'drift'] });
  return h;
}
/** open(), closed after the test. */
function opened(file?: string) {
  const h = open(file);
  cleanup.push(h.close);
  return h;
}
/** opened() with alice (active) and her compliant mac-1, checked in an hour before T0, re-derived. */
function aliceWithMac() {
  const h = opened();
  h.store.putIdentity('alice', activeIdentity);
  const observed = T0 - HOUR;
  h.store.putDevice('mac-1', device('alice', observed));
  h.lifecycle.flushRefresh();
  return { ...h, observed };
}
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-stale-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'tether.db');
}

type Ev = { id: string; type: string; time: string; identity: string | null; reason: string; reasons: string[]; device?: string; sensitivity?: string; observed_at?: string };
const events = (store: StateStore) =>
  (store.db.prepare('SELECT body FROM lifecycle_outbox ORDER BY seq').all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as Ev);
const stale = (store: StateStore) => events(store).filter((e) => e.type === 'revocation' && e.reason === 'device_state_stale');
const levelsOf = (store: StateStore) => stale(store).map((e) => [e.device, e.sensitivity]);

const iso = (ms: number) => new Date(ms).toISOString();
const maxAge = (level: string) => (shippedData().config as { max_age_ns: Record<string, number> }).max_age_ns[level] / 1e6;
/** The first ms at which a device observed at `observed` is stale for `level` (when its owner's recheck is due). */
const crossing = (observed: number, level: string) => observed + maxAge(level) + 1;
const device = (owner: string, observedAt: number, fields: Record<string, unknown> = {}) => ({
  owner,
  ownership: 'corporate',
  enrolled: true,
  compliant: true,
  encrypted: true,
  observed_at: iso(observedAt),
  ...fields,
});
const activeIdentity = { status: 'active', proofed: true, activated_at: iso(T0 - 30 * DAY), aliases: ['alice@example.com'] };

/** A store with alice (active) and her compliant mac-1 checked in at `observed`, re-derived, then closed. */
async function storeAliceWithDevice(file: string, observed: number): Promise<void> {
  const first = open(file);
  first.store.putIdentity('alice', activeIdentity);
  first.store.putDevice('mac-1', device('alice', observed));
  first.lifecycle.flushRefresh();
  await first.close();
}

test('a compliant device going stale reports one device_state_stale revocation per sensitivity level, at each level\'s deadline', () => {
  const { store, lifecycle, observed } = aliceWithMac();
  // The owner's recheck is due at the first crossing (the rechecks' own deadline drives it).
  expect(lifecycle.tracker.rechecks.get('alice')).toBe(crossing(observed, 'high'));

  now = crossing(observed, 'high') - 1;
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);

  now = crossing(observed, 'high');
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([
    {
      id: expect.any(String),
      type: 'revocation',
      time: iso(now),
      identity: 'alice',
      reason: 'device_state_stale',
      reasons: ['device_state_stale'],
      record: { kind: 'device', id: 'mac-1' },
      device: 'mac-1',
      device_was_compliant: true,
      sensitivity: 'high',
      max_age_seconds: 86400,
      observed_at: iso(observed),
      stale_at: iso(observed + maxAge('high')),
      fresh_for: ['moderate', 'low'],
      max_sensitivity: 'moderate',
      stale_everywhere: false,
    },
  ]);

  now = crossing(observed, 'moderate');
  lifecycle.flushRefresh();
  expect(stale(store)[1]).toMatchObject({ sensitivity: 'moderate', fresh_for: ['low'], max_sensitivity: 'low', stale_everywhere: false, time: iso(now) });

  now = crossing(observed, 'low');
  lifecycle.flushRefresh();
  expect(stale(store)[2]).toMatchObject({ sensitivity: 'low', fresh_for: [], max_sensitivity: null, stale_everywhere: true, stale_at: iso(observed + maxAge('low')) });
  expect(levelsOf(store)).toEqual([['mac-1', 'high'], ['mac-1', 'moderate'], ['mac-1', 'low']]);
  // Deadline-driven: no full sweep ran, and nothing is left to wait for.
  expect(lifecycle.tracker.stats.sweeps).toBe(0);
  expect(lifecycle.tracker.rechecks.get('alice')).toBeUndefined();
});

test('a reported crossing is not reported again by later rechecks, sweeps, lifecycle reads, writes of the owner or re-syncs of the device', async () => {
  const { store, lifecycle, observed } = aliceWithMac();
  now = crossing(observed, 'high') + HOUR;
  lifecycle.flushRefresh();
  expect(levelsOf(store)).toEqual([['mac-1', 'high']]);

  lifecycle.flushRefresh();
  lifecycle.tracker.refresh('alice');
  lifecycle.tracker.refresh('alice@example.com');
  await lifecycle.sweep();
  store.putIdentity('alice', { ...activeIdentity, risk_tier: 'standard' });
  store.putDevice('mac-2', device('alice', now));
  // A re-sync of the same check-in after the crossing was reported (the write path checks it too).
  store.putDevice('mac-1', device('alice', observed, { os_version: '15.2' }));
  lifecycle.flushRefresh();
  expect(levelsOf(store)).toEqual([['mac-1', 'high']]);
});

test('exactly once across a restart: a crossing reported before the restart is not reported again after it', async () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  const first = open(file);
  first.store.putIdentity('alice', activeIdentity);
  first.store.putDevice('mac-1', device('alice', observed));
  first.lifecycle.flushRefresh();
  now = crossing(observed, 'high');
  first.lifecycle.flushRefresh();
  expect(levelsOf(first.store)).toEqual([['mac-1', 'high']]);
  await first.close();

  now += HOUR;
  const second = opened(file);
  second.lifecycle.flushRefresh();
  second.lifecycle.tracker.refresh('alice');
  await second.lifecycle.sweep();
  expect(levelsOf(second.store)).toEqual([['mac-1', 'high']]);
  // The next level still comes, once.
  now = crossing(observed, 'moderate');
  second.lifecycle.flushRefresh();
  second.lifecycle.flushRefresh();
  expect(levelsOf(second.store)).toEqual([['mac-1', 'high'], ['mac-1', 'moderate']]);
});

test('deadlines passed while Tether was down are reported after the restart, late and once', async () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  await storeAliceWithDevice(file, observed);

  // Down across the high and moderate deadlines.
  now = crossing(observed, 'moderate') + 5 * HOUR;
  const second = open(file);
  second.lifecycle.start(); // the timer's first tick picks up what is overdue
  second.lifecycle.flushRefresh();
  expect(stale(second.store)).toEqual([
    expect.objectContaining({ sensitivity: 'high', time: iso(now), stale_at: iso(observed + maxAge('high')), fresh_for: ['moderate', 'low'], stale_everywhere: false }),
    expect.objectContaining({ sensitivity: 'moderate', time: iso(now), stale_at: iso(observed + maxAge('moderate')), fresh_for: ['low'], stale_everywhere: false }),
  ]);
  await second.close();

  now += HOUR;
  const third = opened(file);
  third.lifecycle.flushRefresh();
  await third.lifecycle.sweep();
  expect(levelsOf(third.store)).toEqual([['mac-1', 'high'], ['mac-1', 'moderate']]);
});

test('a device that checks in again (newer observed_at) starts over: its next staleness is reported again', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('alice', activeIdentity);
  const first = T0 - HOUR;
  store.putDevice('mac-1', device('alice', first));
  lifecycle.flushRefresh();
  now = crossing(first, 'high');
  lifecycle.flushRefresh();
  expect(stale(store).map((e) => [e.sensitivity, e.observed_at])).toEqual([['high', iso(first)]]);

  // The device checks in: fresh again, no event for the check-in itself.
  const second = now + HOUR;
  now = second;
  store.putDevice('mac-1', device('alice', second));
  lifecycle.flushRefresh();
  expect(stale(store)).toHaveLength(1);
  expect(lifecycle.tracker.rechecks.get('alice')).toBe(crossing(second, 'high'));

  now = crossing(second, 'high');
  lifecycle.flushRefresh();
  expect(stale(store).map((e) => [e.sensitivity, e.observed_at])).toEqual([
    ['high', iso(first)],
    ['high', iso(second)],
  ]);
});

test('what was settled belongs to one observed_at: a newer check-in starts over even after the clock stepped back', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('alice', activeIdentity);
  const first = T0 - HOUR;
  store.putDevice('mac-1', device('alice', first));
  lifecycle.flushRefresh();
  const reportedAt = crossing(first, 'high') + 2 * HOUR;
  now = reportedAt;
  lifecycle.flushRefresh();
  expect(stale(store)).toHaveLength(1);
  // The server clock is stepped back 20 h (NTP correction); the device checks in (newer observed_at)
  // and goes stale for high at an instant before the one the first crossing was settled at.
  now = reportedAt - 20 * HOUR;
  const second = first + 30 * 60_000;
  store.putDevice('mac-1', device('alice', second));
  lifecycle.flushRefresh();
  now = crossing(second, 'high');
  expect(now).toBeLessThan(reportedAt);
  lifecycle.flushRefresh();
  expect(stale(store).map((e) => [e.sensitivity, e.observed_at])).toEqual([
    ['high', iso(first)],
    ['high', iso(second)],
  ]);
});

test('a device that checked in before a missed deadline was processed reports nothing for it', async () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  await storeAliceWithDevice(file, observed);

  now = crossing(observed, 'high') + HOUR;
  const second = opened(file);
  // The MDM sync arrives before the overdue recheck ran: the device is fresh again at every level.
  second.store.putDevice('mac-1', device('alice', now - 60_000));
  second.lifecycle.flushRefresh();
  expect(stale(second.store)).toEqual([]);
});

test('a re-write with the same observed_at after a missed deadline reports it (once) instead of hiding it', async () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  await storeAliceWithDevice(file, observed);

  now = crossing(observed, 'high') + HOUR;
  const second = opened(file);
  // A re-sync of the same check-in (another field changed) lands before the overdue recheck.
  second.store.importBatch([{ line: 1, text: JSON.stringify({ kind: 'device', record: { id: 'mac-1', ...device('alice', observed, { os_version: '15.2' }) } }) }]);
  expect(stale(second.store)).toEqual([expect.objectContaining({ sensitivity: 'high', time: iso(now), observed_at: iso(observed) })]);
  second.lifecycle.flushRefresh();
  second.store.putDevice('mac-1', device('alice', observed, { os_version: '15.3' }));
  second.lifecycle.flushRefresh();
  expect(levelsOf(second.store)).toEqual([['mac-1', 'high']]);
});

test('a re-write after a missed deadline reports nothing for a device that gave no access, or when the write itself revokes', async () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  const first = open(file);
  first.store.putIdentity('alice', activeIdentity);
  first.store.putIdentity('sam', { status: 'suspended' });
  first.store.putIdentity('bob', { ...activeIdentity, aliases: [] });
  first.store.putDevice('moved', device('alice', observed));
  first.store.putDevice('noncompliant', device('alice', observed, { compliant: false }));
  first.store.putDevice('unenrolled', device('alice', observed, { enrolled: false }));
  first.store.putDevice('suspended-owner', device('sam', observed));
  first.store.putDevice('good', device('alice', observed));
  first.lifecycle.flushRefresh();
  await first.close();

  now = crossing(observed, 'high') + HOUR;
  const second = opened(file);
  second.store.putDevice('noncompliant', device('alice', observed, { compliant: false, os_version: '2' }));
  second.store.putDevice('unenrolled', device('alice', observed, { enrolled: false, os_version: '2' }));
  second.store.putDevice('suspended-owner', device('sam', observed, { os_version: '2' }));
  second.store.putDevice('good', device('alice', observed, { compliant: false }));
  second.store.putDevice('moved', device('bob', observed));
  second.lifecycle.flushRefresh();
  expect(stale(second.store)).toEqual([]);
  expect(events(second.store).filter((e) => e.type === 'revocation').map((e) => [e.device, e.reasons])).toEqual([
    ['good', ['device_not_compliant']],
    ['moved', ['device_owner_changed']],
  ]);
});

test('a bulk import of already-old devices reports no threshold crossed before the import; later crossings are reported', () => {
  const { store, lifecycle } = opened();
  // The owners have been active in Tether for days; their devices arrive in today's import.
  now = T0 - 10 * DAY;
  for (let i = 0; i < 50; i++) store.putIdentity(`user-${i}`, { ...activeIdentity, aliases: [] });
  lifecycle.flushRefresh();
  now = T0;
  const observed = T0 - 2 * DAY; // past the high max age, within the moderate one
  const lines: ImportLine[] = [];
  for (let i = 0; i < 50; i++) {
    lines.push({ line: lines.length + 1, text: JSON.stringify({ kind: 'identity', record: { id: `user-${i}`, ...activeIdentity, aliases: [] } }) });
    lines.push({ line: lines.length + 1, text: JSON.stringify({ kind: 'device', record: { id: `dev-${i}`, ...device(`user-${i}`, observed) } }) });
    // Stale for every level already: it never granted anything in Tether.
    lines.push({ line: lines.length + 1, text: JSON.stringify({ kind: 'device', record: { id: `old-${i}`, ...device(`user-${i}`, T0 - 30 * DAY) } }) });
  }
  expect(store.importBatch(lines)).toMatchObject({ imported: 150, rejected: 0 });
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);
  // Importing and deriving wrote no staleness row (no per-record bookkeeping).
  expect(store.db.prepare('SELECT count(*) FROM lifecycle_stale_devices').pluck().get()).toBe(0);
  // Re-importing the same records (same observed_at) reports nothing either.
  now += HOUR;
  expect(store.importBatch(lines)).toMatchObject({ imported: 150, rejected: 0 });
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);

  now = crossing(observed, 'moderate');
  lifecycle.flushRefresh();
  expect(stale(store)).toHaveLength(50);
  expect(stale(store).every((e) => e.sensitivity === 'moderate' && (e as Record<string, unknown>).max_sensitivity === 'low')).toBe(true);
  now = crossing(observed, 'low');
  lifecycle.flushRefresh();
  expect(stale(store).filter((e) => e.sensitivity === 'low')).toHaveLength(50);
  expect(stale(store).filter((e) => (e.device ?? '').startsWith('old-'))).toEqual([]);
});

test('devices that gave no access report nothing: not enrolled, not compliant, owner unknown or not active, deleted', async () => {
  const { store, lifecycle } = opened();
  const observed = T0 - HOUR;
  store.putIdentity('alice', activeIdentity);
  store.putIdentity('sam', { status: 'suspended' });
  store.putDevice('unenrolled', device('alice', observed, { enrolled: false }));
  store.putDevice('noncompliant', device('alice', observed, { compliant: false }));
  store.putDevice('orphan', device('ghost@example.com', observed));
  store.putDevice('suspended-owner', device('sam', observed));
  store.putDevice('deleted', device('alice', observed));
  store.putDevice('good', device('alice', observed));
  lifecycle.flushRefresh();
  now = T0 + HOUR;
  store.deleteDevice('deleted');
  for (const level of ['high', 'moderate', 'low']) {
    now = crossing(observed, level);
    lifecycle.flushRefresh();
  }
  await lifecycle.sweep(); // sees every identity, those without a deadline too
  expect(levelsOf(store)).toEqual([['good', 'high'], ['good', 'moderate'], ['good', 'low']]);
});

test('a change of the max ages reports no crossing from before the change; later ones are reported', async () => {
  const { store, lifecycle, observed } = aliceWithMac();

  now = T0 + 2 * HOUR;
  // high lowered to 1 h: the device has been too old for it since T0, before the change.
  const data = shippedData() as { config: { max_age_ns: Record<string, number> } };
  data.config.max_age_ns.high = HOUR * 1e6;
  engines.data = data;
  await lifecycle.sweep(); // the rebuild a data.config change triggers
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);

  now = crossing(observed, 'moderate');
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([expect.objectContaining({ sensitivity: 'moderate', fresh_for: ['low'] })]);
});

test('after the first start over a store written before staleness revocations existed, the next crossing is reported', async () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  const first = open(file);
  first.store.putIdentity('alice', activeIdentity);
  first.store.putDevice('mac-1', device('alice', observed));
  await first.lifecycle.sweep(); // deadlines current: the next start runs no rebuild sweep
  first.store.db.exec("DELETE FROM lifecycle_meta WHERE key = 'stale_levels'"); // as an older version left it
  await first.close();

  now = T0 + HOUR;
  const second = opened(file);
  second.lifecycle.start();
  now = crossing(observed, 'high');
  second.lifecycle.flushRefresh();
  expect(levelsOf(second.store)).toEqual([['mac-1', 'high']]);
  expect(second.lifecycle.tracker.stats.sweeps).toBe(0);
});

test('the first start over a store written before staleness revocations existed reports no old crossing', () => {
  const file = tempFile();
  const observed = T0 - HOUR;
  const first = open(file);
  first.store.putIdentity('alice', activeIdentity);
  first.store.putDevice('mac-1', device('alice', observed));
  // As an older version left it: no staleness epoch recorded.
  first.store.db.exec("DELETE FROM lifecycle_meta WHERE key = 'stale_levels'");
  now = crossing(observed, 'high') + HOUR;
  first.lifecycle.flushRefresh();
  expect(stale(first.store)).toEqual([]);
  now = crossing(observed, 'moderate');
  first.lifecycle.flushRefresh();
  expect(levelsOf(first.store)).toEqual([['mac-1', 'moderate']]);
  return first.close();
});

test('levels sharing a max age each get their event; exactly one of them says no level is left', () => {
  const data = shippedData() as { config: { max_age_ns: Record<string, number> } };
  data.config.max_age_ns.restricted = data.config.max_age_ns.low;
  engines.data = data;
  const { store, lifecycle, observed } = aliceWithMac();
  now = crossing(observed, 'low');
  lifecycle.flushRefresh();
  const ev = stale(store) as Array<Ev & { fresh_for: string[]; stale_everywhere: boolean }>;
  expect(ev.map((e) => [e.sensitivity, e.fresh_for, e.stale_everywhere])).toEqual([
    ['high', ['moderate', 'low', 'restricted'], false],
    ['moderate', ['low', 'restricted'], false],
    ['low', [], false],
    ['restricted', [], true],
  ]);
});

test('a threshold crossed before the owner became active is not reported; one crossed after is', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('newbie', { status: 'provisioned', proofed: true });
  const observed = T0 - HOUR;
  store.putDevice('nb-1', device('newbie', observed));
  lifecycle.flushRefresh();
  // Stale for high while still provisioned (the device gave no access then), activated afterwards.
  now = crossing(observed, 'high') + HOUR;
  lifecycle.flushRefresh();
  store.putIdentity('newbie', { status: 'active', proofed: true, activated_at: iso(now) });
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);
  now = crossing(observed, 'moderate');
  lifecycle.flushRefresh();
  expect(levelsOf(store)).toEqual([['nb-1', 'moderate']]);
});

test('a deleted device leaves no staleness bookkeeping behind', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('alice', activeIdentity);
  const observed = T0 - HOUR;
  store.putDevice('mac-1', device('alice', observed));
  store.putDevice('mac-2', device('alice', observed));
  lifecycle.flushRefresh();
  now = crossing(observed, 'high');
  lifecycle.flushRefresh();
  const rows = () => store.db.prepare('SELECT device FROM lifecycle_stale_devices ORDER BY device').pluck().all();
  expect(rows()).toEqual(['mac-1', 'mac-2']);
  store.deleteDevice('mac-1');
  expect(rows()).toEqual(['mac-2']);
});

test('only levels the device could grant are reported: a byod device loses only low, an unencrypted corporate device never reports high', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('alice', activeIdentity);
  const observed = T0 - HOUR;
  store.putDevice('phone-1', device('alice', observed, { ownership: 'byod' })); // ownership_limits: byod → low
  store.putDevice('mac-2', device('alice', observed, { encrypted: false })); // high needs encryption
  lifecycle.flushRefresh();
  for (const level of ['high', 'moderate', 'low']) {
    now = crossing(observed, level);
    lifecycle.flushRefresh();
  }
  expect(levelsOf(store)).toEqual([['mac-2', 'moderate'], ['mac-2', 'low'], ['phone-1', 'low']]);
  const byDevice = (id: string) => stale(store).filter((e) => e.device === id) as Array<Ev & { fresh_for: string[]; stale_everywhere: boolean }>;
  // What the device still serves counts only levels it could reach, and its last crossing is the CAEP one.
  expect(byDevice('mac-2').map((e) => [e.fresh_for, e.stale_everywhere])).toEqual([[['low'], false], [[], true]]);
  expect(byDevice('phone-1').map((e) => [e.fresh_for, e.stale_everywhere])).toEqual([[[], true]]);
});

test('devices of service and break-glass identities, which no device rule covers, report nothing when they go stale', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('svc', { ...activeIdentity, aliases: [], type: 'service' });
  store.putIdentity('bg', { ...activeIdentity, aliases: [], type: 'break_glass' });
  const observed = T0 - HOUR;
  store.putDevice('runner-1', device('svc', observed));
  store.putDevice('laptop-bg', device('bg', observed));
  lifecycle.flushRefresh();
  for (const level of ['high', 'moderate', 'low']) {
    now = crossing(observed, level);
    lifecycle.flushRefresh();
  }
  // A same-observed_at re-sync after the crossings (the write-time path) reports nothing either.
  store.putDevice('runner-1', device('svc', observed, { platform: 'linux' }));
  expect(stale(store)).toEqual([]);
});

test('an owner of a hard-gated risk tier loses everything at the high max age: one event, stale everywhere; devices that never granted them report nothing', () => {
  const { store, lifecycle } = opened();
  store.putIdentity('pat', { ...activeIdentity, aliases: [], risk_tier: 'privileged' }); // data.config.hard_gate_tiers
  const observed = T0 - HOUR;
  store.putDevice('mac', device('pat', observed));
  store.putDevice('phone', device('pat', observed, { ownership: 'byod' }));
  store.putDevice('nocrypt', device('pat', observed, { encrypted: false }));
  lifecycle.flushRefresh();
  for (const level of ['high', 'moderate', 'low']) {
    now = crossing(observed, level);
    lifecycle.flushRefresh();
  }
  expect(stale(store)).toEqual([expect.objectContaining({ device: 'mac', sensitivity: 'high', fresh_for: [], max_sensitivity: null, stale_everywhere: true })]);
});

test('max_sensitivity is the most sensitive level still fresh, also when max ages do not follow the sensitivity order', () => {
  const data = shippedData() as { config: { max_age_ns: Record<string, number> } };
  data.config.max_age_ns = { high: DAY * 1e6, moderate: 7 * DAY * 1e6, low: 3 * DAY * 1e6 };
  engines.data = data;
  const { store, lifecycle, observed } = aliceWithMac();
  now = observed + DAY + 1;
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([expect.objectContaining({ sensitivity: 'high', fresh_for: ['moderate', 'low'], max_sensitivity: 'moderate' })]);
});

test('a change of ownership_limits reports no crossing judged under the new limits from before the change', async () => {
  const { store, lifecycle } = opened();
  lifecycle.staleness.epochMs(now); // the service's tick records when the current values apply
  store.putIdentity('alice', activeIdentity);
  const observed = T0 - HOUR;
  store.putDevice('byod-1', device('alice', observed, { ownership: 'byod' }));
  lifecycle.flushRefresh();
  now = observed + 80 * HOUR; // past the high and moderate max ages, which a byod device never granted
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);
  const data = shippedData() as { config: { ownership_limits: Record<string, string> } };
  data.config.ownership_limits.byod = 'moderate';
  engines.data = data;
  now += 1000;
  lifecycle.staleness.epochMs(now);
  await lifecycle.sweep(); // what a data.config change triggers
  expect(stale(store)).toEqual([]);
  now = crossing(observed, 'low'); // a crossing after the change still counts
  lifecycle.flushRefresh();
  expect(levelsOf(store)).toEqual([['byod-1', 'low']]);
});

test('crossings from before an owner became device-bound (type or risk tier change) or was deleted and re-created are not reported later', () => {
  const { store, lifecycle } = opened();
  const observed = T0 - HOUR;
  store.putIdentity('svc', { ...activeIdentity, aliases: [], type: 'service' });
  store.putDevice('box', device('svc', observed));
  store.putIdentity('alice', { ...activeIdentity, observed_at: iso(T0 - 30 * DAY) });
  store.putDevice('mac', device('alice', observed));
  lifecycle.flushRefresh();
  now = T0 + 10 * 60_000;
  store.deleteIdentity('alice');
  lifecycle.flushRefresh();
  now = observed + 5 * DAY; // past high and moderate for both devices, no check-in since
  lifecycle.flushRefresh();
  store.putIdentity('svc', { ...activeIdentity, aliases: [], type: 'employee' });
  // Re-created with the source's old observed_at (its status start): the device stayed bound to the id.
  store.putIdentity('alice', { ...activeIdentity, observed_at: iso(T0 - 20 * DAY) });
  lifecycle.flushRefresh();
  expect(stale(store)).toEqual([]);
  now = crossing(observed, 'low'); // a crossing while the owner is device-bound is reported
  lifecycle.flushRefresh();
  expect(levelsOf(store)).toEqual([['box', 'low']]);
});

test('routine work reads no staleness rows: re-importing the same records and re-syncing owners after their crossings were reported costs no extra statement', () => {
  const { store, lifecycle } = opened();
  lifecycle.staleness.epochMs(now);
  const n = 200;
  const lines: ImportLine[] = [];
  for (let i = 0; i < n; i++) lines.push({ line: lines.length + 1, text: JSON.stringify({ kind: 'identity', record: { id: `u${i}`, ...activeIdentity, aliases: [] } }) });
  for (let i = 0; i < n; i++) lines.push({ line: lines.length + 1, text: JSON.stringify({ kind: 'device', record: { id: `d${i}`, ...device(`u${i}`, T0 - 2 * HOUR) } }) });
  expect(store.importBatch(lines).rejected).toBe(0);
  lifecycle.flushRefresh();
  now = crossing(T0 - 2 * HOUR, 'high');
  lifecycle.flushRefresh();
  expect(stale(store)).toHaveLength(n);
  // Every run of the staleness component's own statements (its table and lifecycle_meta) is counted.
  let reads = 0;
  const stmts = (lifecycle.staleness as unknown as { st: Record<string, { get: (...a: unknown[]) => unknown; run: (...a: unknown[]) => unknown }> }).st;
  for (const st of Object.values(stmts)) {
    const get = st.get.bind(st);
    const run = st.run.bind(st);
    st.get = (...a) => (reads++, get(...a));
    st.run = (...a) => (reads++, run(...a));
  }
  now += HOUR;
  expect(store.importBatch(lines).rejected).toBe(0); // the same records again
  lifecycle.flushRefresh();
  for (let i = 0; i < n; i++) store.putIdentity(`u${i}`, { ...activeIdentity, aliases: [], attributes: { dept: 'x' } });
  lifecycle.flushRefresh();
  expect(reads).toBe(0);
  expect(stale(store)).toHaveLength(n);
});
