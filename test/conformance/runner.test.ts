// The conformance runner's own logic: YAML validation, result comparison, skip file, report format.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCaseFile } from '../../src/conformance/cases';
import { compareValues, errorMatches, resultsMatch } from '../../src/conformance/compare';
import { formatReport, judge, runConformance } from '../../src/conformance/run';
import { loadSkipFile } from '../../src/conformance/skip';

// The first compile may build the wasm runtime (asc in a child process): allow for it.
jest.setTimeout(180_000);

describe('case file validation', () => {
  test('accepts OPA case files', () => {
    const f = parseCaseFile('cases:\n  - note: a/b\n    query: data.x = y\n    modules: ["package x"]\n    want_result: [{y: 1}]\n    sort_bindings: true\n', 'a/t.yaml');
    expect(f.errors).toEqual([]);
    expect(f.folder).toBe('a');
    expect(f.cases[0].note).toBe('a/b');
  });

  test('rejects unknown keys, wrong types and malformed YAML', () => {
    expect(parseCaseFile('cases:\n  - note: n\n    query: q\n    want_results: []\n', 'x.yaml').errors).toEqual(['case 1 (n): unknown key "want_results"']);
    expect(parseCaseFile('cases: []\nextra: 1\n', 'x.yaml').errors).toEqual(['unknown top-level key "extra"']);
    expect(parseCaseFile('cases:\n  - note: n\n    query: 1\n    strict_error: "yes"\n', 'x.yaml').errors).toEqual([
      'case 1 (n): "query" must be a string',
      'case 1 (n): "strict_error" must be a boolean',
    ]);
    expect(parseCaseFile('cases: [\n', 'x.yaml').errors[0]).toMatch(/^invalid YAML/);
  });
});

describe('comparison', () => {
  test('OPA value order: null < bool < number < string < array < object', () => {
    const xs = [{ a: 1 }, [1], 'a', 2, true, null];
    expect([...xs].sort(compareValues)).toEqual([null, true, 2, 'a', [1], { a: 1 }]);
  });

  test('result sets compare as sets of bindings; values keep order unless sort_bindings', () => {
    expect(resultsMatch([{ x: 1 }, { x: 2 }], [{ x: 2 }, { x: 1 }], false)).toBe(true);
    expect(resultsMatch([{ x: [1, 2] }], [{ x: [2, 1] }], false)).toBe(false);
    expect(resultsMatch([{ x: [1, 2] }], [{ x: [2, 1] }], true)).toBe(true);
    expect(resultsMatch([{ x: { a: 1, b: 2 } }], [{ x: { b: 2, a: 1 } }], false)).toBe(true);
    expect(resultsMatch([], [{ x: 1 }], false)).toBe(false);
    expect(resultsMatch([{ x: 1 }], [{ x: 1, y: 2 }], false)).toBe(false);
    expect(resultsMatch([{ x: 1 }, { x: 1 }], [{ x: 1 }], false)).toBe(true); // sets of bindings
  });

  test('errors: code equality and message substring', () => {
    expect(errorMatches({ code: 'eval_conflict_error' }, { code: 'eval_conflict_error', message: 'x' })).toBe(true);
    expect(errorMatches({ code: 'eval_type_error' }, { code: 'eval_conflict_error', message: 'x' })).toBe(false);
    expect(errorMatches({ message: 'divide by zero' }, { code: 'eval_builtin_error', message: 'div: divide by zero' })).toBe(true);
    expect(errorMatches({ message: '' }, { code: 'any', message: 'anything' })).toBe(true);
  });

  test('judge: an expected error wins over want_result; a result where an error was due fails', () => {
    const c = { note: 'n', query: 'q', want_result: [{ x: 1 }], want_error_code: 'eval_builtin_error' };
    expect(judge(c, { kind: 'result', rs: [{ x: 1 }] }).pass).toBe(false);
    expect(judge(c, { kind: 'error', code: 'eval_builtin_error', message: 'm', owner: 'eval' }).pass).toBe(true);
    expect(judge({ note: 'n', query: 'q', want_defined: false }, { kind: 'result', rs: [] }).pass).toBe(true);
  });
});

describe('skip file', () => {
  test('entries need a note and a reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-skip-'));
    writeFileSync(join(dir, 'ok.yaml'), '- note: a/b\n  reason: not supported by design\n');
    expect([...loadSkipFile(join(dir, 'ok.yaml'))]).toEqual([['a/b', 'not supported by design']]);
    writeFileSync(join(dir, 'bad.yaml'), '- note: a/b\n');
    expect(() => loadSkipFile(join(dir, 'bad.yaml'))).toThrow(/reason/);
    expect(loadSkipFile(join(dir, 'missing.yaml')).size).toBe(0);
  });
});

describe('runConformance on a small directory', () => {
  test('runs, skips, fails and reports with the totals line last', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-cases-'));
    mkdirSync(join(dir, 'cat', 'deep'), { recursive: true });
    writeFileSync(
      join(dir, 'cat', 'deep', 't.yaml'),
      [
        'cases:',
        '  - note: cat/pass',
        '    query: data.t.p = x',
        '    modules: ["package t\\n\\np := input.a + 1\\n"]',
        '    input: {a: 1}',
        '    want_result: [{x: 2}]',
        '  - note: cat/input_term with a set',
        '    query: data.t.s = x',
        '    modules: ["package t\\n\\ns := count(input.foo)\\n"]',
        "    input_term: '{\"foo\": {1, 2}}'",
        '    want_result: [{x: 2}]',
        '  - note: cat/fail',
        '    query: data.t.p = x',
        '    modules: ["package t\\n\\np := 1\\n"]',
        '    want_result: [{x: 2}]',
        '  - note: cat/skipped',
        '    query: data.t.p = x',
        '    modules: ["package t\\n\\np := 1\\n"]',
        '    want_result: [{x: 1}]',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'bad.yml'), 'cases:\n  - note: typo\n    query: x\n    wantresult: []\n');
    const skipFile = join(mkdtempSync(join(tmpdir(), 'tether-skipfile-')), 'skip.yaml');
    writeFileSync(skipFile, '- note: cat/skipped\n  reason: testing the skip list\n');
    const s = await runConformance(dir, { skipFile });
    const byNote = Object.fromEntries(s.results.map((r) => [r.note, r.status]));
    expect(byNote).toMatchObject({ 'cat/pass': 'pass', 'cat/input_term with a set': 'pass', 'cat/fail': 'fail', 'cat/skipped': 'skip' });
    expect(s.fileErrors.map((f) => f.file)).toEqual(['bad.yml']);
    const report = formatReport(s, 'cases');
    expect(report).toContain('repro: tether conformance cases --case "cat/fail"');
    expect(report.split('\n').pop()).toBe(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
    expect([s.passed, s.failed, s.skipped]).toEqual([2, 2, 1]);
  });

  test('a missing directory is reported plainly', async () => {
    await expect(runConformance('/nonexistent/cases')).rejects.toThrow(/conformance cases not found at \/nonexistent\/cases/);
  });
});
