// Runs OPA's Rego conformance cases (/work/shared/rego-conformance/cases) through parser → planner →
// reference IR interpreter and classifies each as pass, fail or skip (a built-in the interpreter lacks,
// or an expected error outside eval_conflict_error / eval_builtin_error).

import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { parseTerm } from '../../../src/compiler/parser';
import { compile, run, termValue } from './harness';
import { BUILTINS } from './ir-builtins';
import type { RValue } from './ir-values';
import { RObject, RSet, toJSON } from './ir-values';

export const CASES_DIR = '/work/shared/rego-conformance/cases';

export interface CaseOutcome {
  file: string;
  note: string;
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
}

interface Case {
  note: string;
  query: string;
  modules?: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  want_result?: Array<Record<string, unknown>>;
  want_error_code?: string;
  want_error?: string;
  sort_bindings?: boolean;
  strict_error?: boolean;
}

export function caseFiles(dir = CASES_DIR): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name) && e.name !== 'opa-wasm-exceptions.yaml') out.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

/**
 * Compares a result value with the YAML expectation: sets compare as multisets (the YAML lists a set
 * in any order), arrays in order unless sort_bindings, objects by key (non-string keys as JSON text).
 */
export function same(got: RValue, want: unknown, unordered: boolean): boolean {
  if (typeof got === 'number' && typeof want === 'number') return got === want || Math.abs(got - want) < 1e-9 * Math.max(1, Math.abs(want));
  if (got instanceof RSet || (Array.isArray(got) && unordered)) {
    const items = got instanceof RSet ? got.values() : got;
    if (!Array.isArray(want) || items.length !== want.length) return false;
    const left = [...want];
    for (const g of items) {
      const i = left.findIndex((w) => same(g, w, unordered));
      if (i < 0) return false;
      left.splice(i, 1);
    }
    return true;
  }
  if (Array.isArray(got)) return Array.isArray(want) && got.length === want.length && got.every((g, i) => same(g, want[i], unordered));
  if (got instanceof RObject) {
    if (!want || typeof want !== 'object' || Array.isArray(want)) return false;
    const w = want as Record<string, unknown>;
    const entries = got.entries();
    if (entries.length !== Object.keys(w).length) return false;
    return entries.every(([k, v]) => {
      const key = typeof k === 'string' ? k : JSON.stringify(toJSON(k));
      return key in w && same(v, w[key], unordered);
    });
  }
  return got === want;
}

export function runCase(file: string, c: Case): CaseOutcome {
  const base = { file: path.relative(CASES_DIR, file), note: c.note };
  const expectsError = c.want_error_code !== undefined || c.want_error !== undefined;
  const checkable = ['eval_conflict_error', 'eval_builtin_error', ...(c.strict_error ? ['eval_type_error'] : [])];
  if (expectsError && c.want_error_code && !checkable.includes(c.want_error_code)) {
    return { ...base, status: 'skip', reason: `expects ${c.want_error_code}` };
  }
  let compiled;
  try {
    compiled = compile(c.modules ?? [], [], { q: c.query });
  } catch (err) {
    return { ...base, status: 'fail', reason: `crash: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}` };
  }
  if (!compiled.policy) {
    const msg = compiled.diagnostics.map((d) => `${d.code}: ${d.message}`).join('; ');
    if (/undefined function/.test(msg)) {
      const m = /undefined function ([\w.]+)/.exec(msg);
      if (m && !m[1].startsWith('data.')) return { ...base, status: 'skip', reason: `built-in ${m[1]} not in interpreter` };
    }
    return { ...base, status: 'fail', reason: msg };
  }
  for (const b of compiled.policy.static.builtinFuncs) {
    if (!BUILTINS[b.name]) return { ...base, status: 'skip', reason: `built-in ${b.name} not in interpreter` };
  }
  let input: RValue | unknown = c.input;
  if (c.input_term !== undefined) {
    const t = parseTerm(c.input_term);
    if (!t.term) return { ...base, status: 'fail', reason: 'input_term does not parse' };
    input = termValue(t.term);
  }
  let r;
  try {
    r = run(compiled.policy, 'q', input, c.data ?? {}, c.strict_error === true);
  } catch (err) {
    return { ...base, status: 'fail', reason: `crash: ${(err as Error).message}` };
  }
  if (expectsError) {
    if (r.error && (!c.want_error_code || r.error === c.want_error_code)) return { ...base, status: 'pass' };
    return { ...base, status: 'fail', reason: `want error ${c.want_error_code ?? c.want_error}, got ${r.error ?? JSON.stringify(r.results)}` };
  }
  if (r.error) return { ...base, status: 'fail', reason: `unexpected ${r.errorMessage}` };
  const want = c.want_result ?? [];
  // Solutions are compared as a multiset; values inside keep their order unless sort_bindings.
  const got = r.values!;
  const left = [...want];
  let ok = got.length === want.length;
  for (const g of got) {
    if (!ok) break;
    const i = left.findIndex((w) => same(g, w, c.sort_bindings === true));
    if (i < 0) ok = false;
    else left.splice(i, 1);
  }
  return ok ? { ...base, status: 'pass' } : { ...base, status: 'fail', reason: `got ${JSON.stringify(r.results)} want ${JSON.stringify(want)}` };
}

export function runAll(dir = CASES_DIR): CaseOutcome[] {
  const out: CaseOutcome[] = [];
  for (const f of caseFiles(dir)) {
    const doc = YAML.parse(fs.readFileSync(f, 'utf8')) as { cases?: Case[] };
    for (const c of doc.cases ?? []) out.push(runCase(f, c));
  }
  return out;
}
