// The shared ajv instance and the conversion of ajv errors to field errors named by JSON pointer.
import Ajv, { type ErrorObject, type Schema } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { ValidationError, type FieldError } from './errors';

/** The process-wide ajv instance: all errors reported, RFC 3339 formats, no type coercion. */
// strictTypes/strictTuples/strictRequired off: schemas from every router share this instance and those checks
// reject valid if/then schemas; unknown keywords (typos) are still compile errors.
export const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
// RFC 3339 also allows a leap second (23:59:60) and an offset without minutes (+01), which JavaScript's Date
// cannot read; every time Tether stores is compared and turned into nanoseconds, so those are refused here
// (400 naming the field) rather than failing later.
const rfc3339DateTime = fullFormats['date-time'] as { validate: (s: string) => boolean };
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => rfc3339DateTime.validate(s) && !Number.isNaN(Date.parse(s)) });

/** Escapes one JSON pointer reference token (RFC 6901). */
export function pointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Converts ajv errors to `{path, message}` so that every bad field is named by its own pointer. */
export function toFieldErrors(errors: ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    // An if/then schema reports "must match "then" schema" on the object besides the errors of the
    // branch itself, which already name the fields: the wrapper would only add schema mechanics.
    if (e.keyword === 'if') continue;
    let path = e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      path += '/' + pointerToken(String((e.params as { missingProperty: string }).missingProperty));
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      path += '/' + pointerToken(String((e.params as { additionalProperty: string }).additionalProperty));
      message = 'is not an allowed field';
    } else if (e.keyword === 'enum') {
      message = 'must be one of ' + (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ');
    }
    const full = prefix + path;
    const key = full + '\0' + message;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: full, message });
  }
  return out;
}

/** A compiled validator: returns the value typed as T or throws ValidationError naming every bad field. */
export type Validator<T> = (data: unknown, prefix?: string) => T;

/** Compiles a JSON schema into a throwing validator. */
export function compileValidator<T>(schema: Schema): Validator<T> {
  const fn = ajv.compile(schema);
  return (data: unknown, prefix = '') => {
    if (!fn(data)) throw new ValidationError(toFieldErrors(fn.errors, prefix));
    return data as T;
  };
}

/**
 * Validates `data` with `validate` and runs `checks` (what a schema cannot express: the clock, lookups, the
 * id in the path) on it as far as it is an object, throwing ONE ValidationError that names every bad field
 * (api.md: a 400 names every bad field, not only the schema's). Checks see unvalidated values and must test
 * their types; a check's error on a field the schema already named is dropped.
 */
export function validateAll<T>(validate: Validator<T>, data: unknown, checks: (body: Record<string, unknown>) => FieldError[]): T {
  let errors: FieldError[] = [];
  try {
    validate(data);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    errors = [...err.errors];
  }
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    const named = new Set(errors.map((e) => e.path));
    for (const e of checks(data as Record<string, unknown>)) if (!named.has(e.path)) errors.push(e);
  }
  if (errors.length) throw new ValidationError(errors);
  return data as T;
}
