// The tether CLI in-process: build → bundle, eval output as `opa eval`, test, conformance.
import { join } from 'node:path';
import { run, tree } from './run-cli';
import { loadBundle } from '../../src/engine/bundle';

jest.setTimeout(180_000);


const dir = tree({
  'rbac.rego': 'package app.rbac\n\ndefault allow := false\n\nallow if "admin" in data.roles[input.user]\n\nhello := sprintf("hi %s", [input.user])\n',
  'rbac_test.rego':
    'package app.rbac_test\n\nimport data.app.rbac\n\ntest_admin if rbac.allow with input as {"user": "ann"}\n\ntest_viewer_denied if not rbac.allow with input as {"user": "bo"}\n',
  'data.json': '{"roles": {"ann": ["admin"], "bo": ["viewer"]}}',
  'input.json': '{"user": "ann"}',
});

describe('tether build', () => {
  test('writes a loadable OPA bundle and reports counts', async () => {
    const out = join(dir, 'bundle.tar.gz');
    const r = await run('build', join(dir, 'rbac.rego'), join(dir, 'data.json'), '-e', 'app/rbac/allow', '-e', 'data.app.rbac.hello', '-o', out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/built .*bundle\.tar\.gz: 1 file\(s\), 2 entrypoint\(s\)/);
    const e = loadBundle(out);
    expect(e.entrypoints.sort()).toEqual(['app/rbac/allow', 'app/rbac/hello']);
    expect(e.evaluate('app/rbac/allow', { user: 'ann' })).toEqual([{ result: true }]);
  });

  test('policy errors print diagnostics with a caret and exit 1; no -e is a usage error', async () => {
    const bad = tree({ 'x.rego': 'package x\n\np if {\n\tq(1)\n}\n' });
    const r = await run('build', bad, '-e', 'x/p', '-o', join(bad, 'b.tar.gz'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/x\.rego:4:\d+: rego_type_error/);
    expect(r.err).toContain('^');
    expect((await run('build', bad)).code).toBe(2);
  });
});

describe('tether eval', () => {
  test('prints expressions and bindings as opa eval does', async () => {
    const r = await run('eval', '-d', dir, '-i', join(dir, 'input.json'), 'data.app.rbac.allow; x := data.app.rbac.hello');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      result: [
        {
          expressions: [
            { value: true, text: 'data.app.rbac.allow', location: { row: 1, col: 1 } },
            { value: true, text: 'x := data.app.rbac.hello', location: { row: 1, col: 22 } },
          ],
          bindings: { x: 'hi ann' },
        },
      ],
    });
  });

  test('print(...) output goes to stderr, the result set to stdout', async () => {
    const r = await run('eval', '-d', dir, '-i', join(dir, 'input.json'), 'print("user", input.user, input.nope); x := 1');
    expect(r.code).toBe(0);
    expect(r.err).toBe('user ann <undefined>\n');
    expect(JSON.parse(r.out).result[0].bindings).toEqual({ x: 1 });
  });

  test('a false comparison is reported with value false; an undefined query prints {}', async () => {
    expect(JSON.parse((await run('eval', '1 > 2')).out).result[0].expressions[0].value).toBe(false);
    expect(JSON.parse((await run('eval', '-d', dir, 'data.app.rbac.nope')).out)).toEqual({});
  });
});

describe('tether test', () => {
  test('runs test_* rules, prints PASS per test and a summary', async () => {
    const r = await run('test', dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain('data.app.rbac_test.test_admin: PASS');
    expect(r.out).toContain('data.app.rbac_test.test_viewer_denied: PASS');
    expect(r.out).toContain('PASS: 2/2');
  });

  test('a failing test prints FAIL and exits 1', async () => {
    const failing = tree({
      'p.rego': 'package p\n\nallow := false\n',
      'p_test.rego': 'package p_test\n\ntest_allow if data.p.allow\n\ntest_ok if true\n\ntodo_test_later if false\n',
    });
    const r = await run('test', failing);
    expect(r.code).toBe(1);
    expect(r.out).toContain('data.p_test.test_allow: FAIL');
    expect(r.out).toContain('FAIL: 1/3');
    expect(r.out).toContain('data.p_test.todo_test_later: SKIPPED');
  });
});

describe('tether test print output', () => {
  const printing = tree({
    'p.rego': 'package p\n\nallow if input.n > 2\n',
    'p_test.rego':
      'package p_test\n\ntest_big if {\n\tprint("checking", 5)\n\tdata.p.allow with input as {"n": 5}\n}\n\n' +
      'test_small if {\n\tprint("n is", 1, "and", input.missing)\n\tdata.p.allow with input as {"n": 1}\n}\n',
  });

  test('a failing test shows what it printed; a passing one does not', async () => {
    const r = await run('test', printing);
    expect(r.code).toBe(1);
    expect(r.out).toContain('data.p_test.test_small: FAIL');
    expect(r.out).toContain('\n  n is 1 and <undefined>\n');
    expect(r.out).not.toContain('checking');
  });

  test('-v shows the output of every test, under that test', async () => {
    const r = await run('test', '-v', printing);
    const big = r.out.indexOf('data.p_test.test_big: PASS');
    expect(big).toBeGreaterThanOrEqual(0);
    expect(r.out.indexOf('  checking 5')).toBeGreaterThan(big);
    expect(r.out.indexOf('  checking 5')).toBeLessThan(r.out.indexOf('data.p_test.test_small'));
  });
});

describe('--strict', () => {
  const loose = tree({
    'p.rego': 'package p\n\nimport data.unused\n\nallow if {\n\tx := 1\n\ttrue\n}\n',
    'p_test.rego': 'package p_test\n\ntest_allow if data.p.allow\n',
  });

  test('tether test --strict rejects unused imports and vars with their locations; without it the tests run', async () => {
    const strict = await run('test', '--strict', loose);
    expect(strict.code).toBe(1);
    expect(strict.err).toContain('p.rego:3:1: rego_compile_error: import data.unused unused');
    expect(strict.err).toContain('p.rego:6:2: rego_compile_error: assigned var x unused');
    expect((await run('test', loose)).code).toBe(0);
  });

  test('tether build --strict fails the build the same way', async () => {
    const r = await run('build', '--strict', loose, '-e', 'p/allow', '-o', join(loose, 'b.tar.gz'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('assigned var x unused');
  });
});

describe('tether conformance', () => {
  test('runs one case by note and ends with the totals line', async () => {
    const cases = tree({
      'cat/t.yaml': 'cases:\n  - note: cat/one\n    query: data.t.p = x\n    modules: ["package t\\n\\np := 7\\n"]\n    want_result: [{x: 7}]\n  - note: cat/two\n    query: data.t.p = x\n    modules: ["package t\\n\\np := 1\\n"]\n    want_result: [{x: 2}]\n',
    });
    const one = await run('conformance', cases, '--case', 'cat/one');
    expect(one.code).toBe(0);
    expect(one.out.trim().split('\n').pop()).toBe('1 passed, 0 failed, 0 skipped');
    const all = await run('conformance', cases);
    expect(all.code).toBe(1);
    expect(all.out).toContain(`repro: tether conformance ${cases} --case "cat/two"`);
  });

  test('a missing case directory is said plainly', async () => {
    const r = await run('conformance', '/nonexistent/cases');
    expect(r.code).toBe(2);
    expect(r.err).toContain('conformance cases not found at /nonexistent/cases');
  });

  test('unknown commands are usage errors', async () => {
    expect((await run('frobnicate')).code).toBe(2);
  });
});
