// serve(): listens, prints a generated token once, and shuts down gracefully: stops accepting,
// finishes the in-flight request, runs shutdown hooks (services' stop), then closes the store.
import http from 'node:http';
import { serve } from '../../src/server';
import { tempDir, TOKEN } from './helpers';

test('graceful shutdown finishes an in-flight import, runs hooks, then closes the store', async () => {
  const order: string[] = [];
  const svc = {
    name: 'probe',
    start: (ctx: { readiness: { policiesLoaded: boolean } }) => {
      ctx.readiness.policiesLoaded = true;
      order.push('start');
    },
    stop: () => {
      order.push('stop');
    },
  };
  const running = await serve({
    env: { PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: tempDir(), TETHER_API_TOKEN: TOKEN, TETHER_IMPORT_BATCH: '1', TETHER_LOG_LEVEL: 'error' },
    services: [svc],
    handleSignals: false,
  });
  const { port, ctx } = running;
  expect(order).toEqual(['start']);

  // Open a streaming import and send one line.
  const req = http.request({
    host: '127.0.0.1', port, method: 'POST', path: '/v1/state/import?progress=true',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-ndjson' },
  });
  const lines: any[] = [];
  const response = new Promise<void>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const p of parts) lines.push(JSON.parse(p));
      });
      res.on('end', () => resolve());
    });
  });
  req.write('{"kind":"identity","record":{"id":"early","status":"active"}}\n');
  await waitFor(() => lines.length >= 1);

  const shutdown = running.shutdown('test');
  await new Promise((r) => setTimeout(r, 100));
  expect(ctx.store.isOpen).toBe(true); // still serving the in-flight request
  // New connections are refused once shutdown began.
  await expect(
    new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port, path: '/health' }, resolve).on('error', reject)),
  ).rejects.toThrow(/ECONNREFUSED/);

  req.end('{"kind":"identity","record":{"id":"late","status":"active"}}\n');
  await response;
  expect(lines[lines.length - 1]).toEqual({ done: true, imported: 2, rejected: 0, errors: [] });
  await shutdown;
  expect(order).toEqual(['start', 'stop']);
  expect(ctx.store.isOpen).toBe(false);
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a hanging shutdown hook cannot keep the process or the store open past the shutdown timeout', async () => {
  const lines: string[] = [];
  const { createLogger } = await import('../../src/api/context');
  const running = await serve({
    env: { PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: tempDir(), TETHER_API_TOKEN: TOKEN, TETHER_SHUTDOWN_TIMEOUT_MS: '300' },
    logger: createLogger('error', (l) => lines.push(l)),
    services: [{ name: 'stuck', start: () => undefined, stop: () => new Promise<void>(() => undefined) }],
    handleSignals: false,
  });
  const t = Date.now();
  await running.shutdown();
  expect(Date.now() - t).toBeLessThan(5_000);
  expect(running.ctx.store.isOpen).toBe(false);
  expect(lines.join('')).toContain('"hook":"stuck"');
});

test('a start that fails after services started (bad callers config) stops them and releases the store', async () => {
  const dataDir = tempDir();
  const badConfig = require('node:path').join(dataDir, 'callers.json');
  require('node:fs').writeFileSync(badConfig, JSON.stringify({ proxy: { timeout_ms: 'soon' } }));
  const order: string[] = [];
  const svc = { name: 'probe', start: () => void order.push('start'), stop: () => void order.push('stop') };
  const env = { PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: dataDir, TETHER_API_TOKEN: TOKEN, TETHER_LOG_LEVEL: 'error' };
  // The callers' config file is named by the process environment (src/callers/config.ts).
  process.env.TETHER_CALLERS_CONFIG = badConfig;
  try {
    await expect(serve({ env, services: [svc], handleSignals: false })).rejects.toThrow(/timeout_ms/);
  } finally {
    delete process.env.TETHER_CALLERS_CONFIG;
  }
  expect(order).toEqual(['start', 'stop']);
  // The exclusive SQLite lock was released: the same data dir serves again.
  const again = await serve({ env, services: [], handleSignals: false });
  await again.shutdown('test');
});
