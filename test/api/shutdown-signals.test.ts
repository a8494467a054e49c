// Signals on the real process: a repeated SIGTERM leaves the graceful shutdown running (the in-flight
// request still completes), answers given during shutdown carry Connection: close, and a failed start
// prints its reason without a stack trace.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tempDir, TOKEN } from './helpers';

jest.setTimeout(60_000);
const ROOT = path.resolve(__dirname, '../..');

test('a second SIGTERM does not cut the shutdown short; the in-flight answer says Connection: close', async () => {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'fixtures/serve-state.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: tempDir(), TETHER_API_TOKEN: TOKEN, TETHER_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start: ${log}`)), 45_000);
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString();
      const m = /"msg":"listening","port":(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/state/import', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-ndjson' } });
  const answer = new Promise<{ status?: number; connection?: string; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body }));
    });
  });
  req.write('{"kind":"identity","record":{"id":"a","status":"active"}}\n');
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  req.end('{"kind":"identity","record":{"id":"b","status":"active"}}\n');
  const got = await answer;
  expect(got.status).toBe(200);
  expect(JSON.parse(got.body)).toMatchObject({ imported: 2, rejected: 0 });
  expect(got.connection).toBe('close');
  expect(await exited).toBe(0);
  expect(log).toContain('"msg":"already shutting down"');
  expect(log).toContain('"msg":"stopped"');
});

test('a failed start says why in one line, without a stack trace', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'tether.db'), Buffer.alloc(8192, 7));
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', 'src/cli.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TETHER_DATA_DIR: dir, TETHER_API_TOKEN: TOKEN, TETHER_LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 45_000,
  });
  expect(r.status).toBe(70);
  expect(r.stderr).toMatch(/^tether: StateUnavailableError: cannot open state store at .*tether\.db: file is not a database/m);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});
