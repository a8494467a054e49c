// `tether test [dir]`: runs the test_* rules of *_test.rego files as `opa test` does, each test rule
// compiled as an entrypoint and evaluated in wasm (PASS when defined and not false).
import { compile, formatDiagnostics, parseAll } from '../compiler';
import { loadEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import { collectSources, packagePath } from '../engine/sources';
import { engineErrorText, parseArgs, type CommandIO } from './args';

export const TEST_USAGE = 'usage: tether test [-v] [--strict] [paths...]   (default path: policies)';

export interface TestOutcome {
  name: string;
  file: string;
  status: 'PASS' | 'FAIL' | 'ERROR' | 'SKIPPED';
  ms: number;
  message?: string;
  /** Lines the test's print(...) calls wrote, in order. */
  output: string[];
}

/** Finds, compiles and runs the tests under the given paths. */
export async function runTests(paths: string[], opts: { strict?: boolean } = {}): Promise<{ outcomes: TestOutcome[]; diagnostics?: string }> {
  const src = collectSources(paths);
  const all = [...src.files, ...src.tests];
  const parsed = parseAll({ files: src.tests, entrypoints: [] });
  // A test file that does not parse would otherwise just contribute no tests ("no tests found").
  if (parsed.diagnostics.length) {
    return { outcomes: [], diagnostics: formatDiagnostics(parsed.diagnostics, Object.fromEntries(src.tests.map((f) => [f.name, f.text]))) };
  }
  const tests: Array<{ entrypoint: string; name: string; file: string }> = [];
  const skipped: TestOutcome[] = [];
  const seen = new Set<string>();
  for (const m of parsed.modules) {
    const pkg = packagePath(m);
    for (const r of m.rules) {
      // As opa test: todo_test_* rules are reported as skipped, not run.
      if (r.head.name.startsWith('todo_test_') && !seen.has(`todo:${r.head.name}`)) {
        seen.add(`todo:${r.head.name}`);
        skipped.push({ name: `data.${[...pkg, r.head.name].join('.')}`, file: m.file, status: 'SKIPPED', ms: 0, output: [] });
        continue;
      }
      if (!r.head.name.startsWith('test_') || r.head.kind === 'function' || r.head.ref.length > 1) continue;
      const entrypoint = [...pkg, r.head.name].join('/');
      if (seen.has(entrypoint)) continue;
      seen.add(entrypoint);
      tests.push({ entrypoint, name: `data.${[...pkg, r.head.name].join('.')}`, file: m.file });
    }
  }
  if (tests.length === 0) return { outcomes: skipped };
  const r = await compile({ files: all, entrypoints: tests.map((t) => t.entrypoint), printStatements: true, strict: opts.strict });
  if (!r.ok || !r.wasm) {
    return { outcomes: [], diagnostics: formatDiagnostics(r.diagnostics, Object.fromEntries(all.map((f) => [f.name, f.text]))) };
  }
  let output: string[] = [];
  const engine = loadEngine(r.wasm, { data: src.data, print: (line) => output.push(line) });
  const outcomes: TestOutcome[] = [];
  for (const t of tests) {
    output = [];
    const t0 = performance.now();
    try {
      // As opa test: no input unless a test supplies one with `with input as`.
      const rs = engine.evaluate(t.entrypoint, undefined);
      const ok = rs.length > 0 && rs.every((x) => x.result !== false);
      outcomes.push({ name: t.name, file: t.file, status: ok ? 'PASS' : 'FAIL', ms: performance.now() - t0, message: ok ? undefined : rs.length ? 'result was false' : 'result was undefined', output });
    } catch (e) {
      const msg = e instanceof EngineError ? engineErrorText(e) : String(e);
      outcomes.push({ name: t.name, file: t.file, status: 'ERROR', ms: performance.now() - t0, message: msg, output });
    }
  }
  return { outcomes: [...outcomes, ...skipped] };
}

const fmtMs = (ms: number): string => (ms < 1 ? `${Math.round(ms * 1000)}µs` : `${ms.toFixed(1)}ms`);

export async function runTestCommand(argv: string[], io: CommandIO): Promise<number> {
  const a = parseArgs(argv, { values: {}, booleans: { '-v': 'verbose', '--verbose': 'verbose', '--strict': 'strict' }, usage: TEST_USAGE });
  const paths = a.positionals.length ? a.positionals : ['policies'];
  const { outcomes, diagnostics } = await runTests(paths, { strict: a.flags.has('strict') });
  if (diagnostics) {
    io.err(diagnostics);
    return 1;
  }
  if (outcomes.length === 0) {
    io.err(`no tests found in ${paths.join(', ')}`);
    return 1;
  }
  let lastFile = '';
  for (const o of outcomes) {
    if (o.file !== lastFile) {
      io.out(`${o.file}:`);
      lastFile = o.file;
    }
    io.out(`${o.name}: ${o.status} (${fmtMs(o.ms)})${o.message && o.status !== 'PASS' ? `\n  ${o.message}` : ''}`);
    // As opa test: print(...) output under failed tests, and under every test with -v.
    if (o.output.length && (o.status === 'FAIL' || o.status === 'ERROR' || a.flags.has('verbose'))) io.out(`\n${o.output.map((l) => `  ${l}`).join('\n')}\n\n`);
  }
  const count = (s: TestOutcome['status']): number => outcomes.filter((o) => o.status === s).length;
  const [pass, fail, error, skip] = [count('PASS'), count('FAIL'), count('ERROR'), count('SKIPPED')];
  io.out('-'.repeat(80));
  if (pass) io.out(`PASS: ${pass}/${outcomes.length}`);
  if (fail) io.out(`FAIL: ${fail}/${outcomes.length}`);
  if (error) io.out(`ERROR: ${error}/${outcomes.length}`);
  if (skip) io.out(`SKIPPED: ${skip}/${outcomes.length}`);
  return fail === 0 && error === 0 && pass > 0 ? 0 : 1;
}
