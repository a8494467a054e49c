// Over HTTP with an injected clock: state written through the API, the service's own timers running,
// and the clock moved past a device's max ages. Each level crossed reaches a webhook subscriber as a
// signed `device_state_stale` revocation, once, while the decisions deny that level and allow the others.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { createContext, createLogger } from '../../src/api/context';
import { routeModules } from '../../src/api/routes';
import { loadConfig } from '../../src/config';
import { Decider } from '../../src/engine/decider';
import { LifecycleService } from '../../src/lifecycle/service';
import { openSqliteStore } from '../../src/state/store';
import { shippedData, shippedEngine, TestEngines } from '../policies/shipped-policies';

jest.setTimeout(120_000);

const TOKEN = 'test-api-token-0123456789';
const SECRET = 'whsec-0123456789abcdef';
const T0 = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const maxAge = (level: string) => (shippedData().config as { max_age_ns: Record<string, number> }).max_age_ns[level] / 1e6;

let now = T0;
const got: Array<{ body: string; sig: string | undefined }> = [];
let receiver: http.Server;
let hook: string;
let dir: string;
let close: () => Promise<void>;
let app: http.RequestListener;
let lifecycle: LifecycleService;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString(), sig: req.headers['x-tether-signature'] as string | undefined });
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;

  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-stale-http-'));
  const config = { ...loadConfig({ TETHER_DATA_DIR: dir, TETHER_DECISION_LOG: 'off' }), apiToken: TOKEN };
  const store = openSqliteStore({ path: ':memory:', now: () => new Date(now) });
  const ctx = createContext({ config, store, logger: createLogger('silent') });
  const engines = new TestEngines(await shippedEngine());
  // Wired as startDecisions wires them, on the test clock.
  let l: LifecycleService | undefined;
  const decider = new Decider({ store, engines, now: () => now, statusSince: (id) => l?.statusSince(id) });
  l = new LifecycleService({ store, engine: () => decider.engine(), policyData: () => engines.baseData(), now: () => now, deadlineMs: 10, outbox: { pollMs: 10, baseDelayMs: 10 } });
  lifecycle = l;
  ctx.decider = decider;
  ctx.lifecycle = lifecycle;
  ctx.outbox = lifecycle.outbox;
  app = createApp(ctx, routeModules.filter((m) => ['state', 'decide', 'lifecycle', 'subscriptions'].includes(m.name)));
  close = async () => {
    await lifecycle.stop();
    decider.close();
    store.close();
  };
});
afterAll(async () => {
  await close();
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TOKEN}` };
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}
const decide = async (app_: string) =>
  (await request(app).post('/v1/decide').send({ action: 'access', subject: 'alice', device: 'mac-1', resource: { app: app_ } }).expect(200)).body as { allow: boolean; reasons: string[] };

test('a device ageing past each max age reaches subscribers as one signed device_state_stale revocation per level', async () => {
  const observed = T0 - HOUR;
  await request(app).put('/v1/identities/alice').set(auth).send({ status: 'active', proofed: true, aliases: ['alice@example.com'], activated_at: iso(T0 - 30 * 24 * HOUR) }).expect(201);
  await request(app).put('/v1/devices/mac-1').set(auth).send({ owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: iso(observed) }).expect(201);
  await request(app).post('/v1/subscriptions').set(auth).send({ url: hook, secret: SECRET, events: ['revocation'] }).expect(201);
  lifecycle.start();
  expect(await decide('payroll')).toMatchObject({ allow: true });

  // Past the high max age: the timer finds the owner's deadline and the revocation goes out.
  now = observed + maxAge('high') + 1;
  await until(() => got.length >= 1);
  expect(got).toHaveLength(1);
  expect(got[0].sig).toBe('sha256=' + createHmac('sha256', SECRET).update(got[0].body).digest('hex'));
  expect(JSON.parse(got[0].body)).toMatchObject({
    type: 'revocation',
    identity: 'alice',
    reason: 'device_state_stale',
    reasons: ['device_state_stale'],
    device: 'mac-1',
    record: { kind: 'device', id: 'mac-1' },
    sensitivity: 'high',
    observed_at: iso(observed),
    stale_at: iso(observed + maxAge('high')),
    fresh_for: ['moderate', 'low'],
    max_sensitivity: 'moderate',
    stale_everywhere: false,
  });
  // The decisions say the same: high apps are denied as stale, moderate ones still allowed.
  expect(await decide('payroll')).toMatchObject({ allow: false, reasons: ['device_state_stale'] });
  expect(await decide('email')).toMatchObject({ allow: true });
  // Reading the lifecycle (a refresh) and the next rechecks do not repeat it.
  await request(app).get('/v1/lifecycle/alice').set(auth).expect(200);
  lifecycle.flushRefresh();
  await lifecycle.outbox.flush();
  expect(got).toHaveLength(1);

  now = observed + maxAge('low') + 1; // moderate and low both passed
  await until(() => got.length >= 3);
  await lifecycle.outbox.flush();
  const bodies = got.map((g) => JSON.parse(g.body) as { sensitivity: string; stale_everywhere: boolean });
  expect(bodies.map((b) => [b.sensitivity, b.stale_everywhere]).sort()).toEqual([
    ['high', false],
    ['low', true],
    ['moderate', false],
  ]);
  expect(await decide('wiki')).toMatchObject({ allow: false, reasons: ['device_state_stale'] });
});
