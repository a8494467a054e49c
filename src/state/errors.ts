// Errors the state layer throws; each carries the stable API code the HTTP layer answers with.

/** A field-level problem, `path` a JSON pointer into the submitted document. */
export interface FieldError {
  path: string;
  message: string;
}

/** Base of state errors: `code` is the stable snake_case API code. */
export class StateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The record failed its schema; `errors` names every bad field. Nothing was stored. */
export class ValidationError extends StateError {
  constructor(
    readonly errors: FieldError[],
    message = 'invalid input: ' + errors.map((e) => `${e.path || '/'} ${e.message}`).join('; '),
  ) {
    super('invalid_input', message);
  }
}

/** An update older than the stored version/observed_at (sources deliver out of order). Nothing changed. */
export class StaleUpdateError extends StateError {
  constructor(
    readonly kind: string,
    readonly id: string,
    readonly stored: { version: number; observed_at?: string },
    readonly incoming: { version?: number; observed_at?: string },
    /** `stored` is what a delete left behind (a tombstone): an equal version is not newer. */
    deleted = false,
  ) {
    super('stale_update', `${kind} ${id}: ${staleness(stored, incoming, deleted)}`);
  }
}

function staleness(stored: { version: number; observed_at?: string }, incoming: { version?: number; observed_at?: string }, deleted: boolean): string {
  const was = deleted ? 'the deleted record' : 'stored';
  if (incoming.version !== undefined) {
    if (incoming.version < stored.version) return `version ${incoming.version} is older than ${was} version ${stored.version}`;
    if (deleted) return `version ${incoming.version} is not newer than the deleted record's version ${stored.version}`;
    return `observed_at ${incoming.observed_at} is older than stored ${stored.observed_at} (same version ${stored.version})`;
  }
  return `observed_at ${incoming.observed_at} is ${deleted ? 'not newer than' : 'older than'} ${was} ${stored.observed_at}`;
}

/** An alias (or id) already names a different identity; resolving it would be ambiguous. */
export class AliasConflictError extends StateError {
  constructor(
    readonly alias: string,
    readonly owner: string,
    readonly path: string,
  ) {
    super('alias_conflict', `alias "${alias}" already belongs to identity "${owner}"`);
  }
}

/** The backing store failed (I/O, corruption, closed); callers must fail closed. */
export class StateUnavailableError extends StateError {
  constructor(message: string, readonly cause?: unknown) {
    super('state_unavailable', message);
  }
}

/** A record the operation needs does not exist (answers 404). */
export class NotFoundError extends StateError {
  constructor(message: string) {
    super('not_found', message);
  }
}
