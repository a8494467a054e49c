// raw-http: the request bytes the warm-up and the paced load generator write, and how the first response
// in a buffer is framed (Content-Length, chunked, no body), including while it is still arriving.
import { rawRequest, responseFrame } from '../../src/api/raw-http';

test('a request is its line, the headers as given, Content-Length for a body, then the body', () => {
  expect(rawRequest('GET', '/a?b=1', { host: 'h' }).toString('latin1')).toBe('GET /a?b=1 HTTP/1.1\r\nhost: h\r\n\r\n');
  expect(rawRequest('POST', '/d', { host: 'h', 'content-type': 'application/json' }, Buffer.from('{"é":1}')).toString('utf8'))
    .toBe('POST /d HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n{"é":1}');
});

test('a Content-Length response ends after its body, and not before the body has arrived', () => {
  const whole = Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK');
  expect(responseFrame(whole.subarray(0, 40))).toBeUndefined();
  const f = responseFrame(whole)!;
  expect(f).toMatchObject({ status: 403, framing: 'length' });
  expect(whole.subarray(f.bodyStart, f.bodyEnd).toString()).toBe('hello');
  expect(whole.subarray(f.bodyEnd).toString()).toBe('HTTP/1.1 200 OK');
});

test('a chunked response ends after its last chunk; one with neither has no body', () => {
  const chunked = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n');
  expect(responseFrame(chunked.subarray(0, chunked.length - 2))).toBeUndefined();
  expect(responseFrame(chunked)).toMatchObject({ status: 200, framing: 'chunked', bodyEnd: chunked.length });
  expect(responseFrame(Buffer.from('HTTP/1.1 204 No Content\r\nX: y\r\n\r\n'))).toMatchObject({ status: 204, framing: 'none', bodyStart: 33, bodyEnd: 33 });
  expect(responseFrame(Buffer.from('HTTP/1.1 200 OK\r\nContent-'))).toBeUndefined();
});
