// Kill -9 in the middle of a bulk import, restart on the same data dir: every record the server
// acknowledged (single PUTs and every batch up to the last committed_through_line) is there.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { tempDir, TOKEN } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(__dirname, 'fixtures/serve-state.ts');

interface Server {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', FIXTURE], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      TETHER_DATA_DIR: dataDir,
      TETHER_API_TOKEN: TOKEN,
      TETHER_IMPORT_BATCH: '500',
      TETHER_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 45_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /"msg":"listening","port":(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), exited });
      }
    });
    child.on('exit', () => reject(new Error(`server exited during start: ${err}`)));
  });
}

function call(port: number, method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path: p, headers: { Authorization: `Bearer ${TOKEN}`, ...(data && { 'Content-Type': 'application/json' }) } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

// Streams identity lines until the server dies; resolves with the last acknowledged line number.
function importUntilKilled(server: Server, killAfterLine: number): Promise<{ acked: number; sent: number }> {
  return new Promise((resolve) => {
    let acked = 0;
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ acked, sent });
    };
    const req = http.request({
      host: '127.0.0.1',
      port: server.port,
      method: 'POST',
      path: '/v1/state/import?progress=true',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-ndjson' },
    });
    req.on('error', finish);
    req.on('response', (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          const msg = JSON.parse(l);
          if (typeof msg.committed_through_line === 'number') acked = msg.committed_through_line;
        }
        if (acked >= killAfterLine && !server.child.killed) server.child.kill('SIGKILL');
      });
      res.on('error', finish);
      res.on('close', finish);
    });
    const write = () => {
      while (!done && sent < 2_000_000) {
        sent++;
        const line = JSON.stringify({ kind: 'identity', record: { id: `imp${sent}`, status: 'active', aliases: [`imp${sent}@corp.example`], version: 1 } }) + '\n';
        if (!req.write(line)) return void req.once('drain', write);
      }
    };
    write();
  });
}

async function allIdentityIds(port: number): Promise<Set<string>> {
  const ids = new Set<string>();
  let after = '';
  for (;;) {
    const r = await call(port, 'GET', `/v1/identities?limit=10000&after=${encodeURIComponent(after)}`);
    expect(r.status).toBe(200);
    for (const i of r.body.identities) {
      expect(i.status).toBe('active'); // only whole records
      ids.add(i.id);
    }
    if (!r.body.next_cursor) return ids;
    after = r.body.next_cursor;
  }
}

test('SIGKILL mid-import then restart: every acknowledged record is stored', async () => {
  const dataDir = tempDir();
  const a = await start(dataDir);
  try {
    for (let i = 0; i < 20; i++) {
      const r = await call(a.port, 'PUT', `/v1/identities/put${i}`, { status: 'active', version: 1 });
      expect(r.status).toBe(201);
    }
    const { acked, sent } = await importUntilKilled(a, 5_000);
    expect((await a.exited).signal).toBe('SIGKILL');
    expect(acked).toBeGreaterThanOrEqual(5_000);
    expect(sent).toBeGreaterThan(acked); // the kill really happened mid-import

    const b = await start(dataDir);
    try {
      const ids = await allIdentityIds(b.port);
      for (let i = 0; i < 20; i++) expect(ids.has(`put${i}`)).toBe(true);
      const missing: number[] = [];
      for (let n = 1; n <= acked; n++) if (!ids.has(`imp${n}`)) missing.push(n);
      expect(missing).toEqual([]);
      // aliases were committed with their records
      const r = await call(b.port, 'GET', `/v1/identities/imp${acked}@corp.example`);
      expect(r.body.id).toBe(`imp${acked}`);
    } finally {
      b.child.kill('SIGTERM');
      const exit = await b.exited;
      expect(exit.code).toBe(0); // graceful shutdown on SIGTERM
    }
  } finally {
    if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  }
}, 120_000);
