// Starts the real Tether service (serve(): SQLite store, shipped policies, every router) on 127.0.0.1:0
// in a temp dir, for tests that need a whole server. `processEnv` is set in process.env while it starts
// (components that read their TETHER_* variables at start) and restored afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve, type RunningServer, type ServeOptions } from '../../src/server';

/** A running Tether in its own temp dir. */
export interface TempServer {
  server: RunningServer;
  url: string;
  port: number;
  apiToken: string;
  dir: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function serveTemp(
  opts: { prefix: string; env?: Record<string, string>; processEnv?: (dir: string) => Record<string, string> } & Pick<ServeOptions, 'logger' | 'heapSettle'>,
): Promise<TempServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  const dataDir = path.join(dir, 'data');
  const apiToken = 'test-api-token-0123456789';
  const processEnv = opts.processEnv?.(dir) ?? {};
  const saved = Object.fromEntries(Object.keys(processEnv).map((k) => [k, process.env[k]]));
  Object.assign(process.env, processEnv);
  let server: RunningServer;
  try {
    server = await serve({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        TETHER_DATA_DIR: dataDir,
        TETHER_API_TOKEN: apiToken,
        TETHER_POLICY_DIR: path.join(__dirname, '../../policies'),
        TETHER_POLICY_WATCH: 'false',
        TETHER_DECISION_LOG: 'off',
        TETHER_LOG_LEVEL: 'error',
        TETHER_SQLITE_SYNC: 'normal',
        TETHER_WARMUP_REQUESTS: '200', // the default 5,000 costs ~1.5 s per server; 200 still runs every sample
        ...processEnv,
        ...opts.env,
      },
      handleSignals: false,
      logger: opts.logger,
      heapSettle: opts.heapSettle,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return {
    server,
    url: server.url,
    port: server.port,
    apiToken,
    dir,
    dataDir,
    async stop() {
      await server.shutdown('test done');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
