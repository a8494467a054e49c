// The OPA Data API (protocols.md §1.2), drop-in for OPA clients: POST/GET /v1/data/{path} answer
// {"result": ..., "decision_id": ...}, or {} when the document is undefined. Requests are read as OPA
// reads them: a POST body is JSON whatever its Content-Type (YAML when the type names yaml), `input` is
// its `input` key and a body without one gets OPA's warning; `pretty` and `metrics` work; HEAD is 405.
import { Router, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { Decider } from '../../engine/decider';
import type { AppContext } from '../context';
import { requireDecisionToken } from '../auth';
import { readBody } from '../direct/body';
import { allowedMethods, refusesMethod } from '../allowed-methods';
import { ApiError, invalidInput } from '../errors';

/** Read by this router itself (any content type), so the app's JSON body middleware leaves it alone. */
export const DATA_API_PATH = '/v1/data';

const MISSING_INPUT = { code: 'api_usage_warning', message: "'input' key missing from the request" };

/** The Data API path after /v1/data (slash-separated, possibly empty). */
function dataPath(req: Request): string {
  const p = (req.params as { path?: string[] | string }).path;
  return (Array.isArray(p) ? p.join('/') : (p ?? '')).replace(/^\/+|\/+$/g, '');
}

const flag = (req: Request, name: string) => req.query[name] === 'true' || req.query[name] === '';

/**
 * A POST body as OPA parses it, here and on its v0 endpoints (src/callers/opa-default.ts): empty → no body
 * (undefined); gzip/deflate inflated; YAML when the content type says so; JSON otherwise, whatever the type.
 */
export async function readOpaDocument(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const bytes = await readBody(req, limitBytes);
  if (bytes.length === 0) return undefined;
  const text = bytes.toString('utf8');
  if (/yaml/i.test(req.headers['content-type'] ?? '')) {
    try {
      return parseYaml(text) as unknown;
    } catch {
      throw invalidInput([{ path: '', message: 'is not valid YAML' }], 'request body is not valid YAML');
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidInput([{ path: '', message: 'is not valid JSON' }], 'request body is not valid JSON');
  }
}

/** The Data API router; `deciderOf` answers 503 while the service starts. */
export function dataApiRouter(ctx: AppContext, deciderOf: (ctx: AppContext) => Decider): Router {
  const router = Router();
  const auth = requireDecisionToken(ctx);

  const answer = (req: Request, res: Response, input: unknown, started: bigint, warning: boolean) => {
    const evalStart = process.hrtime.bigint();
    const r = deciderOf(ctx).evaluatePath(dataPath(req), input);
    const done = process.hrtime.bigint();
    const body: Record<string, unknown> = r.defined ? { result: r.result, decision_id: r.decision_id } : {};
    if (warning) body.warning = MISSING_INPUT;
    if (flag(req, 'metrics') || flag(req, 'instrument'))
      body.metrics = { timer_rego_query_eval_ns: Number(done - evalStart), timer_server_handler_ns: Number(done - started) };
    res.type('application/json').send(flag(req, 'pretty') ? JSON.stringify(body, null, 2) + '\n' : JSON.stringify(body));
  };

  const post = async (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    const doc = await readOpaDocument(req, ctx.config.bodyLimitBytes);
    if (doc !== undefined && (doc === null || typeof doc !== 'object' || Array.isArray(doc)))
      throw invalidInput([{ path: '', message: 'must be an object like {"input": ...}' }]);
    const hasInput = doc !== undefined && Object.hasOwn(doc, 'input');
    answer(req, res, hasInput ? (doc as { input: unknown }).input : undefined, started, !hasInput);
  };
  const get = (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    let input: unknown;
    const q = req.query.input;
    if (typeof q === 'string') {
      try {
        input = JSON.parse(q);
      } catch {
        throw invalidInput([{ path: '/input', message: 'query parameter input must be JSON' }]);
      }
    }
    answer(req, res, input, started, false);
  };
  // Marked, so the Allow header of a 405 on these paths leaves HEAD out (app.ts's errorHandler adds that
  // header to this answer too).
  const head = refusesMethod(() => {
    throw new ApiError('method_not_allowed', 'HEAD is not allowed on the Data API (use GET or POST)');
  });
  // Answered here: express's automatic OPTIONS answer would list HEAD beside GET, though HEAD is refused.
  const options = (req: Request, res: Response) => {
    res.set('Allow', (allowedMethods(router, req.path) ?? []).join(', ')).status(204).end();
  };
  for (const path of [DATA_API_PATH, `${DATA_API_PATH}/*path`]) {
    router.head(path, head);
    router.post(path, auth, post);
    router.get(path, auth, get);
    router.options(path, options); // last: evaluations never test this layer
  }
  return router;
}
