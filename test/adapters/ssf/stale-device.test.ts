// CAEP for a device going stale: the lifecycle reports one device_state_stale revocation per
// sensitivity level (webhooks get every one), but Shared Signals receivers get a single
// device-compliance-change `not-compliant` — when the device is stale for every level, so no app
// accepts it any more — saying why, timed at the instant it went stale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SsfTransmitter } from '../../../src/adapters/ssf/transmitter';
import { revocationToCaep, type RevocationLike } from '../../../src/adapters/ssf/set-builder';
import { shippedData, shippedEngine, TestEngines } from '../../policies/shipped-policies';
import { openLifecycle } from '../../lifecycle/harness';

jest.setTimeout(120_000);

const DCC = 'https://schemas.openid.net/secevent/caep/event-type/device-compliance-change';
const T0 = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const maxAge = (level: string) => (shippedData().config as { max_age_ns: Record<string, number> }).max_age_ns[level] / 1e6;

const staleEvent = (fields: Partial<RevocationLike>): RevocationLike => ({
  id: 'ev-1',
  type: 'revocation',
  time: iso(T0 + 5 * HOUR),
  identity: 'alice',
  reasons: ['device_state_stale'],
  record: { kind: 'device', id: 'mac-1' },
  device: 'mac-1',
  device_was_compliant: true,
  observed_at: iso(T0 - 7 * 24 * HOUR),
  stale_at: iso(T0),
  ...fields,
});
const lookup = () => ({ id: 'alice', aliases: ['alice@example.com'] }) as never;

test('a level crossed while a less sensitive one is still fresh sends no SET', () => {
  expect(revocationToCaep(staleEvent({ sensitivity: 'high', fresh_for: ['moderate', 'low'], stale_everywhere: false }), lookup)).toBeUndefined();
  expect(revocationToCaep(staleEvent({ sensitivity: 'moderate', fresh_for: ['low'] }), lookup)).toBeUndefined();
});

test('the device stale for every level sends device-compliance-change not-compliant, saying it is stale, timed when it went stale', () => {
  const ev = revocationToCaep(staleEvent({ sensitivity: 'low', fresh_for: [], stale_everywhere: true }), lookup);
  expect(ev).toEqual({
    eventType: DCC,
    subject: { format: 'complex', device: { format: 'opaque', id: 'mac-1' }, user: { format: 'email', email: 'alice@example.com' } },
    event: {
      previous_status: 'compliant',
      current_status: 'not-compliant',
      initiating_entity: 'policy',
      reason_admin: { en: `Tether revocation: device_state_stale (no MDM check-in since ${iso(T0 - 7 * 24 * HOUR)}: too old for every sensitivity level)` },
      event_timestamp: T0 / 1000,
    },
    txn: 'ev-1',
    eventTimestamp: T0 / 1000,
  });
});

test('the enrollment grace ending sends session-revoked timed when the grace ended, not when the recheck found it', () => {
  const ev = revocationToCaep(
    { id: 'ev-2', type: 'revocation', time: iso(T0 + 5 * HOUR), identity: 'alice', reasons: ['enrollment_grace_ended'], record: { kind: 'identity', id: 'alice' }, grace_ended_at: iso(T0) },
    lookup,
  );
  expect(ev).toMatchObject({
    eventType: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
    subject: { format: 'email', email: 'alice@example.com' },
    event: { reason_admin: { en: 'Tether revocation: enrollment_grace_ended' }, event_timestamp: T0 / 1000 },
    eventTimestamp: T0 / 1000,
  });
});

test('other device revocations are unchanged: sent at once, timed by the event', () => {
  const ev = revocationToCaep(staleEvent({ reasons: ['device_not_compliant'], stale_at: undefined, observed_at: undefined }), lookup);
  expect(ev?.event).toMatchObject({ current_status: 'not-compliant', reason_admin: { en: 'Tether revocation: device_not_compliant' }, event_timestamp: (T0 + 5 * HOUR) / 1000 });
});


