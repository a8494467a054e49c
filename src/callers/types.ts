// The narrow contract between the caller front doors (proxies, IdP hooks) and the decision service.
// Shapes mirror api.md's POST /v1/decide body and answer, so any decider that speaks that can be plugged in.

/** Decision actions of decision-model.md §2. */
export type DecideAction = 'access' | 'token' | 'entitle' | 'activate';

/** Body of POST /v1/decide: who wants what, from which device. */
export interface DecideRequest {
  action: DecideAction;
  /** A Tether identity id or any alias (email, IdP user id). */
  subject: string;
  device?: string;
  resource?: { app?: string; [key: string]: unknown };
  context?: Record<string, unknown>;
}

/** Answer of POST /v1/decide (allow or deny, always a 200 there). */
export interface Decision {
  decision_id: string;
  allow: boolean;
  limited: boolean;
  reasons: string[];
  obligations: string[];
  lifecycle: string | null;
  exception: unknown;
  policy_revision: string;
}

/** The decision function every front door calls; the real one is the service's Decider. */
export type DecideFn = (req: DecideRequest) => Promise<Decision> | Decision;
