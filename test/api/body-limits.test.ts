// Oversized request bodies on a real listening server, seen from a raw node:http client: the 413 comes
// as soon as the declared length or the bytes received pass the limit (not after the whole upload), it
// says `Connection: close`, and the connection is then closed instead of being read to its end. A token
// is still checked before any body is read, and bodies within the limit work as before (keep-alive too).
import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import express, { type ErrorRequestHandler } from 'express';
import { createApp } from '../../src/api/app';
import { bodyReader, type BodyReaderOptions } from '../../src/api/body-reader';
import { isJsonRequest } from '../../src/api/direct/json-body';
import { routeModules } from '../../src/api/routes';
import { harness, type Harness } from '../adapters/helpers';
import { auth, makeApp } from './helpers';

const MB = 1024 * 1024;
const DECLARED = 50 * MB;
const CHUNK = Buffer.alloc(16 * 1024, 'x');

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection; the test decides what to write and when. */
interface Exchange {
  req: http.ClientRequest;
  /** The answer (rejects if the connection ends without one). */
  answer: Promise<Answer>;
  /** Resolves once the connection is closed, by either side. */
  closed: Promise<void>;
  /** Body bytes written so far. */
  sent(): number;
  /** Writes `bytes` of body. */
  write(bytes: Buffer): void;
}

let servers: http.Server[] = [];
let agents: http.Agent[] = [];

async function listen(listener: RequestListener): Promise<number> {
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
  for (const a of agents) a.destroy();
  agents = [];
});

/** A keep-alive client, as browsers, curl and node's global agent are: the server decides whether the connection ends. */
function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  return agent;
}

function exchange(port: number, method: string, path: string, headers: Record<string, string | number>, agent = keepAliveAgent()): Exchange {
  let sent = 0;
  const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent });
  req.on('error', () => undefined); // writing into a connection the server closed: expected here
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('close', () => reject(new Error('connection closed without an answer')));
  });
  answer.catch(() => undefined);
  const closed = new Promise<void>((resolve) => {
    req.on('socket', (s) => s.on('close', () => resolve()));
  });
  return { req, answer, closed, sent: () => sent, write: (b) => void (req.destroyed || (req.write(b), (sent += b.length))) };
}

/** `p`, or a rejection naming `what` after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    }),
  ]);
}

/** Declares a 50 MB body, sends 64 KB of it and then nothing: the answer must come anyway. */
async function declaredHuge(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ answer: Answer; ex: Exchange }> {
  const ex = exchange(port, method, path, { ...headers, 'Content-Length': DECLARED });
  for (let i = 0; i < 4; i++) ex.write(CHUNK);
  const answer = await within(ex.answer, 3000, 'answer to a declared 50 MB body after 64 KB');
  expect(ex.sent()).toBeLessThan(DECLARED);
  return { answer, ex };
}

/** A chunked upload that never ends (16 KB every millisecond until the connection closes). */
async function endless(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ answer: Answer; ex: Exchange }> {
  const ex = exchange(port, method, path, { ...headers, 'Transfer-Encoding': 'chunked' });
  const pump = setInterval(() => ex.write(CHUNK), 1);
  void ex.closed.then(() => clearInterval(pump));
  try {
    const answer = await within(ex.answer, 5000, 'answer to an endless chunked upload');
    await within(ex.closed, 3000, 'close of the connection after the answer to an endless upload');
    return { answer, ex };
  } finally {
    clearInterval(pump);
  }
}

const json = { 'Content-Type': 'application/json' };

