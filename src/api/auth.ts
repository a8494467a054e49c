// Bearer-token middleware (api.md "Running"): the API token guards state writes and admin reads; the
// optional decision token guards decision routes. Comparison is constant-time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { AppContext } from './context';
import { parseDeferredBody } from './deferred-body';
import { ApiError } from './errors';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Constant-time comparison of a presented secret with the configured one (API and decision tokens, the
 * adapters' bearer tokens and Basic credentials); hashing first makes the lengths equal. A missing or empty
 * value on either side never matches.
 */
export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

function unauthorized(message: string): ApiError {
  const e = new ApiError('unauthorized', message);
  e.headers = { 'WWW-Authenticate': 'Bearer realm="tether"' };
  return e;
}

/** Requires the API token (fails closed when none is configured); reads the request body once it matched. */
export function requireApiToken(ctx: AppContext): RequestHandler {
  return (req, _res, next) => {
    if (tokenMatches(bearerToken(req), ctx.config.apiToken)) return parseDeferredBody(req, next);
    next(unauthorized('a valid API bearer token is required'));
  };
}

/** Throws 401 unless the request may decide: TETHER_DECISION_TOKEN when set (the API token too); open otherwise. */
export function checkDecisionToken(ctx: AppContext, req: Pick<IncomingMessage, 'headers'>): void {
  if (!ctx.config.decisionToken) return;
  const t = bearerToken(req);
  if (tokenMatches(t, ctx.config.decisionToken) || tokenMatches(t, ctx.config.apiToken)) return;
  throw unauthorized('a valid decision bearer token is required');
}

/** checkDecisionToken as express middleware; reads the request body once it passed. */
export function requireDecisionToken(ctx: AppContext): RequestHandler {
  return (req, _res, next) => {
    try {
      checkDecisionToken(ctx, req);
    } catch (err) {
      return next(err);
    }
    parseDeferredBody(req, next);
  };
}
