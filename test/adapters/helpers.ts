// Test harness for adapter tests: a real in-memory state store inside the real Tether app.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RequestListener } from 'node:http';
import { createApp } from '../../src/api/app';
import { createContext, createLogger, type AppContext } from '../../src/api/context';
import { loadConfig } from '../../src/config';
import { openSqliteStore } from '../../src/state/store';
import { adaptersFor, startAdapters, type AdapterSet } from '../../src/adapters';
import { adaptersRouteModule } from '../../src/api/routes/adapters';
import type { RouteModule } from '../../src/api/routes';

/** A running harness; call close() in afterEach. */
export interface Harness {
  ctx: AppContext;
  app: RequestListener;
  adapters: AdapterSet;
  dataDir: string;
  close(): Promise<void>;
}

/** API token of the harness app. */
export const API_TOKEN = 'test-api-token';

/**
 * Builds the app with the adapters configured by `env` (TETHER_SCIM_TOKEN, TETHER_MDM_WEBHOOK_SECRET, ...).
 * Only the adapters' route module is mounted unless `modules` says otherwise (e2e tests add /v1/decide).
 */
export async function harness(
  env: Record<string, string>,
  modules: RouteModule[] = [adaptersRouteModule],
  beforeStart?: (ctx: AppContext) => void | Promise<void>,
): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-adapters-'));
  const config = loadConfig({ TETHER_DATA_DIR: dataDir, TETHER_API_TOKEN: API_TOKEN, TETHER_DECISION_LOG: 'off' });
  const store = openSqliteStore({ path: ':memory:' });
  const ctx = createContext({ config, store, logger: createLogger('silent') });
  const adapters = adaptersFor(ctx, { TETHER_DATA_DIR: dataDir, ...env });
  await beforeStart?.(ctx);
  await startAdapters(ctx);
  const app = createApp(ctx, modules);
  return {
    ctx,
    app,
    adapters,
    dataDir,
    async close() {
      await adapters.registry.stopAll();
      store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
