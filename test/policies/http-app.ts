// Test helper (not a test): the real express app with the state, decision, lifecycle and
// subscription routers over an in-memory store and the shipped policies; no socket is opened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { RequestListener } from 'node:http';
import { createApp } from '../../src/api/app';
import { createContext, createLogger, type AppContext } from '../../src/api/context';
import { routeModules } from '../../src/api/routes';
import { loadConfig } from '../../src/config';
import { startDecisions } from '../../src/lifecycle/module';
import type { LifecycleService } from '../../src/lifecycle/service';
import { openSqliteStore } from '../../src/state/store';
import { shippedEngine, TestEngines } from './shipped-policies';

export const API_TOKEN = 'test-api-token-0123456789';
export const DECISION_TOKEN = 'test-decision-token-0123456789';

export interface TestApp {
  app: RequestListener;
  ctx: AppContext;
  engines: TestEngines;
  lifecycle: LifecycleService;
  close(): Promise<void>;
}

/** Builds the app; `decisionToken` turns on decision-route auth. */
export async function testApp(opts: { decisionToken?: boolean } = {}): Promise<TestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-http-'));
  const config = { ...loadConfig({ TETHER_DATA_DIR: dir, TETHER_DECISION_LOG: 'off' }), apiToken: API_TOKEN, decisionToken: opts.decisionToken ? DECISION_TOKEN : undefined };
  const store = openSqliteStore({ path: ':memory:' });
  const ctx = createContext({ config, store, logger: createLogger('silent') });
  const engines = new TestEngines(await shippedEngine());
  const { lifecycle, decider } = startDecisions(ctx, engines, { start: false });
  const wanted = new Set(['state', 'decide', 'lifecycle', 'subscriptions']);
  const app = createApp(ctx, routeModules.filter((m) => wanted.has(m.name)));
  return {
    app,
    ctx,
    engines,
    lifecycle,
    async close() {
      await lifecycle.stop();
      decider.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An authenticated state write. */
export async function put(app: RequestListener, url: string, body: unknown): Promise<request.Response> {
  const res = await request(app).put(url).set('authorization', `Bearer ${API_TOKEN}`).send(body as object);
  if (res.status >= 300) throw new Error(`PUT ${url} → ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** An authenticated POST that must succeed. */
export async function post(app: RequestListener, url: string, body: unknown): Promise<request.Response> {
  const res = await request(app).post(url).set('authorization', `Bearer ${API_TOKEN}`).send(body as object);
  if (res.status >= 300) throw new Error(`POST ${url} → ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** RFC 3339 of `ms` milliseconds ago. */
export const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
export const HOUR = 3600_000;
export const DAY = 24 * HOUR;
