// Compile diagnostics: one shape for every stage (parse, checks), one catalog of codes as OPA names
// them, and the caret printer used by the CLI and API.

import { lineOf } from './source';
import type { Location } from './ast';

/** The stable error codes the compiler front end reports (OPA's names). */
export type DiagnosticCode =
  | 'rego_parse_error'
  | 'rego_compile_error'
  | 'rego_type_error'
  | 'rego_recursion_error'
  | 'rego_unsafe_var_error';

/** Every code in the catalog, for docs and tests. */
export const DIAGNOSTIC_CODES: readonly DiagnosticCode[] = [
  'rego_parse_error',
  'rego_compile_error',
  'rego_type_error',
  'rego_recursion_error',
  'rego_unsafe_var_error',
];

/** One problem found in a policy: code, message and a 1-based position in a named file. */
export interface Diagnostic {
  code: DiagnosticCode;
  message: string;
  file: string;
  row: number;
  col: number;
}

/** Builds a diagnostic at a node's location. */
export function diagnosticAt(code: DiagnosticCode, loc: Location, message: string): Diagnostic {
  return { code, message, file: loc.file, row: loc.row, col: loc.col };
}

/** Formats "file:row:col: code: message" (the first line of formatDiagnostic). */
export function diagnosticHeadline(d: Diagnostic): string {
  return `${d.file}:${d.row}:${d.col}: ${d.code}: ${d.message}`;
}

/**
 * Formats a diagnostic with its source line and a caret under the column:
 *   policies/x.rego:12:7: rego_unsafe_var_error: var x is unsafe
 *      12 |   allow if { x > 1 }
 *         |       ^
 * Without sourceText (or an out-of-range row) only the headline is printed.
 */
export function formatDiagnostic(d: Diagnostic, sourceText?: string): string {
  const head = diagnosticHeadline(d);
  if (sourceText === undefined || d.row < 1) return head;
  const line = lineOf(sourceText, d.row);
  if (line === '' && d.row > sourceText.split('\n').length) return head;
  const width = Math.max(5, String(d.row).length);
  // Keep tabs in the caret's padding so it lines up under tab-indented source.
  const pad = line.slice(0, Math.max(0, d.col - 1)).replace(/[^\t]/g, ' ');
  const padded = pad.length < d.col - 1 ? pad + ' '.repeat(d.col - 1 - pad.length) : pad;
  return `${head}\n${String(d.row).padStart(width)} | ${line}\n${' '.repeat(width)} | ${padded}^`;
}

/** Formats many diagnostics; sources maps file names to their text. */
export function formatDiagnostics(ds: Diagnostic[], sources: Record<string, string> = {}): string {
  return ds.map((d) => formatDiagnostic(d, sources[d.file])).join('\n');
}

/** Orders diagnostics by file, row, then column (stable output for users and tests). */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.row - b.row || a.col - b.col));
}