describe("the app's JSON routes (deferred body, API token)", () => {
  const app = () => makeApp().app;

  test('a declared Content-Length over the limit gets 413 at once, Connection: close, and the connection is closed', async () => {
    const port = await listen(app());
    const { answer, ex } = await declaredHuge(port, 'PUT', '/v1/identities/alice', { ...auth, ...json });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ code: 'payload_too_large', message: `request body exceeds the limit of ${MB} bytes` });
    expect(answer.headers.connection).toBe('close');
    await within(ex.closed, 3000, 'close after the 413');
  });

  test('an endless chunked upload gets 413 once past the limit and its connection is closed', async () => {
    const port = await listen(app());
    const { answer, ex } = await endless(port, 'PUT', '/v1/identities/alice', { ...auth, ...json });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe('payload_too_large');
    expect(answer.headers.connection).toBe('close');
    expect(ex.sent()).toBeGreaterThan(MB);
  });

  test('an oversized PUT without a token gets 401 (the token is checked before any body is read), then the connection closes', async () => {
    const port = await listen(app());
    const { answer, ex } = await declaredHuge(port, 'PUT', '/v1/identities/alice', json);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).code).toBe('unauthorized');
    expect(answer.headers.connection).toBe('close');
    await within(ex.closed, 3000, 'close after the 401');
    const chunked = await endless(port, 'PUT', '/v1/identities/alice', json);
    expect(chunked.answer.status).toBe(401);
  });

  test('bodies within the limit still work, plain and gzip, on a kept-alive connection', async () => {
    const { app: listener, store } = makeApp();
    const port = await listen(listener);
    const agent = keepAliveAgent();
    {
      const body = JSON.stringify({ status: 'active', attributes: { note: 'y'.repeat(200 * 1024) } });
      const one = exchange(port, 'PUT', '/v1/identities/alice', { ...auth, ...json, 'Content-Length': Buffer.byteLength(body) }, agent);
      one.req.end(body);
      const a = await within(one.answer, 3000, 'answer');
      expect(a.status).toBe(201);
      expect(a.headers.connection).not.toBe('close');
      const packed = zlib.gzipSync(JSON.stringify({ status: 'suspended' }));
      const two = exchange(port, 'PUT', '/v1/identities/bob', { ...auth, ...json, 'Content-Encoding': 'gzip', 'Content-Length': packed.length }, agent);
      two.req.end(packed);
      expect((await within(two.answer, 3000, 'answer')).status).toBe(201);
      expect(two.req.reusedSocket).toBe(true);
      expect(store.getIdentity('alice')?.status).toBe('active');
      expect(store.getIdentity('bob')?.status).toBe('suspended');
      // Still 400/415 for bad bodies, answered after reading them whole (the connection stays usable).
      const bad = exchange(port, 'PUT', '/v1/identities/carol', { ...auth, ...json, 'Content-Length': 10 }, agent);
      bad.req.end('{"status":');
      const b = await within(bad.answer, 3000, 'answer');
      expect(b.status).toBe(400);
      expect(JSON.parse(b.body)).toMatchObject({ code: 'invalid_input', message: 'request body is not valid JSON', errors: [{ path: '', message: 'is not valid JSON' }] });
      expect(b.headers.connection).not.toBe('close');
    }
  });
});

describe('direct routes (/v1/decide on bare node:http)', () => {
  const app = () => {
    const { ctx } = makeApp();
    return createApp(ctx, routeModules.filter((m) => m.name === 'decide'));
  };

  test('a declared length over the limit gets 413 and the connection is closed instead of read to its end', async () => {
    const port = await listen(app());
    const { answer, ex } = await declaredHuge(port, 'POST', '/v1/decide', json);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe('payload_too_large');
    expect(answer.headers.connection).toBe('close');
    await within(ex.closed, 3000, 'close after the 413');
  });

  test('an endless chunked upload gets 413 and its connection is closed', async () => {
    const port = await listen(app());
    const { answer } = await endless(port, 'POST', '/v1/decide', json);
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
  });
});

