// The express routes' request body reader, in place of express.json/raw/text (body-parser). body-parser,
// refusing a body over its limit, first reads the rest of the request to its end and only then answers:
// a declared 50 MB body got its 413 once all 50 MB were uploaded, an endless upload never. This reader
// (on direct/body.ts readBody) refuses as soon as the declared length or the bytes received exceed the
// limit; the answer says `Connection: close` and the connection is closed once it is sent.
// Otherwise it behaves as the parsers it replaces: the limit applies to the inflated size (gzip, deflate,
// br; other encodings 415), requests without a body or of another type pass with req.body undefined, and
// failures reach the error handlers as errors carrying body-parser's `status` and `type`.
import type { IncomingMessage } from 'node:http';
import { TextDecoder } from 'node:util';
import type { RequestHandler } from 'express';
import { parseBytes } from '../config';
import { readBody, refuseBody } from './direct/body';

/** What req.body becomes: parsed JSON (not strict: any JSON value; an empty body is {}), a Buffer, or a string. */
export type BodyFormat = 'json' | 'buffer' | 'text';

/** Options of bodyReader. */
export interface BodyReaderOptions {
  as: BodyFormat;
  /** Largest body after inflating, in bytes or as a size ('256kb', '1mb'). */
  limit: number | string;
  /** Which requests to read (default: all that carry a body); others pass with req.body undefined. */
  type?: (req: IncomingMessage) => boolean;
}

/** A body that was read (or refused) but cannot be used, shaped like body-parser's errors. */
export class BodyParseError extends Error {
  readonly statusCode: number;
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly type: 'entity.parse.failed' | 'charset.unsupported',
    message: string,
  ) {
    super(message);
    this.name = 'BodyParseError';
    this.statusCode = status;
  }
}

// As body-parser (type-is): a request has a body when it is chunked or declares any length, even 0.
function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && !Number.isNaN(Number(length)));
}

function charsetOf(req: IncomingMessage): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1].toLowerCase();
}

function textDecoder(charset: string): TextDecoder | undefined {
  try {
    return new TextDecoder(charset); // strips a byte order mark, as body-parser's decoding does
  } catch {
    return undefined;
  }
}

const unsupportedCharset = (charset: string) => new BodyParseError(415, 'charset.unsupported', `unsupported charset "${charset.toUpperCase()}"`);

/** Express middleware reading the body into req.body as `as` says, up to `limit`. */
export function bodyReader(opts: BodyReaderOptions): RequestHandler {
  const limit = typeof opts.limit === 'number' ? opts.limit : parseBytes(opts.limit, 'body limit');
  return (req, res, next) => {
    if (!Object.hasOwn(req, 'body')) req.body = undefined;
    if (req.readableEnded || !declaresBody(req) || (opts.type && !opts.type(req))) return next();
    let decoder: TextDecoder | undefined;
    if (opts.as !== 'buffer') {
      const charset = charsetOf(req) ?? 'utf-8';
      // JSON is Unicode (RFC 8259; body-parser takes any utf-*).
      decoder = (opts.as === 'text' || charset.startsWith('utf-')) ? textDecoder(charset) : undefined;
      if (!decoder) {
        refuseBody(req, limit, res);
        return next(unsupportedCharset(charset));
      }
    }
    readBody(req, limit, res).then(
      (bytes) => {
        let body: unknown;
        try {
          body = decode(bytes, opts.as, decoder);
        } catch (err) {
          return next(new BodyParseError(400, 'entity.parse.failed', (err as Error).message));
        }
        req.body = body;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

function decode(bytes: Buffer, as: BodyFormat, decoder: TextDecoder | undefined): unknown {
  if (as === 'buffer') return bytes;
  const text = decoder!.decode(bytes);
  if (as === 'text') return text;
  return text.length === 0 ? {} : (JSON.parse(text) as unknown);
}

