// Runs OPA conformance cases through Tether's compiler and the SDK, and reports like OPA's harness:
// per-case pass/fail/skip, a table per folder, a repro line per failure, and the totals line.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Body } from '../compiler/ast';
import { refTerm, varTerm } from '../compiler/ast';
import { compile, formatDiagnostics } from '../compiler';
import { parseQuery, parseTerm } from '../compiler/parser';
import { loadEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import type { ResultSet } from '../engine/types';
import { loadCaseFiles, type CaseFile, type TestCase } from './cases';
import { canonicalJson, errorMatches, resultsMatch } from './compare';
import { loadSkipFile } from './skip';

/**
 * Who a failure most likely belongs to (for triage): parser = front end (parse + checks),
 * planner = safety/planning, emitter = wasm back end, eval = wrong answer or error at run time.
 */
export type FailureOwner = 'parser' | 'planner' | 'emitter' | 'engine' | 'eval' | 'case-file';

export interface CaseResult {
  file: string;
  folder: string;
  note: string;
  status: 'pass' | 'fail' | 'skip';
  /** Why it failed or was skipped. */
  reason?: string;
  owner?: FailureOwner;
  ms: number;
}

export interface ConformanceSummary {
  dir: string;
  passed: number;
  failed: number;
  skipped: number;
  results: CaseResult[];
  /** Files rejected by validation (their cases count as failed). */
  fileErrors: Array<{ file: string; errors: string[] }>;
}

export interface ConformanceOptions {
  /** Run only cases whose note equals this. */
  caseNote?: string;
  /** Skip list (YAML list of {note, reason}); defaults to test/conformance/skip.yaml of the repo. */
  skipFile?: string;
  /** Called after each case (progress). */
  onResult?: (r: CaseResult) => void;
}

/** The repository root (the nearest directory above this file with a package.json). */
export function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}

/** Default case directory: $TETHER_CONFORMANCE_DIR or ../shared/rego-conformance/cases next to the repo. */
export function defaultCaseDir(): string {
  return process.env.TETHER_CONFORMANCE_DIR || resolve(repoRoot(), '../shared/rego-conformance/cases');
}

export function defaultSkipFile(): string {
  return join(repoRoot(), 'test/conformance/skip.yaml');
}

type Outcome = { kind: 'result'; rs: ResultSet } | { kind: 'error'; code: string; message: string; owner: FailureOwner };

const QUERY = 'conformance/query';

/** Adds `with input as <term>` to every expression of a query (input_term that is not plain JSON). */
function withInput(body: Body, termText: string): Body | string {
  const t = parseTerm(termText, 'input_term');
  if (!t.term) return formatDiagnostics(t.diagnostics);
  const target = refTerm([varTerm('input')]);
  return body.map((e) => ({ ...e, with: [...e.with, { target, value: t.term!, loc: e.loc }] }));
}

function ownerOfStack(e: unknown): FailureOwner {
  const stack = e instanceof Error ? e.stack ?? '' : '';
  const m = /src\/compiler\/(parser|lexer|check|rewrite|plan|wasm)/.exec(stack);
  if (!m) return 'planner';
  return m[1] === 'wasm' ? 'emitter' : m[1] === 'parser' || m[1] === 'lexer' ? 'parser' : 'planner';
}

/** Compiles and evaluates one case; returns its result set or its error. */
export async function evaluateCase(c: TestCase): Promise<Outcome> {
  let input: unknown = c.input;
  const q = parseQuery(c.query, 'query');
  if (!q.body) return { kind: 'error', code: q.diagnostics[0]?.code ?? 'rego_parse_error', message: formatDiagnostics(q.diagnostics), owner: 'parser' };
  let body = q.body;
  if (c.input_term !== undefined) {
    try {
      input = JSON.parse(c.input_term);
    } catch {
      const b = withInput(body, c.input_term);
      if (typeof b === 'string') return { kind: 'error', code: 'rego_parse_error', message: b, owner: 'parser' };
      body = b;
      input = undefined;
    }
  }
  const files = (c.modules ?? []).map((text, i) => ({ name: `test-${i}.rego`, text }));
  let compiled;
  try {
    compiled = await compile({ files, entrypoints: [], queries: [{ name: QUERY, body }], strictBuiltinErrors: c.strict_error === true });
  } catch (e) {
    return { kind: 'error', code: 'internal_compiler_error', message: `compiler crashed: ${(e as Error).stack ?? e}`, owner: ownerOfStack(e) };
  }
  if (!compiled.ok || !compiled.wasm) {
    const d = compiled.diagnostics[0];
    const owner: FailureOwner = compiled.stage === 'parse' || compiled.stage === 'check' ? 'parser' : compiled.stage === 'emit' ? 'emitter' : 'planner';
    const sources = Object.fromEntries(files.map((f) => [f.name, f.text]));
    return { kind: 'error', code: d?.code ?? 'rego_compile_error', message: formatDiagnostics(compiled.diagnostics, sources), owner };
  }
  try {
    const engine = loadEngine(compiled.wasm, { strictBuiltinErrors: c.strict_error === true, data: c.data ?? {} });
    return { kind: 'result', rs: engine.evaluate(QUERY, input) };
  } catch (e) {
    if (e instanceof EngineError) {
      const owner: FailureOwner = e.code === 'policy_load_error' || e.code === 'data_invalid' ? 'emitter' : 'eval';
      return { kind: 'error', code: e.code, message: e.message, owner };
    }
    return { kind: 'error', code: 'eval_internal_error', message: String((e as Error)?.message ?? e), owner: 'eval' };
  }
}

