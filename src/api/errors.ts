// ApiError and the table of stable error codes every route answers with (api.md "Errors").
// README documents every code in ERROR_CODES; a test checks it.
import { StateError, ValidationError, AliasConflictError, type FieldError } from '../state/errors';
import { BodyError } from './direct/body';

/** Stable error codes → HTTP status and what they mean. Add codes; never rename one. */
export const ERROR_CODES = {
  invalid_input: { status: 400, description: 'the body or a parameter failed validation; `errors` names every bad field' },
  unauthorized: { status: 401, description: 'missing or wrong bearer token' },
  not_found: { status: 404, description: 'no such route or record' },
  method_not_allowed: { status: 405, description: 'the path exists but does not take this method; the `Allow` header lists those it does (HEAD on the OPA Data API is one, as OPA answers)' },
  stale_update: { status: 409, description: 'the update carries an older version/observed_at than stored; nothing changed' },
  alias_conflict: { status: 409, description: 'an alias already names another identity; nothing changed' },
  payload_too_large: { status: 413, description: 'the body exceeds the configured size limit' },
  unsupported_media_type: { status: 415, description: 'the body is not JSON (or NDJSON where a route takes it)' },
  policy_compile_failed: { status: 422, description: 'a policy failed to compile; diagnostics in `errors`' },
  not_ready: { status: 503, description: 'the service is starting or its policies are not loaded' },
  state_unavailable: { status: 503, description: 'the state store cannot be read or written (decisions fail closed)' },
  internal_error: { status: 500, description: 'an unexpected error; details are in the server log, never in the body' },
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every stable error code (README must document each). */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** The JSON error body of api.md. */
export interface ErrorBody {
  code: string;
  message: string;
  errors?: FieldError[];
}

/** An error answered as `{code, message, errors?}` with the code's status. */
export class ApiError extends Error {
  readonly status: number;
  /** Response headers the answer needs (e.g. WWW-Authenticate on a 401). */
  headers?: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[],
    status?: number,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status ?? ERROR_CODES[code].status;
  }

  /** The response body. */
  toBody(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.errors && { errors: this.errors }) };
  }
}

/** 405 method_not_allowed for `method` on `path`, with the `Allow` header listing `allowed`. */
export function methodNotAllowed(method: string, path: string, allowed: string[]): ApiError {
  const list = allowed.join(', ');
  const e = new ApiError('method_not_allowed', `${method} is not allowed on ${path} (allowed: ${list})`);
  e.headers = { Allow: list };
  return e;
}

/** 400 invalid_input naming the given fields. */
export function invalidInput(errors: FieldError[], message?: string): ApiError {
  return new ApiError('invalid_input', message ?? 'invalid input: ' + errors.map((e) => `${e.path || '/'} ${e.message}`).join('; '), errors);
}

/** Converts any thrown value into an ApiError (unknown errors become a bare 500). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ValidationError) return new ApiError('invalid_input', err.message, err.errors);
  if (err instanceof AliasConflictError) return new ApiError('alias_conflict', err.message, [{ path: err.path, message: err.message }]);
  if (err instanceof StateError && err.code in ERROR_CODES) return new ApiError(err.code as ErrorCode, err.message);
  return fromBodyError(err) ?? fromHttpError(err) ?? new ApiError('internal_error', 'internal error');
}

// Body read failures of the direct routes (src/api/direct/body.ts).
function fromBodyError(err: unknown): ApiError | undefined {
  if (!(err instanceof BodyError)) return undefined;
  switch (err.kind) {
    case 'too_large':
      return new ApiError('payload_too_large', err.message);
    case 'unsupported_encoding':
      return new ApiError('unsupported_media_type', err.message);
    case 'aborted':
    case 'malformed_encoding':
      return new ApiError('invalid_input', err.message);
  }
}

// Errors raised by express/body-parser carry `type`/`status`; translate them to stable codes.
function fromHttpError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError || !err || typeof err !== 'object') return undefined;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  switch (e.type) {
    case 'entity.too.large':
      return new ApiError('payload_too_large', `request body exceeds the limit of ${e.limit} bytes`);
    case 'entity.parse.failed':
      return new ApiError('invalid_input', 'request body is not valid JSON', [{ path: '', message: 'is not valid JSON' }]);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('unsupported_media_type', e.message ?? 'unsupported body encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new ApiError('invalid_input', e.message ?? 'malformed request body');
  }
  if (e.status === 404) return new ApiError('not_found', 'not found');
  if (e.status === 413) return new ApiError('payload_too_large', 'request body too large');
  if (e.status === 415) return new ApiError('unsupported_media_type', e.message ?? 'unsupported media type');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return new ApiError('invalid_input', 'malformed request', undefined, 400);
  return undefined;
}
