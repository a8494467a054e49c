// `tether eval -d <paths> [-i input.json] '<query>'`: prints the result set as `opa eval` does
// (JSON {"result": [{"expressions": [...], "bindings": {...}}]}), through the compiled wasm path.
import { readFileSync } from 'node:fs';
import type { Body, Expr, Term } from '../compiler/ast';
import { refToPath, varTerm } from '../compiler/ast';
import { builtinArity } from '../compiler/builtins/catalog';
import { compile, formatDiagnostics } from '../compiler';
import { parseQuery } from '../compiler/parser';
import { loadEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import { collectSources } from '../engine/sources';
import { CommandError, parseArgs, UsageError, type CommandIO } from './args';

export const EVAL_USAGE = "usage: tether eval [-d <path>]... [-i input.json] [--strict] [--strict-builtin-errors] '<query>'";

// Not starting with '_' (hidden vars are left out of query results).
const EXPR_VAR = 'tether__expr';

/**
 * Captures each expression's value as `opa eval` reports it: a term expression `t` becomes
 * `tether__exprN = t`, a built-in call gets an output var; `:=`/`=` and the rest report true.
 */
export function instrumentQuery(body: Body): { body: Body; exprs: Array<{ text: string; row: number; col: number; var?: string }> } {
  const out: Body = [];
  const exprs: Array<{ text: string; row: number; col: number; var?: string }> = [];
  body.forEach((e, i) => {
    const info = { text: e.loc.text, row: e.loc.row, col: e.loc.col };
    const v = `${EXPR_VAR}${i}`;
    if (e.kind === 'term' && !e.negated) {
      const eq: Expr = { kind: 'call', operator: { value: { type: 'ref', terms: [varTerm('eq', e.loc)] }, loc: e.loc } as Term, args: [varTerm(v, e.loc), e.term], negated: false, with: e.with, loc: e.loc };
      out.push(eq);
      exprs.push({ ...info, var: v });
      return;
    }
    if (e.kind === 'call' && !e.negated) {
      const path = refToPath(e.operator);
      const name = path?.join('.');
      if (name && name !== 'eq' && name !== 'assign' && builtinArity(name) === e.args.length) {
        out.push({ ...e, args: [...e.args, varTerm(v, e.loc)] });
        exprs.push({ ...info, var: v });
        return;
      }
    }
    out.push(e);
    exprs.push(info);
  });
  return { body: out, exprs };
}

/** The -i document: a missing, unreadable or malformed file is the user's to fix (exit 1), not a crash. */
function readInput(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandError(`-i ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? (e as Error).message})`}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CommandError(`-i ${file}: invalid JSON: ${(e as Error).message}`);
  }
}

export async function runEval(argv: string[], io: CommandIO): Promise<number> {
  const a = parseArgs(argv, {
    values: { '-d': 'd', '--data': 'd', '-i': 'i', '--input': 'i', '-f': 'format', '--format': 'format' },
    booleans: { '--strict-builtin-errors': 'strict', '--strict': 'strictMode' },
    usage: EVAL_USAGE,
  });
  if (a.positionals.length !== 1) throw new UsageError(EVAL_USAGE);
  const format = a.values.format?.[0] ?? 'json';
  if (format !== 'json') throw new UsageError(`unsupported --format ${format} (only json)\n${EVAL_USAGE}`);
  const queryText = a.positionals[0];
  const src = collectSources(a.values.d ?? []);
  const input = a.values.i ? readInput(a.values.i[0]) : undefined;
  const q = parseQuery(queryText, 'query');
  if (!q.body) {
    io.err(formatDiagnostics(q.diagnostics, { query: queryText }));
    return 1;
  }
  const { body, exprs } = instrumentQuery(q.body);
  const r = await compile({ files: src.files, entrypoints: [], queries: [{ name: 'eval', body }], strictBuiltinErrors: a.flags.has('strict'), printStatements: true, strict: a.flags.has('strictMode') });
  if (!r.ok || !r.wasm) {
    io.err(formatDiagnostics(r.diagnostics, { ...Object.fromEntries(src.files.map((f) => [f.name, f.text])), query: queryText }));
    return 1;
  }
  let rs;
  try {
    // As opa eval: print(...) output goes to stderr, the result set to stdout.
    const engine = loadEngine(r.wasm, { data: src.data, strictBuiltinErrors: a.flags.has('strict'), print: (line) => io.err(line) });
    rs = engine.evaluate('eval', input);
  } catch (e) {
    if (e instanceof EngineError) {
      io.out(JSON.stringify({ errors: [{ code: e.code, message: e.message }] }, null, 2));
      return 1;
    }
    throw e;
  }
  const result = rs.map((b) => {
    const bindings: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b)) if (!k.startsWith(EXPR_VAR)) bindings[k] = v;
    const expressions = exprs.map((x) => ({ value: x.var ? b[x.var] : true, text: x.text, location: { row: x.row, col: x.col } }));
    return Object.keys(bindings).length ? { expressions, bindings } : { expressions };
  });
  io.out(JSON.stringify(result.length ? { result } : {}, null, 2));
  return 0;
}
