// The app factory: the modules' direct routes (src/api/direct: decisions, proxy checks, IdP hooks on bare
// node:http) in front of an express app with body parsing and limits (413/415), bearer-token middleware,
// the routers of routes/index.ts, 404, and one error handler answering api.md's error body without stacks.
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import { bodyReader } from './body-reader';
import type { AppContext } from './context';
import { deferBody } from './deferred-body';
import { closeAfterResponse, hasBody, refuseBody, unboundedRest } from './direct/body';
import { isJsonRequest, notJson } from './direct/json-body';
import { writeJson } from './direct/reply';
import { withDirectRoutes, type DirectRoute } from './direct/routes';
import { ApiError, toApiError } from './errors';
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
  const app = createExpressApp(ctx, modules, (built) => {
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

function createExpressApp(ctx: AppContext, modules: RouteModule[], collect: (built: ModuleRoutes) => void): Express {
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
  app.use((req, _res, next) => next(new ApiError('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(ctx));
  return app;
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
// that may be large and is never read (401, 404) ends the connection too, rather than node reading an
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

/** Maps body-parser failures and everything else to api.md's error body; 5xx details go to the log only. */
export function errorHandler(ctx: AppContext): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      // A streamed response failed midway: nothing sensible can be sent; end the socket.
      ctx.logger.error('error after response started', { path: req.path, error: String(err?.message ?? err) });
      return next(err);
    }
    const e = toApiError(err);
    if (e.status >= 500 && e.code === 'internal_error')
      ctx.logger.error('request failed', { method: req.method, path: req.path, error: String(err?.stack ?? err) });
    writeJson(res, e.status, e.toBody(), e.headers);
  };
}
