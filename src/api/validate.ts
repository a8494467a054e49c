// ajv helpers for routes: compile a schema once, validate a body or query, and answer 400 invalid_input
// naming every bad field by JSON pointer ({path, message}).
import type { Schema } from 'ajv';
import type { FieldError } from '../state/errors';
import { ajv, toFieldErrors } from '../state/validation';
import { invalidInput } from './errors';

export { ajv, toFieldErrors } from '../state/validation';

/** A compiled validator that throws ApiError(400 invalid_input) naming every bad field. */
export type BodyValidator<T> = (data: unknown, prefix?: string) => T;

/** Compiles `schema` (once, at router creation) into a throwing validator. */
export function bodyValidator<T>(schema: Schema): BodyValidator<T> {
  const fn = ajv.compile(schema);
  return (data, prefix = '') => {
    if (!fn(data)) throw invalidInput(toFieldErrors(fn.errors, prefix));
    return data as T;
  };
}

/** Validates `data` against `schema` once (prefer bodyValidator on hot paths). */
export function validate<T>(schema: Schema, data: unknown, prefix = ''): T {
  return bodyValidator<T>(schema)(data, prefix);
}

/** Throws 400 when `errors` is non-empty (for checks a schema cannot express). */
export function assertNoFieldErrors(errors: FieldError[]): void {
  if (errors.length) throw invalidInput(errors);
}
