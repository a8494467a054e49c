// Starts the real Tether service (serve(): SQLite store, compiled shipped policies, decider,
// lifecycle, adapters) on 127.0.0.1:0 with adapter settings in the environment, for e2e tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type RunningServer } from '../../../src/server';
import { shippedData, shippedEngine } from '../../policies/shipped-policies';

/** A running service. */
export interface Served {
  server: RunningServer;
  url: string;
  apiToken: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts Tether; `adapterEnv` (TETHER_SCIM_TOKEN, ...) is visible to the adapters while they start.
 * `decisions: true` makes sure a policy engine serves /v1/decide.
 */
export async function serveWithAdapters(adapterEnv: Record<string, string>, opts: { decisions?: boolean } = {}): Promise<Served> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-adapters-e2e-'));
  const apiToken = 'e2e-api-token-0123456789';
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(adapterEnv)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let server: RunningServer;
  try {
    server = await serve({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        TETHER_DATA_DIR: path.join(dir, 'data'),
        TETHER_API_TOKEN: apiToken,
        TETHER_POLICY_DIR: path.join(__dirname, '../../../policies'),
        TETHER_POLICY_WATCH: 'false',
        TETHER_DECISION_LOG: 'off',
        TETHER_LOG_LEVEL: 'error',
        TETHER_SQLITE_SYNC: 'normal',
        ...adapterEnv,
      },
      handleSignals: false,
    });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  // Until serve() loads policies itself, give the decider the shipped policies compiled by our compiler.
  if (opts.decisions && !server.ctx.engine) {
    try {
      const engine = await shippedEngine();
      (server.ctx as { engine?: unknown }).engine = { current: () => engine, baseData: () => shippedData() };
    } catch (err) {
      await server.shutdown('policies unavailable');
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  return {
    server,
    url: server.url,
    apiToken,
    dataDir: path.join(dir, 'data'),
    async stop() {
      await server.shutdown('test done');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
