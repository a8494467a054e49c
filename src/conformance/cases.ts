// OPA conformance case files: discovery under a directory, YAML parsing, and strict validation of
// keys and types against OPA's own TestCase schema (v1/test/cases/cases.go).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parse } from 'yaml';

/** One case, as OPA's harness reads it. */
export interface TestCase {
  note: string;
  query: string;
  modules?: string[];
  data?: Record<string, unknown>;
  input?: unknown;
  input_term?: string;
  want_defined?: boolean;
  want_result?: Array<Record<string, unknown>>;
  want_error_code?: string;
  want_error?: string;
  sort_bindings?: boolean;
  strict_error?: boolean;
  env?: Record<string, string>;
  /** Drop `__localq*` bindings (OPA's generated query vars) before comparing. */
  ignore_generated_vars?: boolean;
}

/** Keys OPA's TestCase struct defines; anything else is rejected as a likely typo. */
export const CASE_KEYS: ReadonlySet<string> = new Set([
  'note', 'query', 'modules', 'data', 'input', 'input_term', 'want_defined', 'want_result',
  'want_error_code', 'want_error', 'sort_bindings', 'strict_error', 'env', 'ignore_generated_vars',
]);

export interface CaseFile {
  /** Path relative to the root directory, with forward slashes. */
  path: string;
  /** First directory of `path` (the category), or '.' for files at the root. */
  folder: string;
  cases: TestCase[];
  /** Validation problems; a file with errors contributes no runnable cases. */
  errors: string[];
}

/** All *.yaml / *.yml files under dir, recursively, sorted. */
export function findCaseFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.ya?ml$/i.test(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validates one parsed case; returns problems (empty = valid). */
export function validateCase(c: unknown, index: number): string[] {
  const where = `case ${index + 1}`;
  if (!isObj(c)) return [`${where}: must be a mapping`];
  const errs: string[] = [];
  const label = typeof c.note === 'string' ? `${where} (${c.note})` : where;
  for (const k of Object.keys(c)) if (!CASE_KEYS.has(k)) errs.push(`${label}: unknown key "${k}"`);
  if (typeof c.note !== 'string') errs.push(`${label}: "note" must be a string`);
  if (typeof c.query !== 'string') errs.push(`${label}: "query" must be a string`);
  if (c.modules !== undefined && !(Array.isArray(c.modules) && c.modules.every((m) => typeof m === 'string'))) errs.push(`${label}: "modules" must be a list of strings`);
  if (c.data !== undefined && c.data !== null && !isObj(c.data)) errs.push(`${label}: "data" must be a mapping`);
  if (c.input_term !== undefined && typeof c.input_term !== 'string') errs.push(`${label}: "input_term" must be a string`);
  if (c.want_result !== undefined && !(Array.isArray(c.want_result) && c.want_result.every(isObj))) errs.push(`${label}: "want_result" must be a list of mappings`);
  for (const k of ['want_error_code', 'want_error']) if (c[k] !== undefined && typeof c[k] !== 'string') errs.push(`${label}: "${k}" must be a string`);
  for (const k of ['want_defined', 'sort_bindings', 'strict_error', 'ignore_generated_vars']) if (c[k] !== undefined && typeof c[k] !== 'boolean') errs.push(`${label}: "${k}" must be a boolean`);
  if (c.env !== undefined && !isObj(c.env)) errs.push(`${label}: "env" must be a mapping`);
  return errs;
}

/** Parses and validates one case file's text; rootName labels files at the top of the directory. */
export function parseCaseFile(text: string, path: string, rootName = '.'): CaseFile {
  const folder = path.includes('/') ? path.split('/')[0] : rootName;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { path, folder, cases: [], errors: [`invalid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  if (!isObj(doc)) return { path, folder, cases: [], errors: ['top level must be a mapping with a "cases" list'] };
  const errors: string[] = [];
  for (const k of Object.keys(doc)) if (k !== 'cases') errors.push(`unknown top-level key "${k}"`);
  if (!Array.isArray(doc.cases)) errors.push('"cases" must be a list');
  const raw = Array.isArray(doc.cases) ? doc.cases : [];
  raw.forEach((c, i) => errors.push(...validateCase(c, i)));
  return { path, folder, cases: errors.length ? [] : (raw as TestCase[]), errors };
}

/** Loads every case file under dir. */
export function loadCaseFiles(dir: string): CaseFile[] {
  return findCaseFiles(dir).map((p) => {
    const rel = relative(dir, p).split(sep).join('/');
    return parseCaseFile(readFileSync(p, 'utf8'), rel, basename(resolve(dir)));
  });
}