describe('adapters', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  describe('SCIM (/scim/v2, its own bearer check, then JSON)', () => {
    const scimAuth = { Authorization: 'Bearer scim-token', 'Content-Type': 'application/scim+json' };
    const start = async () => {
      h = await harness({ TETHER_SCIM_TOKEN: 'scim-token' });
      return listen(h.app);
    };
    const scimError = (a: Answer, status: number) => {
      expect(a.status).toBe(status);
      expect(a.headers['content-type']).toMatch(/^application\/scim\+json/);
      expect(JSON.parse(a.body)).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status) });
    };

    test('a declared length over the limit gets its 413 at once and the connection is closed', async () => {
      const port = await start();
      const { answer, ex } = await declaredHuge(port, 'POST', '/scim/v2/Users', scimAuth);
      scimError(answer, 413);
      expect(answer.headers.connection).toBe('close');
      await within(ex.closed, 3000, 'close after the 413');
    });

    test('an endless chunked upload gets 413 and its connection is closed', async () => {
      const port = await start();
      const { answer } = await endless(port, 'POST', '/scim/v2/Users', scimAuth);
      scimError(answer, 413);
      expect(answer.headers.connection).toBe('close');
    });

    test('without the token: 401 first; a normal body is still created', async () => {
      const port = await start();
      const { answer } = await declaredHuge(port, 'POST', '/scim/v2/Users', { 'Content-Type': 'application/scim+json' });
      scimError(answer, 401);
      const body = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice@example.com', active: true });
      const ok = exchange(port, 'POST', '/scim/v2/Users', { ...scimAuth, 'Content-Length': Buffer.byteLength(body) });
      ok.req.end(body);
      expect((await within(ok.answer, 3000, 'answer')).status).toBe(201);
      const bad = exchange(port, 'POST', '/scim/v2/Users', { ...scimAuth, 'Content-Length': 3 });
      bad.req.end('{"a');
      const b = await within(bad.answer, 3000, 'answer');
      scimError(b, 400);
      expect(JSON.parse(b.body).scimType).toBe('invalidSyntax');
    });
  });

  test('Jamf webhook: 413 for an oversized body at once, connection closed', async () => {
    h = await harness({ TETHER_JAMF_URL: 'http://127.0.0.1:9', TETHER_JAMF_CLIENT_ID: 'c', TETHER_JAMF_CLIENT_SECRET: 's', TETHER_JAMF_WEBHOOK_TOKEN: 'hook-token' });
    await (h.adapters.jamf as unknown as { pulling?: Promise<unknown> } | undefined)?.pulling?.catch(() => undefined);
    const port = await listen(h.app);
    const { answer, ex } = await declaredHuge(port, 'POST', '/v1/adapters/jamf/webhook', { Authorization: 'Bearer hook-token', ...json });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe('payload_too_large');
    await within(ex.closed, 3000, 'close after the 413');
    const chunked = await endless(port, 'POST', '/v1/adapters/jamf/webhook', { Authorization: 'Bearer hook-token', ...json });
    expect(chunked.answer.status).toBe(413);
  });

  test('SSF push receiver: RFC 8935 "SET too large" at once, connection closed', async () => {
    h = await harness({ TETHER_SSF_RECEIVER_ISSUER: 'https://idp.example.com/', TETHER_SSF_RECEIVER_JWKS_URI: 'http://127.0.0.1:9/jwks', TETHER_SSF_RECEIVER_AUDIENCE: 'https://tether.example.com/' });
    const port = await listen(h.app);
    const headers = { 'Content-Type': 'application/secevent+jwt' };
    const { answer, ex } = await declaredHuge(port, 'POST', '/v1/adapters/ssf/events', headers);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ err: 'invalid_request', description: 'SET too large' });
    await within(ex.closed, 3000, 'close after the answer');
    const chunked = await endless(port, 'POST', '/v1/adapters/ssf/events', headers);
    expect(JSON.parse(chunked.answer.body).description).toBe('SET too large');
  });
});

