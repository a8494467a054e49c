// The HTTP pipeline shared by the IdP hooks: authenticate (before reading any body), parse JSON, answer;
// body errors are answered in the IdP's own shape by the hook, never by the app's generic error handler.
import { BodyError, readBody, refuseBody } from '../api/direct/body';
import { writeJson } from '../api/direct/reply';
import type { DirectHandler } from '../api/direct/routes';
import type { HookAuthenticator } from './hook-auth';
import { CredentialError } from './jwt';

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
  /** Decides; must not throw. */
  answer(body: unknown): Promise<HookAnswer>;
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
    try {
      await spec.authenticate(req.headers);
    } catch (err) {
      refuseBody(req, limit, res);
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
    const a = await spec.answer(body);
    writeJson(res, a.status, a.body);
  };
}
