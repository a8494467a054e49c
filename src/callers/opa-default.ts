// OPA's v0 endpoints (protocols.md §1.3), for OPA clients such as @styra/opa's evaluateDefault() and for
// webhooks that cannot wrap their input: `POST /` answers the bare value of Tether's default decision,
// data.tether.decision (OPA's own default is data.system.main), and `POST /v0/data/{path}` the bare value of
// data.{path}. The body is the input itself (no {"input": ...} wrapper; may be empty), read as OPA reads it
// (readOpaDocument: JSON whatever the content type — `curl -d` sends form-urlencoded —, YAML when the type
// names yaml, gzip inflated), so they take what OPA takes instead of a 415. Undefined → 404
// undefined_document, where /v1/data answers 200 {} (§1.8 gotcha 2). Served on bare node:http (a direct
// route): express's JSON body parser refuses every other content type, and '/' cannot be exempted from it
// without exempting every path.
import type { IncomingMessage } from 'node:http';
import { writeJson } from '../api/direct/reply';
import type { DirectHandler } from '../api/direct/routes';
import { ApiError, invalidInput } from '../api/errors';
import { readOpaDocument } from '../api/routes/data-api';

/** What these endpoints need from the decider (engine/decider.ts Decider.evaluatePath). */
export interface DataEvaluator {
  evaluatePath(path: string, input: unknown): { defined: boolean; result?: unknown };
}

/** The document POST / evaluates, as an OPA slash path. */
export const DEFAULT_DECISION_PATH = 'tether/decision';

/** The webhook variant's prefix: POST /v0/data/{path}. */
export const V0_DATA_PATH = '/v0/data';

/** What the v0 handlers need, built once at start. */
export interface OpaV0Deps {
  /** The decider, or undefined while the service starts (503 not_ready). */
  evaluator(): DataEvaluator | undefined;
  /** Throws an ApiError (401) unless the request may decide: these are decision routes. */
  authorize(req: IncomingMessage): void;
  bodyLimitBytes: number;
}

/** The data path of a /v0/data request: the segments after the prefix, percent-decoded, slash-joined. */
export function v0DataPath(url: string): string {
  const q = url.indexOf('?');
  const rest = (q < 0 ? url : url.slice(0, q)).slice(V0_DATA_PATH.length);
  try {
    return rest.split('/').filter((s) => s !== '').map(decodeURIComponent).join('/');
  } catch {
    throw invalidInput([{ path: '', message: 'the data path is not valid percent-encoding' }]);
  }
}

/** Handler of one v0 endpoint evaluating the path `pathOf(req)` names. */
export function opaV0Handler(deps: OpaV0Deps, pathOf: (req: IncomingMessage) => string): DirectHandler {
  return async (req, res) => {
    deps.authorize(req);
    const path = pathOf(req);
    const input = await readOpaDocument(req, deps.bodyLimitBytes);
    const e = deps.evaluator();
    if (!e) throw new ApiError('not_ready', 'the decision service is starting');
    const r = e.evaluatePath(path, input);
    if (!r.defined) {
      const ref = path === '' ? 'data' : `data.${path.replace(/\//g, '.')}`;
      return writeJson(res, 404, { code: 'undefined_document', message: `document missing: ${ref}` });
    }
    writeJson(res, 200, r.result);
  };
}

/** Handler of POST / (OPA's default decision). */
export function opaDefaultDecisionHandler(deps: OpaV0Deps): DirectHandler {
  return opaV0Handler(deps, () => DEFAULT_DECISION_PATH);
}

/** Handler of POST /v0/data/{path} (OPA's webhook variant of the Data API). */
export function opaV0DataHandler(deps: OpaV0Deps): DirectHandler {
  return opaV0Handler(deps, (req) => v0DataPath(req.url ?? ''));
}
