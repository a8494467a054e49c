// The app factory: the modules' direct routes (src/api/direct: decisions, proxy checks, IdP hooks on bare
// node:http) in front of an express app with body parsing and limits (413/415), bearer-token middleware,
// the routers of routes/index.ts, 405 (a served path, another method) or 404, and one error handler
// answering api.md's error body without stacks.
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import { bodyReader } from './body-reader';
import type { AppContext } from './context';
import { deferBody } from './deferred-body';
import { closeAfterResponse, hasBody, refuseBody, unboundedRest } from './direct/body';
import { isJsonRequest, notJson } from './direct/json-body';
import { writeJson } from './direct/reply';
import { directRouteMethods, withDirectRoutes, type DirectRoute } from './direct/routes';
import { allowedMethods, type RouterLike } from './allowed-methods';
import { ApiError, methodNotAllowed, toApiError } from './errors';
import { routeModules, type ModuleRoutes, type RouteModule } from './routes';
import type { WarmupRequest } from './warmup';

export { requireApiToken, requireDecisionToken, bearerToken, tokenMatches } from './auth';

/** Tether's request listener, with the modules' sample requests for the start-up warm-up. */
export type TetherApp = RequestListener & { warmup: WarmupRequest[] };

/**
 * Creates Tether's request listener around `ctx` (no socket is opened; supertest or serve() does that):
 * the modules' direct routes first, then the express app with their routers.
 */
export function createApp(ctx: AppContext, modules: RouteModule[] = routeModules): TetherApp {
  const direct: DirectRoute[] = [];
  const warmup: WarmupRequest[] = [];
  const app = createExpressApp(ctx, modules, direct, (built) => {
    direct.push(...(built.direct ?? []));
    warmup.push(...(built.warmup ?? []));
  });
  const listener = withDirectRoutes(direct, app, {
    httpRequests: ctx.metrics.httpRequests,
    toError: toApiError,
    onError: (err, req) => ctx.logger.error('request failed', { method: req.method, path: req.url?.split('?')[0], error: String((err as Error)?.stack ?? err) }),
  });
  return Object.assign(listener, { warmup });
}

function createExpressApp(
  ctx: AppContext,
  modules: RouteModule[],
  direct: readonly DirectRoute[],
  collect: (built: ModuleRoutes) => void,
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);
  app.use(httpMetrics(ctx));
  app.use(jsonBody(ctx, modules.flatMap((m) => m.rawBodyPaths ?? [])));
  for (const m of hotPathFirst(modules)) {
    const built = m.create(ctx);
    const routes: ModuleRoutes = typeof built === 'function' ? { router: built } : built;
    collect(routes);
    const { router } = routes;
    if (!router) continue;
    if (m.mount) app.use(m.mount, router);
    else app.use(router);
  }
  const allow = allowedAt(app, directRouteMethods(direct)); // every module's direct routes are collected by now
  app.use((req, _res, next) => {
    const allowed = allow(req);
    if (allowed.length && !allowed.includes(req.method)) return next(methodNotAllowed(req.method, req.path, allowed));
    next(new ApiError('not_found', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(ctx, allow));
  return app;
}

// What a request no route took may be answered with: the methods its path takes, from the direct routes
// and every router mounted in the app (read from their layers, computed only here, off the served path).
// OPTIONS is listed where express routes match, since express then answers it itself; HEAD where GET is
// (allowedMethods). Empty: no route serves the path (404); a route taking any method also leaves it empty.
//
// 405 comes before 401: Tether's token checks are per route (auth.ts middleware sits on each route, after
// the method matched), so a method no route takes never reaches one. Answering 405 without a token reveals
// no more than the public route list (api.md, README) and today's 401-vs-404 difference already do: which
// methods a documented path takes, never whether a record exists (parameterised paths match any id), and
// an adapter's path answers 405 only when that adapter is configured, which an unauthenticated POST there
// already tells (401 vs 404). Routers that authenticate first for every path they own (SCIM) keep their
// 401 before anything, and answer 405 in their own format (src/adapters/scim/router.ts).
function allowedAt(app: Express, directMethods: (url: string) => string[] | undefined): (req: express.Request) => string[] {
  return (req) => {
    const direct = directMethods(req.originalUrl);
    const routed = allowedMethods(app.router as unknown as RouterLike, req.path);
    if (direct === undefined || routed === undefined) return [];
    const all = new Set([...direct, ...routed]);
    if (routed.length) all.add('OPTIONS');
    return [...all].sort();
  };
}

// The decision router goes first: its paths (/v1/decide*, /v1/data*) belong to it alone, and every
// earlier router's layers are otherwise walked (path-matched) on each decision, the hot path. The
// others keep their relative order.
function hotPathFirst(modules: RouteModule[]): RouteModule[] {
  return [...modules.filter((m) => m.name === 'decide'), ...modules.filter((m) => m.name !== 'decide')];
}

// Counts requests by route pattern (never the raw URL: ids would explode label cardinality).
function httpMetrics(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      const route = req.route ? req.baseUrl + String(req.route.path) : 'unmatched';
      ctx.metrics.httpRequests.inc({ method: req.method, route, code: String(res.statusCode) });
    });
    next();
  };
}

// JSON bodies up to the configured limit; any other body type is 415 unless a router reads it itself.
// Parsed only once the route's token middleware has let the request through (deferred-body.ts). A body
// over the limit is refused as soon as that is known, without reading the rest (body-reader.ts). One
// that may be large and is never read (401, 404, 405) ends the connection too, rather than node reading an
// upload of any size to its end; one whose declared length is within the limit is discarded as usual.
function jsonBody(ctx: AppContext, rawPrefixes: string[]): RequestHandler {
  const limit = ctx.config.bodyLimitBytes;
  // Not strict: a body of null or a bare value reaches the route's schema, which names what it must be.
  const parse = bodyReader({ as: 'json', limit, type: isJsonRequest });
  const isRaw = (p: string) => rawPrefixes.some((r) => p === r || p.startsWith(r.endsWith('/') ? r : r + '/'));
  return (req, res, next) => {
    if (hasBody(req) && !isRaw(req.path)) {
      const keepConnection = unboundedRest(req, limit) ? closeAfterResponse(req, res) : undefined;
      deferBody(req, (done) => {
        keepConnection?.();
        if (isJsonRequest(req)) return parse(req, res, done);
        refuseBody(req, limit, res);
        done(notJson(req));
      });
    }
    next();
  };
}

/**
 * Maps body-parser failures and everything else to api.md's error body; 5xx details go to the log only.
 * A route's own 405 (HEAD on the Data API) gets its Allow header from `allow` when it has none.
 */
export function errorHandler(ctx: AppContext, allow?: (req: express.Request) => string[]): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      // A streamed response failed midway: nothing sensible can be sent; end the socket.
      ctx.logger.error('error after response started', { path: req.path, error: String(err?.message ?? err) });
      return next(err);
    }
    const e = toApiError(err);
    if (e.code === 'method_not_allowed' && !e.headers?.Allow && allow) {
      const allowed = allow(req);
      if (allowed.length) e.headers = { ...e.headers, Allow: allowed.join(', ') };
    }
    if (e.status >= 500 && e.code === 'internal_error')
      ctx.logger.error('request failed', { method: req.method, path: req.path, error: String(err?.stack ?? err) });
    writeJson(res, e.status, e.toBody(), e.headers);
  };
}
