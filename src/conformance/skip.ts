// The committed skip list: cases the runner does not run, each with a reason.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface SkipEntry {
  note: string;
  reason: string;
}

/** Reads a skip file: a YAML list of {note, reason}. Missing file = no skips. */
export function loadSkipFile(path: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(path)) return out;
  const doc = parse(readFileSync(path, 'utf8')) as unknown;
  const list = doc && typeof doc === 'object' && 'skip' in (doc as object) ? (doc as { skip: unknown }).skip : doc;
  if (list === null || list === undefined) return out;
  if (!Array.isArray(list)) throw new Error(`${path}: expected a list of {note, reason} entries`);
  list.forEach((e, i) => {
    if (!e || typeof e !== 'object' || typeof (e as SkipEntry).note !== 'string' || typeof (e as SkipEntry).reason !== 'string' || !(e as SkipEntry).reason.trim()) {
      throw new Error(`${path}: entry ${i + 1} must have a string "note" and a non-empty "reason"`);
    }
    out.set((e as SkipEntry).note, (e as SkipEntry).reason);
  });
  return out;
}
