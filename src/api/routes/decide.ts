// Decision routes: POST /v1/decide, POST /v1/decide/batch, and the OPA Data API
// (POST/GET /v1/data/{path}) answering exactly OPA's envelope: {"result": ..., "decision_id"} or {}.
import { Router } from 'express';
import type { Decider } from '../../engine/decider';
import type { AppContext } from '../context';
import { checkDecisionToken, requireDecisionToken } from '../auth';
import { readJsonBody } from '../direct/json-body';
import { writeJson } from '../direct/reply';
import type { DirectRoute } from '../direct/routes';
import type { ModuleRoutes } from './index';
import { ApiError, invalidInput } from '../errors';
import { bodyValidator, type BodyValidator } from '../validate';
import { dataApiRouter } from './data-api';
import type { WarmupRequest } from '../warmup';

const ACTIONS = ['access', 'token', 'entitle', 'activate'];

/** JSON schema of one /v1/decide body; app actions need resource.app. */
export const decideSchema = {
  type: 'object',
  required: ['action', 'subject'],
  properties: {
    action: { type: 'string', enum: ACTIONS },
    subject: { type: 'string', minLength: 1, maxLength: 512 },
    device: { type: ['string', 'null'], maxLength: 512 },
    resource: {
      type: 'object',
      properties: { app: { type: 'string', minLength: 1, maxLength: 256 } },
    },
    context: { type: 'object' },
  },
  if: { properties: { action: { enum: ['access', 'token', 'entitle'] } } },
  then: { required: ['resource'], properties: { resource: { required: ['app'] } } },
} as const;

const batchSchema = {
  type: 'object',
  required: ['requests'],
  properties: { requests: { type: 'array', maxItems: 100 } },
} as const;

/** The service's decider, or 503 not_ready while it starts. */
function deciderOf(ctx: AppContext): Decider {
  const d = ctx.decider as Decider | undefined;
  if (!d || typeof d.decide !== 'function') throw new ApiError('not_ready', 'the decision service is starting');
  return d;
}

/** Builds the decision routes: POST /v1/decide served directly (the hot path), batch and Data API by express. */
export function decideRoutes(ctx: AppContext): ModuleRoutes {
  const validateOne = bodyValidator<Record<string, unknown>>(decideSchema);
  const decide: DirectRoute = {
    method: 'POST',
    path: '/v1/decide',
    handle: async (req, res) => {
      checkDecisionToken(ctx, req);
      const body = validateOne(await readJsonBody(req, ctx.config.bodyLimitBytes));
      writeJson(res, 200, deciderOf(ctx).decide(body));
    },
  };
  return { router: decideRouter(ctx, validateOne), direct: [decide], warmup: decideWarmup(ctx) };
}

/** A subject no store holds (`.invalid` is reserved, RFC 2606): warm-up decisions deny identity_unknown. */
export const WARMUP_SUBJECT = 'tether-warmup@tether.invalid';

// Mostly /v1/decide (the hot path), a batch and a Data API query so express's routes are warm too.
function decideWarmup(ctx: AppContext): WarmupRequest[] {
  const headers = { authorization: `Bearer ${ctx.config.apiToken ?? ''}` };
  const one = (action: string) => ({ action, subject: WARMUP_SUBJECT, device: 'tether-warmup-device', resource: { app: 'tether-warmup' } });
  const decide = (action: string): WarmupRequest => ({ method: 'POST', path: '/v1/decide', headers, body: one(action) });
  return [
    decide('access'), decide('token'), decide('access'), decide('entitle'), decide('access'), decide('activate'),
    { method: 'POST', path: '/v1/decide/batch', headers, body: { requests: [one('access'), one('token')] } },
    { method: 'POST', path: '/v1/data/tether/decision', headers, body: { input: one('access') } },
  ];
}

// The express router of /v1/decide/batch and the OPA Data API.
function decideRouter(ctx: AppContext, validateOne: BodyValidator<Record<string, unknown>>): Router {
  const router = Router();
  const auth = requireDecisionToken(ctx);
  const validateBatch = bodyValidator<{ requests: unknown[] }>(batchSchema);

  router.post('/v1/decide/batch', auth, (req, res) => {
    const { requests } = validateBatch(req.body);
    // Validate every request first: a bad batch is rejected whole, naming each bad field.
    const errors = requests.flatMap((r, i) => {
      try {
        validateOne(r, `/requests/${i}`);
        return [];
      } catch (e) {
        return e instanceof ApiError && e.errors ? e.errors : [{ path: `/requests/${i}`, message: 'is invalid' }];
      }
    });
    if (errors.length) throw invalidInput(errors);
    res.json({ results: deciderOf(ctx).decideBatch(requests) });
  });

  router.use(dataApiRouter(ctx, deciderOf));
  return router;
}
