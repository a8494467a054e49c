// The start-up warm-up: warmUp() serves sample requests to a listener over a private loopback port and
// closes it; serve() runs it before listening, keeping its synthetic decisions out of the decision log
// and the request metrics, and the callers module offers samples shaped as each proxy and Okta send them.
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { warmUp, type WarmupRequest } from '../../src/api/warmup';
import { callersWarmup } from '../../src/api/routes/callers';
import { WARMUP_SUBJECT } from '../../src/api/routes/decide';
import { loadCallersConfig } from '../../src/callers/config';
import { serve } from '../../src/server';
import { tempDir, TOKEN } from './helpers';

const samples: WarmupRequest[] = [
  { method: 'POST', path: '/a', headers: { 'x-k': '1' }, body: { n: 1 } },
  { method: 'GET', path: '/b?q=2' },
  { method: 'POST', path: '/c', body: { n: 3 } },
];

function recordingListener(seen: string[], status = (url: string) => (url === '/b?q=2' ? 403 : 200)) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers['x-k'] ?? '-'} ${body || '-'}`);
      const out = JSON.stringify({ ok: true });
      res.writeHead(status(req.url ?? ''), { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  };
}

test('warmUp serves exactly the requested number of requests, cycling through the samples, and counts answers by status', async () => {
  const seen: string[] = [];
  const r = await warmUp(recordingListener(seen), samples, { requests: 10, connections: 1, perConnection: 4 });
  expect(r.requests).toBe(10);
  expect(r.statuses).toEqual({ '200': 7, '403': 3 });
  expect(seen.slice(0, 4)).toEqual(['POST /a 1 {"n":1}', 'GET /b?q=2 - -', 'POST /c - {"n":3}', 'POST /a 1 {"n":1}']);
  expect(seen).toHaveLength(10);
});

test('warmUp with several connections still serves each request once', async () => {
  const seen: string[] = [];
  const r = await warmUp(recordingListener(seen), samples, { requests: 301, connections: 4, perConnection: 7 });
  expect(r.requests).toBe(301);
  expect(seen).toHaveLength(301);
  expect(seen.filter((s) => s.startsWith('GET /b'))).toHaveLength(100);
});

test('warmUp closes its listener: nothing listens on its port afterwards', async () => {
  let port = 0;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    port = req.socket.localPort ?? 0;
    res.writeHead(200, { 'content-length': 0 }).end();
  };
  await warmUp(listener, samples, { requests: 3 });
  expect(port).toBeGreaterThan(0);
  await expect(new Promise((resolve, reject) => net.connect(port, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toThrow(/ECONNREFUSED/);
});

test('warmUp gives up at its deadline when answers never come, and does nothing without samples', async () => {
  const hang = () => undefined;
  const started = Date.now();
  const r = await warmUp(hang, samples, { requests: 5, timeoutMs: 300 });
  expect(r.requests).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(await warmUp(recordingListener([]), [], { requests: 5 })).toEqual({ requests: 0, ms: 0, statuses: {} });
});

test('an answer without Content-Length ends that connection instead of hanging the warm-up', async () => {
  const chunked = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a');
    res.end('b');
  };
  const r = await warmUp(chunked, samples, { requests: 4, connections: 1, perConnection: 4, timeoutMs: 5_000 });
  expect(r.requests).toBe(0);
});

test('callers samples carry the trusted subject header and the Okta hook secret as configured, and exist only then', () => {
  const withHeader = callersWarmup(loadCallersConfig({ env: {
    TETHER_PROXY_SUBJECT_HEADER: 'X-Auth-Request-Email', TETHER_OKTA_HOOK_SECRET: 'okta-secret-0123456789',
  } }));
  const nginx = withHeader.find((s) => s.path.startsWith('/v1/authz/nginx'))!;
  expect(nginx.headers).toMatchObject({ 'x-auth-request-email': WARMUP_SUBJECT, 'x-device-id': 'tether-warmup-device', 'x-original-uri': expect.any(String) });
  const okta = withHeader.find((s) => s.path === '/v1/hooks/okta/token')!;
  expect(okta.headers).toMatchObject({ authorization: 'okta-secret-0123456789' });
  expect(okta.body).toMatchObject({ eventType: 'com.okta.oauth2.tokens.transform' });

  expect(withHeader.map((s) => s.path.split('?')[0])).toEqual(['/v1/authz/nginx', '/v1/authz/nginx', '/v1/authz/traefik', '/v1/authz/envoy/warmup', '/v1/hooks/okta/token']);

  // With a caller secret every proxy sample carries it (or it would only warm the 403 path).
  const secret = 'proxy-secret-0123456789';
  const withSecret = callersWarmup(loadCallersConfig({ env: { TETHER_PROXY_SUBJECT_HEADER: 'X-Auth-Request-Email', TETHER_PROXY_SECRET: secret } }));
  expect(withSecret.length).toBe(4);
  for (const s of withSecret) expect(s.headers).toMatchObject({ 'x-tether-proxy-secret': secret });
  expect(nginx.headers).not.toHaveProperty('x-tether-proxy-secret');

  // Nothing Tether could authenticate as: no samples (the decision routes still have theirs).
  expect(callersWarmup(loadCallersConfig({ env: {} }))).toEqual([]);
});

// The log's flush() resolves once the file stream took the lines; the file has them a moment later.
async function logLines(file: string, atLeast: number): Promise<unknown[]> {
  const read = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown) : []);
  for (let i = 0; i < 100 && read().length < atLeast; i++) await new Promise((r) => setTimeout(r, 20));
  return read();
}

describe('serve() warms up before it listens', () => {
  const messages: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const logger = {
    debug: () => undefined,
    info: (msg: string, fields?: Record<string, unknown>) => messages.push({ msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => messages.push({ msg, fields }),
    error: (msg: string, fields?: Record<string, unknown>) => messages.push({ msg, fields }),
  };
  let running: Awaited<ReturnType<typeof serve>>;
  let decisionLog: string;
  const get = (url: string) => fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });

  beforeAll(async () => {
    const dir = tempDir();
    decisionLog = path.join(dir, 'decisions.log');
    const callers = path.join(dir, 'callers.json');
    fs.writeFileSync(callers, JSON.stringify({ proxy: { subject_header: 'X-Auth-Request-Email' }, okta: { auth: { type: 'header', header: 'Authorization', secret: 'okta-secret-0123456789' } } }));
    process.env.TETHER_CALLERS_CONFIG = callers;
    try {
      running = await serve({
        env: {
          PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: path.join(dir, 'data'), TETHER_API_TOKEN: TOKEN, TETHER_POLICY_DIR: path.join(__dirname, '../../policies'),
          TETHER_POLICY_WATCH: 'false', TETHER_DECISION_LOG: decisionLog, TETHER_WARMUP_REQUESTS: '400',
        },
        logger,
        handleSignals: false,
      });
    } finally {
      delete process.env.TETHER_CALLERS_CONFIG;
    }
  });
  afterAll(() => running.shutdown('test done'));

  test('every sample was answered by the real routes (decisions, proxy denials, the Okta error), none failed', () => {
    const done = messages.find((m) => m.msg === 'warmed up')!;
    expect(done.fields).toMatchObject({ requests: 400 });
    const statuses = done.fields!.statuses as Record<string, number>;
    expect(Object.keys(statuses).sort()).toEqual(['200', '403']);
    expect(messages.findIndex((m) => m.msg === 'warmed up')).toBeLessThan(messages.findIndex((m) => m.msg === 'listening'));
  });

  test('warm-up decisions are neither logged nor counted; the first real decision is both', async () => {
    const log = running.ctx.decisionLog as { flush(): Promise<void> };
    await log.flush();
    expect(await logLines(decisionLog, 1)).toEqual([]);
    const before = await (await get(`${running.url}/metrics`)).text();
    expect(before).not.toMatch(/^tether_decisions_total\{/m);
    expect(before).not.toMatch(/^tether_http_requests_total\{[^}]*route="\/v1\/decide"/m);

    const res = await fetch(`${running.url}/v1/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'activate', subject: 'someone-real' }),
    });
    const decision = (await res.json()) as { decision_id: string };
    await log.flush();
    const lines = await logLines(decisionLog, 1);
    expect(lines).toEqual([expect.objectContaining({ decision_id: decision.decision_id, subject: 'someone-real' })]);
    const after = await (await get(`${running.url}/metrics`)).text();
    expect(after).toMatch(/^tether_decisions_total\{action="activate",allow="false",reason="identity_unknown"\} 1$/m);
  });
});

test('TETHER_WARMUP_REQUESTS=0 starts without a warm-up', async () => {
  const messages: string[] = [];
  const logger = { debug: () => undefined, info: (m: string) => messages.push(m), warn: (m: string) => messages.push(m), error: (m: string) => messages.push(m) };
  const running = await serve({
    env: { PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: tempDir(), TETHER_API_TOKEN: TOKEN, TETHER_WARMUP_REQUESTS: '0', TETHER_POLICY_WATCH: 'false' },
    services: [],
    logger,
    handleSignals: false,
  });
  await running.shutdown('test done');
  expect(messages).toContain('listening');
  expect(messages).not.toContain('warmed up');
});
