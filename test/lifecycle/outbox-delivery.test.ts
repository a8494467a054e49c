// The durable outbox: signed webhooks (X-Tether-Signature: sha256=HMAC of the raw body), retries
// with exponential backoff while the receiver fails (failures counted), nothing lost across a
// restart, and a deleted subscription's rows dropped.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Metrics } from '../../src/api/metrics';
import { makeEvent, Outbox, signBody } from '../../src/lifecycle/outbox';
import { openSqliteStore, type StateStore } from '../../src/state/store';

const SECRET = 'a-very-secret-shared-key';

interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A real webhook receiver on 127.0.0.1 answering `status()` for each request. */
async function receiver(status: () => number = () => 204) {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString(), headers: req.headers });
      res.statusCode = status();
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { got, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let store: StateStore;
let outbox: Outbox | undefined;
afterEach(async () => {
  await outbox?.stop();
  outbox = undefined;
  if (store?.isOpen) store.close();
});

test('delivers a signed event that the receiver can verify', async () => {
  const rx = await receiver();
  store = openSqliteStore({ path: ':memory:' });
  store.putSubscription({ id: 's1', url: rx.url, secret: SECRET, events: ['revocation'] });
  outbox = new Outbox({ store, pollMs: 20 });
  outbox.start();
  const ev = makeEvent('revocation', 'alice', ['device_not_compliant'], { device: 'mac-1' });
  store.transaction(() => outbox!.enqueue(ev));
  await waitFor(() => rx.got.length === 1);
  const { body, headers } = rx.got[0];
  expect(JSON.parse(body)).toMatchObject({ id: ev.id, type: 'revocation', identity: 'alice', reason: 'device_not_compliant', device: 'mac-1' });
  const expected = 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex');
  expect(headers['x-tether-signature']).toBe(expected);
  expect(signBody(SECRET, body)).toBe(expected);
  expect(headers['x-tether-event']).toBe('revocation');
  expect(headers['x-tether-delivery']).toBe(ev.id);
  expect(headers['content-type']).toBe('application/json');
  await waitFor(() => outbox!.depth() === 0);
  await rx.close();
});

test('only subscribers of the event type get it', async () => {
  store = openSqliteStore({ path: ':memory:' });
  store.putSubscription({ id: 'r', url: 'http://127.0.0.1:9/', secret: SECRET, events: ['revocation'] });
  store.putSubscription({ id: 'a', url: 'http://127.0.0.1:9/', secret: SECRET, events: ['ready_for_activation', 'drift'] });
  outbox = new Outbox({ store });
  expect(outbox.enqueue(makeEvent('drift', 'alice', ['no_enrolled_device']))).toBe(1);
  expect(outbox.enqueue(makeEvent('revocation', 'alice', ['identity_not_active']))).toBe(1);
  expect(outbox.depth()).toBe(2);
});

test('retries with exponential backoff while the receiver fails, counting failures', async () => {
  let calls = 0;
  const rx = await receiver(() => (++calls <= 3 ? 503 : 200));
  store = openSqliteStore({ path: ':memory:' });
  store.putSubscription({ id: 's1', url: rx.url, secret: SECRET, events: ['revocation'] });
  const metrics = new Metrics();
  outbox = new Outbox({ store, metrics, baseDelayMs: 40, maxDelayMs: 1000, pollMs: 10 });
  outbox.start();
  const t0 = Date.now();
  outbox.enqueue(makeEvent('revocation', 'alice', ['identity_not_active']));
  await waitFor(() => outbox!.delivered === 1);
  // Waits of ~40, ~80, ~160 ms (±20%) between the 4 attempts.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(0.8 * (40 + 80 + 160));
  expect(rx.got).toHaveLength(4);
  expect(new Set(rx.got.map((g) => g.headers['x-tether-delivery'])).size).toBe(1);
  expect(outbox.failures).toBe(3);
  expect(await metrics.text()).toMatch(/tether_outbox_delivery_failures_total\{subscriber="s1"\} 3/);
  expect(await metrics.text()).toMatch(/tether_outbox_delivered_total\{event="revocation"\} 1/);
  expect(outbox.depth()).toBe(0);
  await rx.close();
});

test('backoff doubles per attempt and is capped', () => {
  store = openSqliteStore({ path: ':memory:' });
  outbox = new Outbox({ store, baseDelayMs: 100, maxDelayMs: 1000 });
  const b = (n: number) => outbox!.backoff(n);
  expect(b(1)).toBeGreaterThanOrEqual(80);
  expect(b(1)).toBeLessThanOrEqual(120);
  expect(b(3)).toBeGreaterThanOrEqual(320);
  expect(b(3)).toBeLessThanOrEqual(480);
  expect(b(20)).toBeLessThanOrEqual(1200);
});

test('an unreachable receiver keeps the event queued; after a restart it is delivered', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-outbox-'));
  const file = path.join(dir, 'tether.db');
  const rx = await receiver();
  store = openSqliteStore({ path: file });
  // Nothing listens on port 9 of loopback: delivery fails.
  store.putSubscription({ id: 's1', url: 'http://127.0.0.1:9/down', secret: SECRET, events: ['revocation'] });
  outbox = new Outbox({ store, baseDelayMs: 10_000, pollMs: 10, timeoutMs: 500 });
  outbox.start();
  const ev = makeEvent('revocation', 'alice', ['identity_deleted']);
  outbox.enqueue(ev);
  await waitFor(() => outbox!.failures >= 1);
  await outbox.stop();
  store.close();

  // "Restart": a new store and outbox on the same file; the receiver is back at a new address.
  store = openSqliteStore({ path: file });
  store.putSubscription({ id: 's1', url: rx.url, secret: SECRET, events: ['revocation'] });
  outbox = new Outbox({ store, pollMs: 10 });
  expect(outbox.depth()).toBe(1);
  outbox.start();
  await waitFor(() => rx.got.length === 1);
  expect(JSON.parse(rx.got[0].body).id).toBe(ev.id);
  await waitFor(() => outbox!.depth() === 0);
  await rx.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('deleting a subscription drops its queued rows', () => {
  store = openSqliteStore({ path: ':memory:' });
  store.putSubscription({ id: 's1', url: 'http://127.0.0.1:9/', secret: SECRET, events: ['revocation'] });
  outbox = new Outbox({ store });
  outbox.enqueue(makeEvent('revocation', 'alice', ['identity_deleted']));
  store.deleteSubscription('s1');
  outbox.forgetSubscription('s1');
  expect(outbox.depth()).toBe(0);
});

test('a subscription URL with credentials (stored before they were refused) never puts them in the log', async () => {
  store = openSqliteStore({ path: ':memory:' });
  store.putSubscription({ id: 's1', url: 'http://127.0.0.1:9/hook', secret: SECRET, events: ['revocation'] });
  store.db.prepare(`UPDATE subscriptions SET body = json_set(body, '$.url', 'http://hookuser:HookPassw0rdLEAK@127.0.0.1:9/hook')`).run();
  const logged: string[] = [];
  outbox = new Outbox({ store, pollMs: 20, baseDelayMs: 10, onError: (msg, fields) => logged.push(msg + ' ' + JSON.stringify(fields)) });
  outbox.start();
  outbox.enqueue(makeEvent('revocation', 'alice', ['identity_not_active']));
  await waitFor(() => logged.some((l) => l.includes('webhook delivery failed')));
  expect(logged.join('\n')).toContain('***@127.0.0.1');
  expect(logged.join('\n')).not.toContain('HookPassw0rdLEAK');
});
