// Test harness: parse Rego sources, plan them with planPolicy, and run plans on the reference IR
// interpreter, returning JSON results (sets as sorted arrays) or the error code raised.

import type { Body, Module, Term } from '../../../src/compiler/ast';
import type { Diagnostic } from '../../../src/compiler/diagnostics';
import type { Policy } from '../../../src/compiler/ir/ir';
import { parseModule, parseQuery } from '../../../src/compiler/parser';
import { planPolicy } from '../../../src/compiler/plan/index';
import { EvalError, IRInterpreter } from './ir-interpreter';
import { interpreterArity } from './ir-builtins';
import type { RValue } from './ir-values';
import { fromJSON, RObject, RSet, toJSON } from './ir-values';

export interface CompileResult {
  policy?: Policy;
  diagnostics: Diagnostic[];
}

/** Parses and plans modules (named test-N.rego unless given as [name, text]) with optional queries. */
export function compile(sources: Array<string | [string, string]>, entrypoints: string[], queries: Record<string, string> = {}): CompileResult {
  const modules: Module[] = [];
  const diagnostics: Diagnostic[] = [];
  sources.forEach((s, i) => {
    const [name, text] = typeof s === 'string' ? [`test-${i}.rego`, s] : s;
    const r = parseModule({ name, text });
    diagnostics.push(...r.diagnostics);
    if (r.module) modules.push(r.module);
  });
  const qs: Array<{ name: string; body: Body }> = [];
  for (const [name, text] of Object.entries(queries)) {
    const r = parseQuery(text, name);
    diagnostics.push(...r.diagnostics);
    if (r.body) qs.push({ name, body: r.body });
  }
  if (diagnostics.length > 0) return { diagnostics };
  return planPolicy(modules, { entrypoints, queries: qs, builtins: interpreterArity });
}

export interface RunResult {
  results?: unknown[];
  /** the raw result values (sets kept as sets) */
  values?: RValue[];
  error?: string;
  errorMessage?: string;
}

/** Runs one plan of a compiled policy; input/data are JSON (or already RValues). */
export function run(policy: Policy, plan: string, input?: unknown, data?: unknown, strict = false): RunResult {
  const interp = new IRInterpreter(policy, { strictBuiltinErrors: strict });
  try {
    const rs = interp.evalPlan(plan, input === undefined ? undefined : asValue(input), data === undefined ? new RObject() : asValue(data));
    return { results: rs.map(toJSON), values: rs };
  } catch (err) {
    if (err instanceof EvalError) return { error: err.code, errorMessage: err.message };
    throw err;
  }
}

function asValue(x: unknown): RValue {
  if (x instanceof RObject || x instanceof RSet) return x;
  return fromJSON(x);
}

/** Compiles and evaluates a single entrypoint, returning its value (undefined when no result). */
export function evalRule(sources: string[], entrypoint: string, input?: unknown, data?: unknown): unknown {
  const c = compile(sources, [entrypoint]);
  if (!c.policy) throw new Error(c.diagnostics.map((d) => `${d.file}:${d.row}:${d.col}: ${d.code}: ${d.message}`).join('\n'));
  const r = run(c.policy, entrypoint, input, data);
  if (r.error) throw new Error(r.errorMessage);
  if (r.results!.length === 0) return undefined;
  return (r.results![0] as { result: unknown }).result;
}

/** Converts a ground Rego term (e.g. input_term in conformance cases) into a value. */
export function termValue(t: Term): RValue {
  const v = t.value;
  switch (v.type) {
    case 'null':
      return null;
    case 'boolean':
      return v.value;
    case 'number':
      return Number(v.text);
    case 'string':
      return v.value;
    case 'array':
      return v.items.map(termValue);
    case 'set':
      return RSet.from(v.items.map(termValue));
    case 'object':
      return RObject.from(v.items.map(([k, x]) => [termValue(k), termValue(x)]));
    default:
      throw new Error(`not a ground value: ${v.type}`);
  }
}
