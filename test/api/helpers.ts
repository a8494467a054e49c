// Test fixtures for the API: a real app over a real (in-memory or temp-file) SQLite store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/api/app';
import { routeModules } from '../../src/api/routes';
import { createContext, createLogger, type AppContext } from '../../src/api/context';
import { loadConfig, type Config } from '../../src/config';
import { openSqliteStore, type StateStore } from '../../src/state/store';

/** Route modules the state/api suites exercise. */
export const OWN_ROUTES = ['health', 'state'];

export const TOKEN = 'test-api-token-0123456789';

/** A context + app over an in-memory store; `env` overrides configuration variables. */
export function makeApp(env: Record<string, string> = {}, storePath = ':memory:') {
  const config: Config = loadConfig({ TETHER_DATA_DIR: os.tmpdir(), TETHER_API_TOKEN: TOKEN, ...env });
  const store = openSqliteStore({
    path: storePath,
    residentBytes: config.residentBytes, // on, as `tether serve` runs: the replicas fill between requests
    maxExceptionHours: config.maxExceptionHours,
    maxBreakGlassMinutes: config.maxBreakGlassMinutes,
    maxClockSkewSeconds: config.maxClockSkewSeconds,
  });
  const ctx: AppContext = createContext({ config, store, logger: createLogger('silent') });
  // Only the routers this suite owns, so other features' work in progress cannot break these tests.
  const app = createApp(ctx, routeModules.filter((m) => OWN_ROUTES.includes(m.name)));
  return { ctx, app, store, config };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'tether-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const auth = { Authorization: `Bearer ${TOKEN}` };

/** Everything the store holds (break-glass windows of `breakGlassOf`), as text: for "nothing changed". */
export function storeSnapshot(store: StateStore, breakGlassOf: string[] = []): string {
  return JSON.stringify({
    counts: store.counts(),
    identities: store.listIdentities({ limit: 10_000 }).items,
    devices: store.listDevices({ limit: 10_000 }).items,
    exceptions: store.listExceptions(undefined, { includeExpired: true }),
    breakGlass: breakGlassOf.map((id) => store.getBreakGlass(id) ?? null),
    apps: store.listApps(),
    subscriptions: store.listSubscriptions(),
  });
}
