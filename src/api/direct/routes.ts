// Direct routes: the latency-critical routes (decisions, proxy checks, IdP hooks) served straight on
// node:http in front of express. Measured at 1,000 req/s, express's per-request objects kept each other
// alive across young-generation GCs (2.4 MB promoted per scavenge, 8 ms pauses, p99 13 ms); the same
// decision served here promoted 0.3 MB with 2.7 ms pauses (bench/README.md). Every other route, and
// every path or method a direct route does not own, goes to express unchanged (which answers a method
// no route takes on a direct route's path with 405, asking directRouteMethods).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Counter } from 'prom-client';
import { ApiError } from '../errors';
import { writeJson } from './reply';

/** A handler that owns the request and must answer it (errors it throws become api.md error bodies). */
export type DirectHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** One direct route. */
export interface DirectRoute {
  /** The HTTP method, or undefined for any method. */
  method?: string;
  /** Absolute path, matched like express (case-insensitive, one trailing slash ignored). */
  path: string;
  /** Also serve every path below `path` (e.g. Envoy's check path under a prefix). */
  prefix?: boolean;
  /** The route label of tether_http_requests_total (default `path`; express's pattern where they differ). */
  label?: string;
  handle: DirectHandler;
}

/** Where direct routes report what express's middleware would. */
export interface DirectRouteHooks {
  httpRequests?: Counter<'method' | 'route' | 'code'>;
  /** Unexpected errors (answered 500 internal_error); never gets request bodies. */
  onError?(err: unknown, req: IncomingMessage): void;
  /** Turns a thrown error into the error answer (the app's error mapping). */
  toError(err: unknown): ApiError;
}

const LABEL = Symbol('tether.route');

// The routes serving a URL's path, whatever the method: matched like express (case-insensitive, one
// trailing slash ignored); an exact path wins over the prefixes above it.
function pathLookup(routes: readonly DirectRoute[]): (url: string) => DirectRoute[] {
  const exact = new Map<string, DirectRoute[]>();
  const prefixes: Array<{ below: string; route: DirectRoute }> = [];
  for (const r of routes) {
    const key = r.path.toLowerCase();
    exact.set(key, [...(exact.get(key) ?? []), r]);
    if (r.prefix) prefixes.push({ below: key + '/', route: r });
  }
  return (url) => {
    const q = url.indexOf('?');
    let path = (q < 0 ? url : url.slice(0, q)).toLowerCase();
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    return exact.get(path) ?? prefixes.filter((p) => path.startsWith(p.below)).map((p) => p.route);
  };
}

/**
 * The methods direct routes serve at a URL's path ([] when none serves it; undefined when one takes
 * any method, so no method can be wrong there), upper case. For the 405 answer of a request that
 * nothing took (app.ts); never asked on a request a route serves.
 */
export function directRouteMethods(routes: readonly DirectRoute[]): (url: string) => string[] | undefined {
  const lookup = pathLookup(routes);
  return (url) => {
    const found = lookup(url);
    return found.some((r) => r.method === undefined) ? undefined : found.map((r) => r.method!.toUpperCase());
  };
}

/** A request listener serving `routes` directly and everything else through `fallback` (express). */
export function withDirectRoutes(routes: DirectRoute[], fallback: RequestListener, hooks: DirectRouteHooks): RequestListener {
  const lookup = pathLookup(routes);
  const counter = hooks.httpRequests;
  function countFinished(this: ServerResponse & { [LABEL]?: string }) {
    counter?.inc({ method: this.req.method ?? '', route: this[LABEL] ?? 'unmatched', code: String(this.statusCode) });
  }
  const find = (method: string | undefined, url: string): DirectRoute | undefined =>
    lookup(url).find((r) => r.method === undefined || r.method === method);
  const fail = (err: unknown, req: IncomingMessage, res: ServerResponse) => {
    const e = hooks.toError(err);
    if (e.status >= 500 && e.code === 'internal_error') hooks.onError?.(err, req);
    if (res.headersSent) return void res.destroy();
    writeJson(res, e.status, e.toBody(), e.headers);
  };
  return (req, res) => {
    const route = find(req.method, req.url ?? '/');
    if (!route) return fallback(req, res);
    (res as ServerResponse & { [LABEL]?: string })[LABEL] = route.label ?? route.path;
    if (counter) res.once('finish', countFinished);
    try {
      const done = route.handle(req, res);
      if (done) done.catch((err: unknown) => fail(err, req, res));
    } catch (err) {
      fail(err, req, res);
    }
  };
}
