// The HTTP pipeline shared by the IdP hooks: authenticate (before reading any body), parse JSON, answer;
// body errors are answered in the IdP's own shape by the hook, never by the app's generic error handler.
import { BodyError, readBody, refuseBody } from '../api/direct/body';
import { writeJson } from '../api/direct/reply';
import type { DirectHandler } from '../api/direct/routes';
import { DecisionUnavailable, within } from './budget';
import type { HookAuthenticator } from './hook-auth';
import { CredentialError, KeysUnavailable } from './jwt';

/** A status and JSON body to send. */
export interface HookAnswer { status: number; body: unknown }

/** How one hook authenticates, answers and reports unreadable bodies. */
export interface HookSpec {
  /** Undefined = not configured: 404 caller_not_configured. */
  authenticate?: HookAuthenticator;
  notConfiguredMessage: string;
  /** The answer for an authentication failure (401 unless the hook says otherwise). */
  onAuthError(err: CredentialError): HookAnswer;
  /** The answer when the body is not JSON or too large. */
  onBodyError(kind: 'invalid_json' | 'too_large'): HookAnswer;
  /**
   * The whole call's budget (the hook's timeout_ms): authentication, a JWKS refetch included, and the
   * decision share it; past it, or when the signing keys cannot be fetched, the answer is onUnavailable().
   */
  budgetMs: number;
  /** The hook's fail-closed deny when the decision cannot be made in time (keys unavailable, budget spent). */
  onUnavailable(): HookAnswer;
  /** Decides within `budgetMs` (what is left of the call's budget); must not throw. */
  answer(body: unknown, budgetMs: number): Promise<HookAnswer>;
  /** Default 256 KiB. */
  bodyLimitBytes?: number;
}

/** The handler of one hook route. */
export function hookHandler(spec: HookSpec): DirectHandler {
  const limit = spec.bodyLimitBytes ?? 256 * 1024;
  return async (req, res) => {
    if (!spec.authenticate) {
      refuseBody(req, limit, res);
      return writeJson(res, 404, { code: 'caller_not_configured', message: spec.notConfiguredMessage });
    }
    const deadline = Date.now() + spec.budgetMs;
    const left = () => Math.max(1, deadline - Date.now());
    try {
      await within(spec.authenticate(req.headers), spec.budgetMs);
    } catch (err) {
      refuseBody(req, limit, res);
      // Keys that cannot be fetched in time are Tether's failure, not the caller's: the hook's deny.
      if (err instanceof KeysUnavailable || err instanceof DecisionUnavailable) {
        const u = spec.onUnavailable();
        return writeJson(res, u.status, u.body);
      }
      const a = spec.onAuthError(err instanceof CredentialError ? err : new CredentialError('credential_invalid', 'credential rejected'));
      return writeJson(res, a.status, a.body);
    }
    // IdPs send application/json; any type is read rather than refusing a call we could answer.
    let body: unknown;
    try {
      const bytes = await readBody(req, limit);
      body = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      const a = spec.onBodyError(err instanceof BodyError && err.kind === 'too_large' ? 'too_large' : 'invalid_json');
      return writeJson(res, a.status, a.body);
    }
    const a = await spec.answer(body, left());
    writeJson(res, a.status, a.body);
  };
}
