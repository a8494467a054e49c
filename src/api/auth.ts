// Bearer-token middleware (api.md "Running"): the API token guards state writes and admin reads; the
// optional decision token guards decision routes. Comparison is constant-time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { AppContext } from './context';
import { ApiError } from './errors';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time token comparison (hashing first makes the lengths equal). */
export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

function unauthorized(res: Parameters<RequestHandler>[1], message: string): ApiError {
  res.setHeader('WWW-Authenticate', 'Bearer realm="tether"');
  return new ApiError('unauthorized', message);
}

/** Requires the API token (fails closed when none is configured). */
export function requireApiToken(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    if (tokenMatches(bearerToken(req), ctx.config.apiToken)) return next();
    next(unauthorized(res, 'a valid API bearer token is required'));
  };
}

/** Requires the decision token when TETHER_DECISION_TOKEN is set (the API token is accepted too); open otherwise. */
export function requireDecisionToken(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    if (!ctx.config.decisionToken) return next();
    const t = bearerToken(req);
    if (tokenMatches(t, ctx.config.decisionToken) || tokenMatches(t, ctx.config.apiToken)) return next();
    next(unauthorized(res, 'a valid decision bearer token is required'));
  };
}
