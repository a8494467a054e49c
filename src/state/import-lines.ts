// Bulk import of NDJSON lines {"kind":"identity"|"device","record":{...}} into any StateStore: one
// transaction per batch; a bad line is rejected alone and never aborts the rest.
import { AliasConflictError, StateError, StateUnavailableError, ValidationError } from './errors';
import type { ImportBatchResult, ImportLine, StateStore } from './store';

/** One import record after the envelope check. */
export type ImportRecord = { id: string } & Record<string, unknown>;

/**
 * A store's split write for imports: runs every check of the record (schema, ordering, alias
 * conflicts) WITHOUT writing, throwing a StateError to reject it, and returns the write itself.
 */
export type PlanImportWrite = (kind: 'identity' | 'device', record: ImportRecord) => () => void;

// Thrown inside the batch transaction when a write failed after it started writing: the batch is
// rolled back and applied again with a savepoint per line, so that only that line is undone.
class RedoWithSavepoints extends Error {}

/**
 * Applies one batch in one transaction; returns counts and per-line errors. Storage failures throw
 * (batch not applied).
 *
 * Without `plan`, each line is written through putIdentity/putDevice, each in its own savepoint.
 * With `plan` (the SQLite store), a line whose checks fail is rejected before anything is written, so
 * the common path needs no savepoint per line; only if a write itself fails with a line-level error
 * (an onChange listener throwing a StateError) is the batch redone with savepoints. The outcome is
 * the same either way.
 */
export function applyImportBatch(store: StateStore, lines: ImportLine[], plan?: PlanImportWrite): ImportBatchResult {
  if (plan) {
    try {
      return runBatch(store, lines, plan, false);
    } catch (err) {
      if (!(err instanceof RedoWithSavepoints)) throw err;
      return runBatch(store, lines, plan, true);
    }
  }
  return runBatch(store, lines, (kind, record) => () => {
    if (kind === 'identity') store.putIdentity(record.id, record);
    else store.putDevice(record.id, record);
  }, true);
}

function runBatch(store: StateStore, lines: ImportLine[], plan: PlanImportWrite, savepoints: boolean): ImportBatchResult {
  const result: ImportBatchResult = { imported: 0, rejected: 0, errors: [] };
  const reject = (line: number, err: unknown): void => {
    const e = lineError(err);
    if (!e) throw err; // storage failure (or a bug): the whole batch fails and is not acknowledged
    result.rejected++;
    result.errors.push({ line, ...e });
  };
  store.transaction(() => {
    for (const { line, text } of lines) {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        result.rejected++;
        result.errors.push({ line, code: 'invalid_json', message: `line is not JSON: ${(err as Error).message}` });
        continue;
      }
      const shape = importLineShape(doc);
      if (shape.errors.length) {
        result.rejected++;
        result.errors.push({ line, code: 'invalid_input', message: shape.errors.map((e) => `${e.path} ${e.message}`).join('; '), errors: shape.errors });
        continue;
      }
      let write: () => void;
      try {
        write = plan(shape.kind!, shape.record!);
      } catch (err) {
        reject(line, err);
        continue;
      }
      if (savepoints) {
        try {
          store.transaction(write); // nested: a savepoint, so a failure rolls back this line only
        } catch (err) {
          reject(line, err);
          continue;
        }
      } else {
        try {
          write();
        } catch (err) {
          if (lineError(err)) throw new RedoWithSavepoints();
          throw err;
        }
      }
      result.imported++;
    }
  });
  return result;
}

// The per-line error of a rejected record, or undefined when the error must fail the whole batch.
function lineError(err: unknown): { code: string; message: string; errors?: { path: string; message: string }[] } | undefined {
  if (err instanceof ValidationError) {
    const errors = err.errors.map((e) => ({ path: '/record' + e.path, message: e.message }));
    return { code: err.code, message: errors.map((e) => `${e.path} ${e.message}`).join('; '), errors };
  }
  if (err instanceof AliasConflictError) return { code: err.code, message: err.message, errors: [{ path: '/record' + err.path, message: err.message }] };
  if (err instanceof StateError && !(err instanceof StateUnavailableError)) return { code: err.code, message: err.message };
  return undefined;
}

type ImportShape =
  | { errors: []; kind: 'identity' | 'device'; record: ImportRecord }
  | { errors: { path: string; message: string }[]; kind?: undefined; record?: undefined };

// The envelope of one NDJSON line; the record itself is validated by the store.
function importLineShape(doc: unknown): ImportShape {
  const errors: { path: string; message: string }[] = [];
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { errors: [{ path: '', message: 'must be an object' }] };
  const d = doc as Record<string, unknown>;
  if (d.kind !== 'identity' && d.kind !== 'device') errors.push({ path: '/kind', message: 'must be one of "identity", "device"' });
  const r = d.record as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object' || Array.isArray(r)) errors.push({ path: '/record', message: 'must be an object' });
  else if (typeof r.id !== 'string' || r.id.length === 0) errors.push({ path: '/record/id', message: 'is required (non-empty string)' });
  for (const k of Object.keys(d)) if (k !== 'kind' && k !== 'record') errors.push({ path: '/' + k, message: 'is not an allowed field' });
  if (errors.length) return { errors };
  return { errors: [], kind: d.kind as 'identity' | 'device', record: r as ImportRecord };
}
