// Start-up warm-up: before a server listens on its port, it serves itself a few thousand sample
// requests (decisions, proxy checks, hook calls) over a private loopback listener, so V8 has compiled the
// request path and node's HTTP code has type feedback before the first real request. Measured on this VM
// (bench/README "Start-up warm-up", ten restarts each): the p99 of the first 10 s of decisions at
// 1,000 req/s was 6.5–46 ms (median 13) without it and 3.5–11.7 ms (median 5.4) with 5,000 requests.
//
// The client writes raw HTTP/1.1 on net sockets (raw-http.ts) rather than using node's http client: the
// client's ClientRequest/IncomingMessage objects would go through the same shared HTTP code and widen
// exactly the caches this is meant to keep narrow.
import http, { type RequestListener } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { rawRequest, responseFrame } from './raw-http';

/** A sample request a route module offers for the warm-up (answers are read and discarded). */
export interface WarmupRequest {
  method: 'GET' | 'POST';
  /** Absolute path with query, e.g. `/v1/authz/nginx?app=x`. */
  path: string;
  headers?: Record<string, string>;
  /** A JSON body (POST). */
  body?: unknown;
}

/** What a warm-up did. */
export interface WarmupResult {
  requests: number;
  ms: number;
  /** Answers by status code (e.g. {"200": 4000, "403": 1000}); useful in the start-up log. */
  statuses: Record<string, number>;
}

/** Options of warmUp. */
export interface WarmupOptions {
  /** Requests in total, cycling through the samples. */
  requests: number;
  /** Concurrent connections (default 4). */
  connections?: number;
  /** Requests per connection before it is closed and a new one opened (default 200: connection set-up is on the path too). */
  perConnection?: number;
  /** Gives up after this long, keeping what was done (default 15 s). */
  timeoutMs?: number;
}

/** Serves `samples` to `listener` on a loopback port only this process knows, then closes it. */
export async function warmUp(listener: RequestListener, samples: readonly WarmupRequest[], opts: WarmupOptions): Promise<WarmupResult> {
  const started = performance.now();
  const statuses: Record<string, number> = {};
  if (samples.length === 0 || opts.requests <= 0) return { requests: 0, ms: 0, statuses };
  const raw = samples.map(serialize);
  const server = http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const deadline = started + (opts.timeoutMs ?? 15_000);
  const perConnection = Math.max(1, opts.perConnection ?? 200);
  let next = 0;
  let done = 0;
  const take = (): Buffer | undefined => (next < opts.requests && performance.now() < deadline ? raw[next++ % raw.length] : undefined);
  const worker = async () => {
    for (;;) {
      const batch: Buffer[] = [];
      for (let b: Buffer | undefined; batch.length < perConnection && (b = take()); ) batch.push(b);
      if (batch.length === 0) return;
      for (const status of await exchange(port, batch, deadline)) {
        statuses[status] = (statuses[status] ?? 0) + 1;
        done++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.connections ?? 4) }, worker));
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { requests: done, ms: performance.now() - started, statuses };
}

function serialize(r: WarmupRequest): Buffer {
  const headers: Record<string, string> = { host: '127.0.0.1', ...(r.headers ?? {}) };
  if (r.body === undefined) return rawRequest(r.method, r.path, headers);
  headers['content-type'] ??= 'application/json';
  return rawRequest(r.method, r.path, headers, Buffer.from(JSON.stringify(r.body)));
}

// Sends the requests one after another on one keep-alive connection and returns each answer's status.
// Answers must carry Content-Length (all of Tether's do); anything else ends the connection early.
function exchange(port: number, requests: Buffer[], deadline: number): Promise<string[]> {
  return new Promise((resolve) => {
    const statuses: string[] = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(statuses);
    };
    const timer = setTimeout(finish, Math.max(0, deadline - performance.now()));
    const send = () => (statuses.length < requests.length ? socket.write(requests[statuses.length]) : finish());
    socket.on('connect', send);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (let frame; (frame = responseFrame(pending)); ) {
        if (frame.framing !== 'length') return finish();
        statuses.push(String(frame.status));
        pending = pending.subarray(frame.bodyEnd);
        send();
      }
    });
  });
}
