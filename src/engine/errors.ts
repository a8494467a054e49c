// EngineError: every failure of loading or evaluating a policy, with a stable snake_case code.
import { BuiltinError } from './builtins/errors';

/** Stable engine error codes (eval_* are OPA's runtime error codes). */
export type EngineErrorCode =
  | 'eval_conflict_error'
  | 'eval_type_error'
  | 'eval_builtin_error'
  | 'eval_internal_error'
  | 'entrypoint_not_found'
  | 'policy_load_error'
  | 'bundle_invalid'
  | 'bundle_not_found'
  | 'compile_error'
  | 'data_invalid';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

const EVAL_CODE = /\b(eval_conflict_error|eval_type_error|eval_builtin_error|eval_internal_error)\b/;

/**
 * Maps what the SDK throws during evaluate() to an EngineError: host built-in errors keep their
 * code; opa_abort strings (thrown as plain strings) are classified by the code or wording in them.
 */
export function toEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof BuiltinError) return new EngineError(e.code, e.message);
  const message = typeof e === 'string' ? e : e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String((e as { message: unknown }).message) : String(e);
  const m = EVAL_CODE.exec(message);
  if (m) return new EngineError(m[1] as EngineErrorCode, message);
  if (/entrypoint .* is not valid/.test(message)) return new EngineError('entrypoint_not_found', message);
  if (/conflict|multiple outputs|must not produce multiple/i.test(message)) return new EngineError('eval_conflict_error', message);
  if (/not implemented: built-in function/.test(message)) return new EngineError('eval_builtin_error', message);
  if (/type error|must be .* but got/i.test(message)) return new EngineError('eval_type_error', message);
  if (/divide by zero|modulo by zero|builtin|built-in/i.test(message)) return new EngineError('eval_builtin_error', message);
  return new EngineError('eval_internal_error', message);
}
