// Helpers of the kill -9 durability matrix (kill-matrix.test.ts): the real `tether serve` as a child process
// (node --require tsx/cjs src/cli.ts serve, so a SIGKILL hits the server itself, not a tsx wrapper), plain
// HTTP calls that can SIGKILL the server the moment an acknowledgement has been read, and local receivers
// that stand in for a webhook subscriber and an SSF push receiver, up or down on demand.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

export const API_TOKEN = 'durability-api-token-0123456789';

/** A running `tether serve` process. */
export interface Proc {
  child: ChildProcess;
  port: number;
  /** Everything it wrote to stdout/stderr (its JSON log lines). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL now (synchronous: no further JavaScript of the caller runs before the signal is sent). */
  kill(): void;
}

/** Starts `tether serve` on 127.0.0.1:0 with `env` over the inherited environment; resolves once it listens. */
export function startServer(env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      TETHER_API_TOKEN: API_TOKEN,
      TETHER_POLICY_WATCH: 'false',
      TETHER_WARMUP_REQUESTS: '0', // start-up time matters here, not first-request latency
      TETHER_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start: ' + buf.slice(-3000))), 60_000);
    let done = false;
    const onData = (c: Buffer) => {
      buf += c.toString();
      const m = /"msg":"listening","port":(\d+)/.exec(buf);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => buf, exited, kill: () => void child.kill('SIGKILL') });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`server exited during start (${code ?? signal}): ${buf.slice(-3000)}`));
    });
  });
}

/** SIGKILLs the server (if still running) and waits for it to be gone. */
export async function killHard(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.kill();
  const exit = await p.exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`server ended with ${exit.code ?? exit.signal}, not SIGKILL: ${p.output().slice(-2000)}`);
}

/** An HTTP answer. */
export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Options of call(). */
export interface CallOpts {
  /** JSON body (serialised), or a raw string body with `contentType`. */
  json?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Bearer token; default the API token; null sends no Authorization. */
  token?: string | null;
  /** Runs synchronously once the whole answer has been read, before the promise resolves (a SIGKILL). */
  onAck?: (res: Res) => void;
}

/** One request on a fresh connection (no keep-alive sockets left behind a killed server). */
export function call(port: number, method: string, p: string, o: CallOpts = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = o.raw ?? (o.json === undefined ? undefined : JSON.stringify(o.json));
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? API_TOKEN : o.token;
    if (token !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) headers.Authorization = `Bearer ${token}`;
    if (data !== undefined) headers['Content-Type'] = o.contentType ?? 'application/json';
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        const out: Res = { status: res.statusCode ?? 0, headers: res.headers, text, body };
        o.onAck?.(out);
        resolve(out);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** An onAck that SIGKILLs `p` once `n` acknowledgements have been read (the kill follows the last one at once). */
export function killAfterAcks(p: Proc, n: number): (res: Res) => void {
  let left = n;
  return () => {
    if (--left === 0) p.kill();
  };
}

/** A delivery a local receiver got. */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

/** A local HTTP receiver answering `status` (200 up, 503 down) and recording every request. */
export interface Receiver {
  url: string;
  got: Received[];
  status: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const rx: Receiver = { url: '', got: [], status: 200, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = rx.status;
      rx.got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rx.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  rx.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return rx;
}

/** Polls `fn` every 20 ms until it returns a value other than undefined/false, or throws after `ms`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
