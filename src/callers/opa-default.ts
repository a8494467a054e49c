// OPA's default-decision endpoint (protocols.md §1.3) for OPA clients such as @styra/opa's
// evaluateDefault(): `POST /` with the bare input as body answers the bare value of Tether's default
// decision, data.tether.decision (OPA's own default is data.system.main). Undefined → 404 undefined_document.
import type { RequestHandler } from 'express';

/** What this endpoint needs from the decider (engine/decider.ts Decider.evaluatePath). */
export interface DataEvaluator {
  evaluatePath(path: string, input: unknown): { defined: boolean; result?: unknown };
}

/** The document POST / evaluates, as an OPA slash path. */
export const DEFAULT_DECISION_PATH = 'tether/decision';

/** Express handler for POST / (the JSON body, if any, is the input itself: no {"input": ...} wrapper). */
export function opaDefaultDecisionHandler(evaluator: () => DataEvaluator | undefined): RequestHandler {
  return (req, res) => {
    const e = evaluator();
    if (!e) {
      res.status(503).json({ code: 'not_ready', message: 'the decision service is starting' });
      return;
    }
    const r = e.evaluatePath(DEFAULT_DECISION_PATH, req.body ?? {});
    if (!r.defined) {
      res.status(404).json({ code: 'undefined_document', message: `document missing: data.${DEFAULT_DECISION_PATH.replace(/\//g, '.')}` });
      return;
    }
    res.status(200).json(r.result);
  };
}
