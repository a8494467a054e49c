// Reads a request body into one Buffer with a size limit, inflating gzip/deflate/br like body-parser,
// for routes served without express. The limit applies to the inflated size.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** Why a body could not be read. */
export type BodyErrorKind = 'too_large' | 'aborted' | 'unsupported_encoding' | 'malformed_encoding';

/** A body read failure; `kind` says which answer it deserves. */
export class BodyError extends Error {
  constructor(readonly kind: BodyErrorKind, message: string) {
    super(message);
    this.name = 'BodyError';
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

/** The whole body (empty when there is none); rejects with BodyError. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    let source: Readable = req;
    if (encoding !== 'identity') {
      const inflate = decoder(encoding);
      if (!inflate) {
        req.resume();
        return reject(new BodyError('unsupported_encoding', `unsupported content encoding "${encoding}"`));
      }
      source = req.pipe(inflate);
    } else if (Number(req.headers['content-length']) > limitBytes) {
      // Known too large: refuse before reading (node discards the rest of the body).
      return reject(new BodyError('too_large', `request body exceeds the limit of ${limitBytes} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: BodyError) => {
      if (settled) return;
      settled = true;
      if (source !== req) source.destroy();
      req.resume();
      reject(err);
    };
    source.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limitBytes) return fail(new BodyError('too_large', `request body exceeds the limit of ${limitBytes} bytes`));
      chunks.push(chunk);
    });
    source.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    source.on('error', () => fail(source === req ? new BodyError('aborted', 'request aborted') : new BodyError('malformed_encoding', `request body is not valid ${encoding}`)));
    req.on('aborted', () => fail(new BodyError('aborted', 'request aborted')));
  });
}
