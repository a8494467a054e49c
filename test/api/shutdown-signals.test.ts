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
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^cannot open state store at .*tether\.db: file is not a database/m);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

/** Spawns `node --require tsx/cjs <args>` in the repo; resolves once it logs "listening" (logs go to stderr). */
async function startServer(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TETHER_API_TOKEN: TOKEN, TETHER_LOG_LEVEL: 'info', TETHER_POLICY_WATCH: 'false', TETHER_WARMUP_REQUESTS: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const out: { log: string; exit?: string } = { log: '' };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => {
      out.exit = String(signal ?? code);
      r({ code, signal });
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start: ${out.log}`)), 45_000);
    child.stderr!.on('data', (c: Buffer) => {
      out.log += c.toString();
      const m = /"msg":"listening","port":(\d+)/.exec(out.log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', () => reject(new Error(`exited before listening: ${out.log}`)));
  });
  return { child, port, out, exited };
}

/** Waits until the server logged `text`; fails at once if it exits first. */
async function waitForLog(s: Awaited<ReturnType<typeof startServer>>, text: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!s.out.log.includes(text)) {
    if (s.out.exit) throw new Error(`the server exited (${s.out.exit}) before logging ${text}`);
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One decision (an unknown subject: a deny) on its own connection; resolves with its decision_id. */
function decide(port: number, subject: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/decide', agent: false, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`decide: ${res.statusCode} ${body}`));
        resolve((JSON.parse(body) as { decision_id: string }).decision_id);
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ action: 'activate', subject }));
  });
}

const loggedIds = (file: string): string[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);

test('SIGHUP reopens the decision log at its path: later decisions land in the new file, none lost or reordered, the server keeps serving', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'decisions.log');
  const s = await startServer(['src/cli.ts', 'serve'], { TETHER_DATA_DIR: path.join(dir, 'data'), TETHER_DECISION_LOG: file });
  try {
    const before: string[] = [];
    for (let i = 0; i < 20; i++) before.push(await decide(s.port, `before-${i}`));
    // logrotate: rename, then `postrotate kill -HUP`. Some of the lines may still be buffered.
    fs.renameSync(file, `${file}.1`);
    s.child.kill('SIGHUP');
    await waitForLog(s, '"msg":"decision log reopened"');
    const after: string[] = [];
    for (let i = 0; i < 20; i++) after.push(await decide(s.port, `after-${i}`));
    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    const rotated = loggedIds(`${file}.1`);
    const fresh = loggedIds(file);
    expect([...rotated, ...fresh]).toEqual([...before, ...after]);
    expect(fresh.slice(-after.length)).toEqual(after);
    const line = s.out.log.split('\n').find((l) => l.includes('"msg":"decision log reopened"'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 'info', reason: 'signal', file });
    expect(line).not.toMatch(/before-|after-/); // no entry contents
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('SIGHUP without a decision log file does not stop the server; it says so in one line', async () => {
  const s = await startServer([path.join(__dirname, 'fixtures/serve-state.ts')], { TETHER_DATA_DIR: tempDir() });
  try {
    s.child.kill('SIGHUP');
    await waitForLog(s, '"msg":"SIGHUP: no decision log file to reopen"');
    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.out.log).toContain('"msg":"stopped"');
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('a SIGHUP while `tether serve` is still starting is ignored (the CLI guards it from its first import); other commands keep the default', () => {
  const run = (cmd: string) => spawnSync(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'fixtures/early-hangup.ts'), cmd], { cwd: ROOT, timeout: 30_000 });
  expect(run('serve')).toMatchObject({ status: 0, signal: null });
  expect(run('build')).toMatchObject({ status: null, signal: 'SIGHUP' });
  // The guard is the CLI's first import, so it is in place before any other module loads.
  const imports = fs.readFileSync(path.join(ROOT, 'src/cli.ts'), 'utf8').split('\n').filter((l) => l.startsWith('import '));
  expect(imports[0]).toContain("'./cli/early-hangup'");
});

