// Request bodies are read only once a route has authorized the request: an unauthenticated caller gets
// 401 before the server reads, buffers or parses anything (api.md: tokens guard every state write).
// The app's body middleware defers the parse (deferBody); the token middlewares run it on success.
import type { IncomingMessage } from 'node:http';

type Next = (err?: unknown) => void;
type Parse = (next: Next) => void;

const pending = new WeakMap<IncomingMessage, Parse>();

/** Holds `parse` until the route calls parseDeferredBody. */
export function deferBody(req: IncomingMessage, parse: Parse): void {
  pending.set(req, parse);
}

/** Reads the request's deferred body (if any), then continues. Call once the request is authorized. */
export function parseDeferredBody(req: IncomingMessage, next: Next): void {
  const parse = pending.get(req);
  if (!parse) return next();
  pending.delete(req);
  parse(next);
}