const short = (s: string, n = 300): string => (s.length > n ? s.slice(0, n) + '…' : s);

/** Judges an outcome against a case's expectations, as OPA's harness does. */
export function judge(c: TestCase, out: Outcome): { pass: boolean; reason?: string; owner?: FailureOwner } {
  const wantsError = c.want_error_code !== undefined || c.want_error !== undefined;
  if (wantsError) {
    if (out.kind === 'result') return { pass: false, reason: `want error ${c.want_error_code ?? ''} ${c.want_error ? JSON.stringify(c.want_error) : ''}, got result ${short(canonicalJson(out.rs))}`, owner: 'eval' };
    if (errorMatches({ code: c.want_error_code, message: c.want_error }, out)) return { pass: true };
    return { pass: false, reason: `want error ${c.want_error_code ?? ''} ${c.want_error ? JSON.stringify(c.want_error) : ''}, got ${out.code}: ${short(out.message)}`, owner: out.owner };
  }
  if (out.kind === 'error') return { pass: false, reason: `${out.code}: ${short(out.message, 600)}`, owner: out.owner };
  if (c.want_result !== undefined) {
    const rs = c.ignore_generated_vars ? out.rs.map((b) => Object.fromEntries(Object.entries(b).filter(([k]) => !k.startsWith('__localq')))) : out.rs;
    if (resultsMatch(c.want_result, rs, c.sort_bindings === true)) return { pass: true };
    return { pass: false, reason: `want ${short(canonicalJson(c.want_result))}, got ${short(canonicalJson(out.rs))}`, owner: 'eval' };
  }
  if (c.want_defined !== undefined && (out.rs.length > 0) !== c.want_defined) {
    return { pass: false, reason: `want ${c.want_defined ? 'defined' : 'undefined'}, got ${short(canonicalJson(out.rs))}`, owner: 'eval' };
  }
  return { pass: true };
}

/** Runs every case under dir. Throws when dir does not exist. */
export async function runConformance(dir: string, opts: ConformanceOptions = {}): Promise<ConformanceSummary> {
  if (!existsSync(dir)) throw new Error(`conformance cases not found at ${dir} (set TETHER_CONFORMANCE_DIR or pass a directory)`);
  const skips = loadSkipFile(opts.skipFile ?? defaultSkipFile());
  const files: CaseFile[] = loadCaseFiles(dir);
  const summary: ConformanceSummary = { dir, passed: 0, failed: 0, skipped: 0, results: [], fileErrors: [] };
  const add = (r: CaseResult): void => {
    summary.results.push(r);
    if (r.status === 'pass') summary.passed++;
    else if (r.status === 'fail') summary.failed++;
    else summary.skipped++;
    opts.onResult?.(r);
  };
  for (const f of files) {
    if (f.errors.length) {
      summary.fileErrors.push({ file: f.path, errors: f.errors });
      add({ file: f.path, folder: f.folder, note: `${f.path} (file rejected)`, status: 'fail', reason: f.errors.join('; '), owner: 'case-file', ms: 0 });
      continue;
    }
    for (const c of f.cases) {
      if (opts.caseNote !== undefined && c.note !== opts.caseNote) continue;
      const base = { file: f.path, folder: f.folder, note: c.note };
      const reason = skips.get(c.note);
      if (reason !== undefined) {
        add({ ...base, status: 'skip', reason, ms: 0 });
        continue;
      }
      const t0 = performance.now();
      const out = await evaluateCase(c);
      const v = judge(c, out);
      add({ ...base, status: v.pass ? 'pass' : 'fail', reason: v.reason, owner: v.owner, ms: performance.now() - t0 });
    }
  }
  return summary;
}

/** The report: a table per folder, one repro line per failure, then the totals line last. */
export function formatReport(s: ConformanceSummary, dirArg = s.dir): string {
  const lines: string[] = [];
  const folders = new Map<string, { pass: number; fail: number; skip: number }>();
  for (const r of s.results) {
    const row = folders.get(r.folder) ?? { pass: 0, fail: 0, skip: 0 };
    row[r.status]++;
    folders.set(r.folder, row);
  }
  const width = Math.max(6, ...[...folders.keys()].map((k) => k.length));
  lines.push(`${'folder'.padEnd(width)}  passed  failed  skipped`);
  for (const [name, row] of [...folders].sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`${name.padEnd(width)}  ${String(row.pass).padStart(6)}  ${String(row.fail).padStart(6)}  ${String(row.skip).padStart(7)}`);
  }
  const failures = s.results.filter((r) => r.status === 'fail');
  if (failures.length) {
    lines.push('', 'failures:');
    for (const r of failures) {
      lines.push(`  [${r.owner ?? '?'}] ${r.file}: ${r.note}: ${(r.reason ?? '').split('\n')[0]}`);
      lines.push(`    repro: tether conformance ${dirArg} --case ${JSON.stringify(r.note)}`);
    }
  }
  lines.push('', `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  return lines.join('\n');
}
