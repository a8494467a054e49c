// Errors raised by host built-ins, with OPA's codes and OPA's operand-error wording.

/** OPA's runtime error codes a built-in can raise. */
export type BuiltinErrorCode = 'eval_type_error' | 'eval_builtin_error';

/**
 * A built-in failure; non-strict evaluation turns it into "undefined", strict mode raises it. A
 * halting one (OPA's halt errors) is raised in either mode.
 */
export class BuiltinError extends Error {
  constructor(
    readonly code: BuiltinErrorCode,
    message: string,
    readonly halt = false,
  ) {
    super(message);
    this.name = 'BuiltinError';
  }
}

/** OPA's type name of a JSON value as the SDK hands it over (sets arrive as arrays). */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
    case 'bigint':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'object';
    default:
      return 'undefined';
  }
}

/** `name: operand N must be T but got U`, OPA's wording for a wrong operand type. */
export function operandError(name: string, pos: number, want: string, got: unknown): BuiltinError {
  return new BuiltinError('eval_type_error', `${name}: operand ${pos} must be ${want} but got ${typeName(got)}`);
}

/** A non-type failure inside a built-in (bad syntax, out of range, ...). */
export function builtinError(name: string, message: string): BuiltinError {
  return new BuiltinError('eval_builtin_error', `${name}: ${message}`);
}

export function str(name: string, pos: number, v: unknown): string {
  if (typeof v !== 'string') throw operandError(name, pos, 'string', v);
  return v;
}

/** A number operand as a double (exact big integers arrive as bigint). */
export function num(name: string, pos: number, v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw operandError(name, pos, 'number', v);
  return v;
}

/** An integer operand kept exact (bigint), truncating a double toward zero. */
export function exactInt(name: string, pos: number, v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  return BigInt(Math.trunc(num(name, pos, v)));
}

export function int(name: string, pos: number, v: unknown): number {
  const n = num(name, pos, v);
  if (!Number.isInteger(n)) throw new BuiltinError('eval_type_error', `${name}: operand ${pos} must be integer number but got floating-point number`);
  return n;
}

export function obj(name: string, pos: number, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw operandError(name, pos, 'object', v);
  return v as Record<string, unknown>;
}

export function arr(name: string, pos: number, v: unknown, want = 'array'): unknown[] {
  if (!Array.isArray(v)) throw operandError(name, pos, want, v);
  return v;
}

/** An array (or set, which arrives as an array) whose elements are all strings. */
export function strList(name: string, pos: number, v: unknown, want = 'one of {set, array}'): string[] {
  if (!Array.isArray(v)) throw operandError(name, pos, want, v);
  for (const e of v) {
    if (typeof e !== 'string') {
      throw new BuiltinError('eval_type_error', `${name}: operand ${pos} must be array of strings but got array containing ${typeName(e)}`);
    }
  }
  return v as string[];
}
