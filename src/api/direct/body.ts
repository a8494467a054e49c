// Reads a request body into one Buffer with a size limit, inflating gzip/deflate/br like body-parser,
// for routes served without express and for the express routes' body reader (src/api/body-reader.ts).
// The limit applies to the inflated size. A body that is refused (too large, unsupported or corrupt
// encoding) is not read to its end: the answer says `Connection: close` and the connection is closed
// once it is sent, so an oversized or endless upload costs neither the wait for it nor the reading.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** Why a body could not be read. */
export type BodyErrorKind = 'too_large' | 'aborted' | 'unsupported_encoding' | 'malformed_encoding';

// The status and type body-parser gives the same failures, for error handlers written against it
// (SCIM's and the SSF receiver's map `type`/`status`; the app's maps BodyError itself, errors.ts).
const STATUS: Record<BodyErrorKind, number> = { too_large: 413, aborted: 400, unsupported_encoding: 415, malformed_encoding: 400 };
const TYPE: Record<BodyErrorKind, string> = {
  too_large: 'entity.too.large',
  aborted: 'request.aborted',
  unsupported_encoding: 'encoding.unsupported',
  malformed_encoding: 'encoding.malformed',
};

/** A body read failure; `kind` says which answer it deserves. */
export class BodyError extends Error {
  /** The HTTP status of the answer (as body-parser's errors carry it). */
  readonly status: number;
  /** body-parser's name for the failure (`entity.too.large`, ...). */
  readonly type: string;
  constructor(readonly kind: BodyErrorKind, message: string) {
    super(message);
    this.name = 'BodyError';
    this.status = STATUS[kind];
    this.type = TYPE[kind];
  }
}

/** True when the request carries a body (chunked or content-length > 0). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = Number(req.headers['content-length']);
  return Number.isFinite(len) && len > 0;
}

function decoder(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
  }
  return undefined;
}

const tooLarge = (limitBytes: number) => new BodyError('too_large', `request body exceeds the limit of ${limitBytes} bytes`);

/**
 * The whole body (empty when there is none); rejects with BodyError. Refuses as soon as the declared
 * Content-Length or the bytes received exceed `limitBytes`, without reading the rest (see refuseBody).
 * `res` is the request's response (found on its own when omitted).
 */
export function readBody(req: IncomingMessage, limitBytes: number, res?: ServerResponse): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    let source: Readable = req;
    let inflate: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined;
    if (encoding !== 'identity') {
      inflate = decoder(encoding);
      if (!inflate) {
        refuseBody(req, limitBytes, res);
        return reject(new BodyError('unsupported_encoding', `unsupported content encoding "${encoding}"`));
      }
      source = req.pipe(inflate);
    } else if (Number(req.headers['content-length']) > limitBytes) {
      // Known too large: refuse before reading.
      refuseBody(req, limitBytes, res);
      return reject(tooLarge(limitBytes));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return fail(tooLarge(limitBytes));
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      detach();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = () => fail(source === req ? new BodyError('aborted', 'request aborted') : new BodyError('malformed_encoding', `request body is not valid ${encoding}`));
    const onAborted = () => fail(new BodyError('aborted', 'request aborted'));
    const detach = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      req.off('aborted', onAborted);
    };
    const fail = (err: BodyError) => {
      if (settled) return;
      settled = true;
      detach();
      if (inflate) {
        req.unpipe(inflate);
        inflate.destroy();
      }
      if (err.kind === 'aborted') req.resume(); // the connection is gone; nothing to wait for
      else refuseBody(req, limitBytes, res);
      reject(err);
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onError); // kept: a late error must not go unhandled
    req.on('aborted', onAborted);
  });
}

/**
 * Gives up on the rest of a request body that will not be read (the route refuses it). When what is
 * left is known to be small (the body has arrived, or its declared length is within `limitBytes`) it is
 * discarded and the connection stays usable, as node does by default. Otherwise the answer gets
 * `Connection: close` and the connection is closed once it is sent (closeAfterResponse), instead of
 * node reading an upload of any size, or an endless one, to its end. `res` is found when omitted.
 */
export function refuseBody(req: IncomingMessage, limitBytes: number, res?: ServerResponse): void {
  const answer = res ?? responseOf(req);
  if (!answer || !unboundedRest(req, limitBytes)) return void req.resume();
  req.pause();
  closeAfterResponse(req, answer);
}

/** True unless the rest of the body is known to be within `limitBytes` (or already received). */
export function unboundedRest(req: IncomingMessage, limitBytes: number): boolean {
  if (req.complete) return false;
  const declared = Number(req.headers['content-length']);
  return req.headers['transfer-encoding'] !== undefined || !(declared <= limitBytes);
}

// The request's response: express links it (req.res); for bare node:http routes it is the message node
// is writing on the request's socket (node's own link, checked to belong to this request).
function responseOf(req: IncomingMessage): ServerResponse | undefined {
  const linked = (req as { res?: unknown }).res ?? (req.socket as (Socket & { _httpMessage?: unknown }) | null)?._httpMessage;
  return linked instanceof ServerResponse && linked.req === req ? linked : undefined;
}

/** How long a closing connection keeps discarding what the client still sends, at most. */
export const LINGER_MS = 1000;

const lingering = new WeakSet<Socket>();

/**
 * Makes `res` the connection's last answer: node then sends it with `Connection: close` (unless its
 * headers are already sent), and once it is sent the connection is ended instead of the rest of the
 * request being read. Returns a function that undoes both (for a body that is read after all).
 */
export function closeAfterResponse(req: IncomingMessage, res: ServerResponse): () => void {
  const keepAlive = res.shouldKeepAlive;
  res.shouldKeepAlive = false;
  const onFinish = () => {
    if (!req.complete) endConnection(req);
  };
  res.once('finish', onFinish);
  return () => {
    res.off('finish', onFinish);
    if (!res.headersSent) res.shouldKeepAlive = keepAlive;
  };
}

// Ends the connection of a request whose body is still arriving. Destroying the socket right away (node
// does so for `Connection: close` as soon as the answer is flushed) resets a connection with unread input:
// a client still sending then often sees ECONNRESET/EPIPE instead of the answer (measured on loopback with
// a client writing continuously: about 1 in 2 answers lost when destroyed at 'finish', 1 in 500 with node's
// own close). So: FIN after the answer, discard what still comes until the client closes its side (a
// client reading the answer does so at once), and destroy after LINGER_MS at the latest.
function endConnection(req: IncomingMessage): void {
  const socket = req.socket as Socket | null;
  if (!socket || socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  socket.removeListener('finish', socket.destroy); // node's destroySoon(): destroy once our side is ended
  socket.end();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  req.removeAllListeners('data');
  req.resume();
}
