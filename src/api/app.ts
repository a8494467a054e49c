// The express app factory: body parsing with limits (413/415), bearer-token middleware, the routers
// of routes/index.ts, 404, and one error handler that answers api.md's error body without stack traces.
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { IncomingMessage } from 'node:http';
import type { AppContext } from './context';
import { ApiError, toApiError } from './errors';
import { routeModules, type RouteModule } from './routes';

export { requireApiToken, requireDecisionToken, bearerToken, tokenMatches } from './auth';

/** True when the request's content type is JSON: application/json or any application/*+json (e.g. SCIM's). */
export function isJsonRequest(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/** True when the request carries a non-empty body (chunked or content-length > 0). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = Number(req.headers['content-length']);
  return Number.isFinite(len) && len > 0;
}

/** Creates the Tether express app around `ctx` (no socket is opened; supertest or serve() does that). */
export function createApp(ctx: AppContext, modules: RouteModule[] = routeModules): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);
  app.use(httpMetrics(ctx));
  app.use(jsonBody(ctx, modules.flatMap((m) => m.rawBodyPaths ?? [])));
  for (const m of hotPathFirst(modules)) {
    if (m.mount) app.use(m.mount, m.create(ctx));
    else app.use(m.create(ctx));
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
function jsonBody(ctx: AppContext, rawPrefixes: string[]): RequestHandler {
  const parse = express.json({ limit: ctx.config.bodyLimitBytes, type: isJsonRequest });
  const isRaw = (p: string) => rawPrefixes.some((r) => p === r || p.startsWith(r.endsWith('/') ? r : r + '/'));
  return (req, res, next) => {
    if (!hasBody(req) || isRaw(req.path)) return next();
    if (!isJsonRequest(req))
      return next(new ApiError('unsupported_media_type', `request bodies must be application/json, got ${req.headers['content-type'] ?? 'none'}`));
    parse(req, res, next);
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
    const e = fromHttpError(err) ?? toApiError(err);
    if (e.status >= 500 && e.code === 'internal_error')
      ctx.logger.error('request failed', { method: req.method, path: req.path, error: String(err?.stack ?? err) });
    res.status(e.status).json(e.toBody());
  };
}

// Errors raised by express/body-parser carry `type`/`status`; translate them to stable codes.
function fromHttpError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError || !err || typeof err !== 'object') return undefined;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  switch (e.type) {
    case 'entity.too.large':
      return new ApiError('payload_too_large', `request body exceeds the limit of ${e.limit} bytes`);
    case 'entity.parse.failed':
      return new ApiError('invalid_input', 'request body is not valid JSON', [{ path: '', message: 'is not valid JSON' }]);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('unsupported_media_type', e.message ?? 'unsupported body encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new ApiError('invalid_input', e.message ?? 'malformed request body');
  }
  if (e.status === 404) return new ApiError('not_found', 'not found');
  if (e.status === 413) return new ApiError('payload_too_large', 'request body too large');
  if (e.status === 415) return new ApiError('unsupported_media_type', e.message ?? 'unsupported media type');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return new ApiError('invalid_input', 'malformed request', undefined, 400);
  return undefined;
}