describe('bodyReader, as express.json/raw/text were used', () => {
  type Parser = express.RequestHandler;
  const serve = (parser: Parser) => {
    const app = express();
    app.all('/', parser, (req, res) => {
      const b: unknown = req.body;
      res.json(Buffer.isBuffer(b) ? { buffer: b.toString('base64') } : { body: b === undefined ? 'undefined' : b });
    });
    const onError: ErrorRequestHandler = (err: { status?: number; type?: string; message?: string }, _req, res, _next) => {
      void _next;
      res.status(err.status ?? 500).json({ type: err.type, message: err.message });
    };
    app.use(onError);
    return listen(app);
  };
  const send = async (port: number, method: string, headers: Record<string, string | number>, body?: Buffer | string): Promise<Record<string, unknown>> => {
    const ex = exchange(port, method, '/', body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) });
    ex.req.end(body);
    const a = await within(ex.answer, 3000, 'answer');
    return { status: a.status, ...(JSON.parse(a.body) as Record<string, unknown>) };
  };
  /** Each case against body-parser and against bodyReader: the same status, error type and req.body. */
  const sameAs = async (theirs: Parser, ours: BodyReaderOptions, cases: Array<[string, Record<string, string | number>, (Buffer | string)?]>) => {
    const [a, b] = await Promise.all([serve(theirs), serve(bodyReader(ours))]);
    for (const [method, headers, body] of cases) {
      const expected = await send(a, method, headers, body);
      const got = await send(b, method, headers, body);
      if (Number(expected.status) >= 400) expect({ status: got.status, type: got.type }).toEqual({ status: expected.status, type: expected.type });
      else expect(got).toEqual(expected);
    }
  };
  const scim = { 'Content-Type': 'application/scim+json' };

  test('json (as SCIM used it): any JSON value, {} for an empty body, undefined without one or of another type, 400/413/415', async () => {
    await sameAs(express.json({ type: isJsonRequest, limit: '1kb', strict: false }), { as: 'json', type: isJsonRequest, limit: '1kb' }, [
      ['POST', scim, '{"a":[1]}'],
      ['POST', { 'Content-Type': 'application/json' }, 'null'],
      ['POST', { 'Content-Type': 'application/json; charset=utf-8' }, '\ufeff"bom"'],
      ['POST', scim, ''],
      ['POST', scim],
      ['DELETE', scim],
      ['POST', { 'Content-Type': 'text/plain' }, '{}'],
      ['POST', scim, '{"a":'],
      ['POST', { 'Content-Type': 'application/json; charset=latin1' }, '{}'],
      ['POST', { ...scim, 'Content-Encoding': 'compress' }, '{}'],
      ['POST', scim, JSON.stringify('x'.repeat(1100))],
      ['POST', { ...scim, 'Content-Encoding': 'gzip' }, zlib.gzipSync(JSON.stringify('x'.repeat(1100)))],
      ['POST', { ...scim, 'Content-Encoding': 'br' }, zlib.brotliCompressSync('{"z":1}')],
    ]);
  });

  test('buffer (as Jamf used express.raw) and text (as the SSF receiver used express.text)', async () => {
    await sameAs(express.raw({ type: () => true, limit: '256kb' }), { as: 'buffer', limit: '256kb' }, [
      ['POST', { 'Content-Type': 'application/octet-stream' }, Buffer.from([0, 1, 2, 250, 255])],
      ['POST', { 'Content-Type': 'text/xml', 'Content-Encoding': 'deflate' }, zlib.deflateSync('<x/>')],
      ['POST', {}],
      ['POST', { 'Content-Type': 'application/json' }, Buffer.alloc(300 * 1024)],
    ]);
    await sameAs(express.text({ type: () => true, limit: '256kb' }), { as: 'text', limit: '256kb' }, [
      ['POST', { 'Content-Type': 'application/secevent+jwt' }, 'a.b.c'],
      ['POST', { 'Content-Type': 'text/plain; charset=latin1' }, Buffer.from([0x63, 0x61, 0x66, 0xe9])],
      ['POST', { 'Content-Type': 'text/plain; charset=x-unknown' }, 'x'],
      ['POST', { 'Content-Type': 'application/secevent+jwt' }, 'x'.repeat(300 * 1024)],
    ]);
  });
});
