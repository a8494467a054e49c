// End to end with real processes: a revocation queued while the subscriber is failing survives a
// SIGKILL of the server and is delivered (signed) after the restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const TOKEN = 'e2e-api-token-0123456789';
const SECRET = 'e2e-webhook-secret-0123';

function startServer(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  // node --require tsx/cjs runs the server in THIS process: the tsx CLI would fork a child that survives
  // a SIGKILL of the wrapper (and keeps the store's exclusive lock).
  const proc = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: dataDir, TETHER_API_TOKEN: TOKEN, TETHER_DECISION_LOG: 'off', TETHER_LOG_LEVEL: 'info', TETHER_POLICY_WATCH: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + buf.slice(-2000))), 150_000);
    const onData = (c: Buffer) => {
      buf += c.toString();
      const m = /"msg":"listening","port":(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: `http://127.0.0.1:${m[1]}` });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`server exited ${code}: ${buf.slice(-2000)}`)));
  });
}

/** One authenticated JSON request without connection reuse (no sockets left open after the test). */
function call(method: string, url: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test('queued revocations are delivered after a SIGKILL and restart', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-e2e-'));
  let up = false;
  const got: Array<{ body: string; sig: string; status: number }> = [];
  const rx = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.statusCode = up ? 200 : 503;
      got.push({ body: Buffer.concat(chunks).toString(), sig: String(req.headers['x-tether-signature']), status: res.statusCode });
      res.end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;

  let server = await startServer(dataDir);
  try {
    expect(await call('PUT', `${server.url}/v1/identities/alice`, { status: 'active' })).toBe(201);
    expect(await call('POST', `${server.url}/v1/subscriptions`, { url: hook, secret: SECRET, events: ['revocation'] })).toBe(201);
    expect(await call('PUT', `${server.url}/v1/identities/alice`, { status: 'suspended' })).toBe(200);
    // The subscriber is failing: wait for the first attempt, then kill the server hard.
    for (let i = 0; i < 1000 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got[0]?.status).toBe(503);
  } finally {
    server.proc.kill('SIGKILL');
    await new Promise((r) => server.proc.once('exit', r));
  }

  up = true;
  server = await startServer(dataDir);
  try {
    for (let i = 0; i < 1500 && !got.some((g) => g.status === 200); i++) await new Promise((r) => setTimeout(r, 20));
    const ok = got.find((g) => g.status === 200)!;
    expect(ok).toBeDefined();
    expect(JSON.parse(ok.body)).toMatchObject({ type: 'revocation', identity: 'alice', reason: 'identity_not_active' });
    expect(ok.sig).toBe('sha256=' + createHmac('sha256', SECRET).update(ok.body).digest('hex'));
    expect(JSON.parse(ok.body).id).toBe(JSON.parse(got[0].body).id);
  } finally {
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
    rx.closeAllConnections();
    await new Promise<void>((r) => rx.close(() => r()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
