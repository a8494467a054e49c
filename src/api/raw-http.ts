// HTTP/1.1 on bare sockets, for clients that must not use node's http client: the start-up warm-up
// (its ClientRequest objects would widen the inline caches of the server's own HTTP code) and the
// benchmarks' paced load generator (node's client cost ~10× the CPU per request).
//
// Only what those two need: one request serialized, and where the first response in a buffer ends.

/** A request's bytes: request line, headers as given plus Content-Length for a body, then the body. */
export function rawRequest(method: string, path: string, headers: Record<string, string>, body?: Buffer): Buffer {
  const all = body ? { ...headers, 'content-length': String(body.length) } : headers;
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

/** The first response in a buffer: its status, head, body bounds, and how its length was known. */
export interface ResponseFrame {
  status: number;
  /** Status line and headers, without the blank line. */
  head: string;
  bodyStart: number;
  bodyEnd: number;
  /** Content-Length, chunked (read up to the last chunk), or neither (no body, e.g. 204). */
  framing: 'length' | 'chunked' | 'none';
}

/** Finds the first complete response in `buf`; undefined while it is still arriving. */
export function responseFrame(buf: Buffer): ResponseFrame | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(head.slice(9, 12));
  const bodyStart = end + 4;
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (len) {
    const bodyEnd = bodyStart + Number(len[1]);
    return buf.length < bodyEnd ? undefined : { status, head, bodyStart, bodyEnd, framing: 'length' };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const term = buf.indexOf('\r\n0\r\n\r\n', end + 2);
    return term < 0 ? undefined : { status, head, bodyStart, bodyEnd: term + 7, framing: 'chunked' };
  }
  return { status, head, bodyStart, bodyEnd: bodyStart, framing: 'none' };
}