/**
 * A lifecycle service with a webhook subscription and a CAEP transmitter attached to its outbox, alice
 * active (with `aliases`) and her compliant mac-1 checked in an hour before T0; `run` moves `clock.now`.
 */
async function withTransmitter(
  aliases: string[],
  run: (t: { store: Opened['store']; lifecycle: Opened['lifecycle']; clock: { now: number }; observed: number }) => void,
): Promise<void> {
  const engines = new TestEngines(await shippedEngine());
  const clock = { now: T0 };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-stale-ssf-'));
  const { store, lifecycle, close } = openLifecycle(engines, { now: () => clock.now });
  try {
    store.putSubscription({ id: 'hook', url: 'http://127.0.0.1:9/', secret: '0123456789abcdef', events: ['revocation'] });
    const tx = new SsfTransmitter(store, { issuer: 'https://tether.example.com', dataDir, receivers: [{ endpoint_url: 'http://127.0.0.1:9/caep' }] }, () => clock.now);
    tx.attach(lifecycle.outbox, () => () => undefined);
    store.putIdentity('alice', { status: 'active', proofed: true, aliases, activated_at: iso(T0 - 30 * 24 * HOUR) });
    const observed = T0 - HOUR;
    store.putDevice('mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: iso(observed) });
    lifecycle.flushRefresh();
    run({ store, lifecycle, clock, observed });
  } finally {
    await close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
type Opened = ReturnType<typeof openLifecycle>;

test('end to end: three levels crossed → three webhook revocations, one SET per stream', async () => {
  await withTransmitter(['alice@example.com'], ({ store, lifecycle, clock, observed }) => {
    const sets = () =>
      (store.db.prepare('SELECT claims FROM ssf_outbox ORDER BY seq').all() as Array<{ claims: string }>).map((r) => JSON.parse(r.claims) as { txn: string; sub_id: unknown; events: Record<string, Record<string, unknown>> });
    const webhooks = () => (store.db.prepare('SELECT body FROM lifecycle_outbox ORDER BY seq').all() as Array<{ body: string }>).map((r) => JSON.parse(r.body) as { id: string; sensitivity: string });

    for (const level of ['high', 'moderate']) {
      clock.now = observed + maxAge(level) + 1;
      lifecycle.flushRefresh();
    }
    expect(webhooks().map((w) => w.sensitivity)).toEqual(['high', 'moderate']);
    expect(sets()).toEqual([]);

    clock.now = observed + maxAge('low') + 1;
    lifecycle.flushRefresh();
    lifecycle.flushRefresh();
    expect(webhooks().map((w) => w.sensitivity)).toEqual(['high', 'moderate', 'low']);
    expect(sets()).toHaveLength(1);
    const [set] = sets();
    expect(set.txn).toBe(webhooks()[2].id);
    expect(set.sub_id).toEqual({ format: 'complex', device: { format: 'opaque', id: 'mac-1' }, user: { format: 'email', email: 'alice@example.com' } });
    expect(set.events[DCC]).toMatchObject({ previous_status: 'compliant', current_status: 'not-compliant', event_timestamp: Math.floor((observed + maxAge('low')) / 1000) });
    expect((set.events[DCC].reason_admin as { en: string }).en).toContain('device_state_stale');
  });
});

test('every level crossed at once (found late) → three webhook revocations, still one SET', async () => {
  await withTransmitter([], ({ store, lifecycle, clock, observed }) => {
    clock.now = observed + maxAge('low') + HOUR;
    lifecycle.flushRefresh();
    expect(store.db.prepare('SELECT count(*) FROM lifecycle_outbox').pluck().get()).toBe(3);
    const sets = store.db.prepare('SELECT claims FROM ssf_outbox').pluck().all() as string[];
    expect(sets).toHaveLength(1);
    expect(JSON.parse(sets[0]).events[DCC]).toMatchObject({ current_status: 'not-compliant', event_timestamp: Math.floor((observed + maxAge('low')) / 1000) });
  });
});
