// Request bodies of direct routes: limits (declared and streamed), content encodings, aborted uploads,
// and the JSON reader's 415/400 answers.
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { BodyError, readBody } from '../../../src/api/direct/body';
import { readJsonBody } from '../../../src/api/direct/json-body';
import { ApiError } from '../../../src/api/errors';

/** Runs `read` on one request sent with `headers` and `body` (chunked when no content-length is given). */
async function readWith<T>(read: (req: IncomingMessage) => Promise<T>, headers: Record<string, string>, body: Buffer | string, opts: { abort?: boolean } = {}): Promise<T | Error> {
  let outcome!: Promise<T | Error>;
  const server = http.createServer((req, res) => {
    outcome = read(req).then((v) => v, (e: Error) => e);
    void outcome.then(() => res.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      if (opts.abort) {
        req.write(body);
        setTimeout(() => req.destroy(), 50);
      } else req.end(body);
    });
    while (!outcome) await new Promise((r) => setTimeout(r, 5));
    return await outcome;
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const kindOf = (e: unknown) => (e instanceof BodyError ? e.kind : e);

describe('readBody', () => {
  test('returns the whole body', async () => {
    const body = 'x'.repeat(100_000);
    const got = await readWith((req) => readBody(req, 1_000_000), { 'content-length': String(body.length) }, body);
    expect(Buffer.isBuffer(got) && got.toString()).toBe(body);
  });

  test('a declared length over the limit is refused before reading; a chunked body when it crosses it', async () => {
    expect(kindOf(await readWith((req) => readBody(req, 10), { 'content-length': '11' }, 'x'.repeat(11)))).toBe('too_large');
    expect(kindOf(await readWith((req) => readBody(req, 10), { 'transfer-encoding': 'chunked' }, 'x'.repeat(11)))).toBe('too_large');
    const exact = await readWith((req) => readBody(req, 10), { 'transfer-encoding': 'chunked' }, 'x'.repeat(10));
    expect(Buffer.isBuffer(exact) && exact.length).toBe(10);
  });

  test('gzip, deflate and br bodies are inflated, and the limit applies to the inflated size', async () => {
    const text = '{"a":"' + 'y'.repeat(5000) + '"}';
    for (const [enc, z] of [['gzip', zlib.gzipSync], ['deflate', zlib.deflateSync], ['br', zlib.brotliCompressSync]] as const) {
      const packed = z(Buffer.from(text));
      const got = await readWith((req) => readBody(req, 10_000), { 'content-encoding': enc, 'content-length': String(packed.length) }, packed);
      expect(Buffer.isBuffer(got) && got.toString()).toBe(text);
      expect(kindOf(await readWith((req) => readBody(req, 1000), { 'content-encoding': enc, 'content-length': String(packed.length) }, packed))).toBe('too_large');
    }
  });

  test('an unknown encoding and a corrupt gzip body are refused with their own kinds', async () => {
    expect(kindOf(await readWith((req) => readBody(req, 1000), { 'content-encoding': 'compress', 'content-length': '3' }, 'abc'))).toBe('unsupported_encoding');
    expect(kindOf(await readWith((req) => readBody(req, 1000), { 'content-encoding': 'gzip', 'content-length': '9' }, 'not gzip!'))).toBe('malformed_encoding');
  });

  test('a client that disconnects mid-body rejects with aborted instead of hanging', async () => {
    expect(kindOf(await readWith((req) => readBody(req, 1000), { 'content-length': '100' }, 'x'.repeat(10), { abort: true }))).toBe('aborted');
  });
});

describe('readJsonBody', () => {
  const json = (req: IncomingMessage) => readJsonBody(req, 1000);
  const apiError = (e: unknown) => (e instanceof ApiError ? { status: e.status, code: e.code, errors: e.errors } : e);

  test('parses JSON of any application/*+json type; no body is undefined', async () => {
    expect(await readWith(json, { 'content-type': 'application/json', 'content-length': '7' }, '{"a":1}')).toEqual({ a: 1 });
    expect(await readWith(json, { 'content-type': 'application/scim+json; charset=utf-8', 'content-length': '2' }, '[]')).toEqual([]);
    expect(await readWith(json, { 'content-type': 'application/json', 'content-length': '0' }, '')).toBeUndefined();
  });

  test('a non-JSON type or charset is 415; unparsable JSON is 400 naming the body', async () => {
    expect(apiError(await readWith(json, { 'content-type': 'text/plain', 'content-length': '2' }, 'hi'))).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect(apiError(await readWith(json, { 'content-type': 'application/json; charset=latin1', 'content-length': '2' }, '{}'))).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect(apiError(await readWith(json, { 'content-type': 'application/json', 'content-length': '5' }, '{"a":'))).toEqual({ status: 400, code: 'invalid_input', errors: [{ path: '', message: 'is not valid JSON' }] });
  });
});
