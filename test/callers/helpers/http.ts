// Raw HTTP/1.1 requests with full control over every header (Host included), the way proxies send
// their check requests; fetch() would rewrite Host and add headers of its own.
import http from 'node:http';

/** A received response. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): any;
}

/** Sends one request to 127.0.0.1:`port` with exactly these headers (plus Content-Length when a body is given). */
export function rawRequest(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers, agent: false, setHost: !Object.keys(headers).some((h) => h.toLowerCase() === 'host') }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** A direct route handler (hook or proxy front door) served alone on 127.0.0.1:0, with a fresh state per test. */
export async function serveHandler(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    Promise.resolve(handle(req, res)).catch(() => { if (!res.headersSent) res.writeHead(500).end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
