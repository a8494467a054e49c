// The HTTP pipeline shared by the IdP hooks: authenticate (before reading any body), parse JSON, answer;
// body errors are answered in the IdP's own shape by the hook, never by the app's generic error handler.
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
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
  bodyLimit?: string;
}

/** The express handlers for one hook route, in order. */
export function hookPipeline(spec: HookSpec): Array<RequestHandler | ErrorRequestHandler> {
  const authenticate: RequestHandler = (req, res, next) => {
    if (!spec.authenticate) {
      res.status(404).json({ code: 'caller_not_configured', message: spec.notConfiguredMessage });
      return;
    }
    spec.authenticate(req.headers).then(() => next(), (err: unknown) => {
      const e = err instanceof CredentialError ? err : new CredentialError('credential_invalid', 'credential rejected');
      const a = spec.onAuthError(e);
      res.status(a.status).json(a.body);
    });
  };
  // IdPs send application/json; accept any type rather than refuse a call we could answer.
  const parse = express.json({ limit: spec.bodyLimit ?? '256kb', type: () => true, strict: false });
  const bodyErrors: ErrorRequestHandler = (err, _req, res, _next) => {
    const a = spec.onBodyError((err as { type?: string }).type === 'entity.too.large' ? 'too_large' : 'invalid_json');
    res.status(a.status).json(a.body);
  };
  const answer: RequestHandler = async (req, res) => {
    const a = await spec.answer(req.body);
    res.status(a.status).json(a.body);
  };
  return [authenticate, parse, answer, bodyErrors];
}
