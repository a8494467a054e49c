// What the CLI says when the user gets something wrong: one line naming the flag, file or variable, and
// an exit code that tells usage (2), user/environment errors (1) and configuration errors (78) from bugs (70).
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { main } from '../../src/cli';
import { run, tree } from './run-cli';
import { serveArgsToEnv } from '../../src/server';
import { UsageError } from '../../src/cli/args';

jest.setTimeout(180_000);


const ok = tree({ 'app/p.rego': 'package app\n\nallow if input.user == "ann"\n\nrules[x] := 1 if some x in ["a"]\n' });

describe('1. build checks entrypoints against the rules', () => {
  test('an entrypoint naming no rule fails as opa build does, and no bundle is written', async () => {
    const out = join(ok, 'nonexistent.tar.gz');
    const r = await run('build', ok, '-e', 'app/nonexistent', '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toContain('entrypoint "app/nonexistent" does not refer to a rule or policy decision');
    expect(existsSync(out)).toBe(false);
    const empty = await run('build', ok, '-e', '', '-o', out);
    expect(empty.code).toBe(1);
    expect(empty.err).toContain('entrypoint "" does not refer to a rule or policy decision');
  });

  test('rules, data.-prefixed rules and package prefixes still build', async () => {
    const out = join(ok, 'good.tar.gz');
    expect((await run('build', ok, '-e', 'app/allow', '-e', 'data.app.rules', '-o', out)).code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe('2. import against something that is not Tether', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<html><body>Welcome to nginx</body></html>\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const file = (): string => {
    const f = join(tree({}), 'small.ndjson');
    writeFileSync(f, '{"kind":"identity","record":{"id":"u1","status":"active"}}\n');
    return f;
  };

  test('a 200 text/html answer is one line naming the URL and what came back, exit 1', async () => {
    const r = await run('import', file(), '--url', url, '--token', 't', '--quiet');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`tether import: ${url} did not answer as Tether (got text/html: "<html><body>Welcome to nginx</body></html>"); check --url\n`);
    expect(r.out).toBe('');
  });

  test('--url without a scheme names the flag and value (usage error, exit 2)', async () => {
    const r = await run('import', file(), '--url', 'localhost:37391', '--token', 't');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--url localhost:37391: not an http(s) URL');
  });

  test('connection refused asks whether tether serve runs', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await run('import', file(), `--url=http://127.0.0.1:${port}`, '--token=t', '--quiet');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot connect to http://127.0.0.1:${port} (ECONNREFUSED): is \`tether serve\` running? pass --url`);
  });
});

describe('3. eval -i', () => {
  test('invalid, empty and missing input files are said, exit 1', async () => {
    const d = tree({ 'bad.json': '{"user": ', 'empty.json': '' });
    const bad = await run('eval', '-i', join(d, 'bad.json'), 'input.user');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(new RegExp(`^-i ${join(d, 'bad.json')}: invalid JSON: .+\\n$`));
    const empty = await run('eval', '-i', join(d, 'empty.json'), 'input.user');
    expect(empty.code).toBe(1);
    expect(empty.err).toContain(`-i ${join(d, 'empty.json')}: invalid JSON:`);
    const missing = await run('eval', '-i', join(d, 'nosuch.json'), 'input.user');
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`-i ${join(d, 'nosuch.json')}: no such file\n`);
  });
});

describe('4. test with a test file that does not parse', () => {
  test('prints the parse diagnostics, not "no tests found"', async () => {
    const d = tree({ 'p.rego': 'package p\n\nallow := true\n', 'p_test.rego': 'package p_test\n\ntest_allow if {\n\tdata.p.allow ==\n' });
    const r = await run('test', d);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/p_test\.rego:\d+:\d+: rego_parse_error/);
    expect(r.err).not.toContain('no tests found');
  });
});

describe('5. --help and usage errors', () => {
  test.each([
    ['build', 'usage: tether build'],
    ['test', 'usage: tether test'],
    ['eval', 'usage: tether eval'],
    ['conformance', 'usage: tether conformance'],
    ['serve', 'usage: tether serve'],
    ['import', 'usage: tether import'],
  ])('tether %s --help / -h prints its usage on stdout, exit 0', async (cmd, usage) => {
    for (const flag of ['--help', '-h']) {
      const r = await run(cmd, flag);
      expect(r.code).toBe(0);
      expect(r.out).toContain(usage);
      expect(r.err).toBe('');
    }
  });

  test('serve: an unknown option or a missing value is a usage error (exit 2, with the usage)', async () => {
    expect(() => serveArgsToEnv(['--bogus'])).toThrow(UsageError);
    const r = await run('serve', '--bogus');
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown option --bogus');
    expect(r.err).toContain('usage: tether serve');
    expect((await run('serve', '--port')).code).toBe(2);
  });

  test('import: usage errors exit 2 like the other commands; --flag=value is accepted', async () => {
    expect((await run('import')).code).toBe(2);
    expect((await run('import', 'f.ndjson', '--bogus')).code).toBe(2);
    expect((await run('import', 'f.ndjson', '--batch=0')).err).toContain('--batch must be a positive integer');
    expect((await run('import', 'f.ndjson', '--batch=0')).code).toBe(2);
  });

  test('a bare tether prints the usage on stderr, exit 2', async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('usage: tether <command>');
  });
});

// serve prints a generated API token on stdout; kept out of the test output.
function quietStdout(): () => void {
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return () => spy.mockRestore();
}

/** In a describe block: stdout muted and process.env restored around each test (serve reads both). */
function isolateProcess(): void {
  const env = { ...process.env };
  let restore: () => void;
  beforeEach(() => {
    restore = quietStdout();
  });
  afterEach(() => {
    restore();
    process.env = { ...env };
  });
}

describe('6. errors the user caused are not internal errors', () => {
  isolateProcess();

  test('-o under a file: named, exit 1, before compiling', async () => {
    const d = tree({ afile: 'x' });
    const r = await run('build', ok, '-e', 'app/allow', '-o', join(d, 'afile', 'out.tar.gz'));
    expect(r.code).toBe(1);
    expect(r.err).toBe(`-o ${join(d, 'afile', 'out.tar.gz')}: not a directory\n`);
    const gone = await run('build', ok, '-e', 'app/allow', '-o', join(d, 'nodir', 'out.tar.gz'));
    expect(gone.code).toBe(1);
    expect(gone.err).toContain(`-o ${join(d, 'nodir', 'out.tar.gz')}: directory ${join(d, 'nodir')} does not exist`);
  });

  test('a bad configuration value exits 78 with the message alone', async () => {
    process.env.PORT = 'eighty';
    const r = await run('serve');
    expect(r.code).toBe(78);
    expect(r.err).toBe('PORT: "eighty" must be an integer in [0, 65535]\n');
  });

  test('a data dir under a file is named with the variable, exit 1', async () => {
    const d = tree({ afile: 'x' });
    const r = await run('serve', '--data-dir', join(d, 'afile', 'data'), '--port', '0', '--host', '127.0.0.1');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`TETHER_DATA_DIR ${join(d, 'afile', 'data')} is not a directory (ENOTDIR)`);
  });

  test('a port in use says so and names PORT/--port, exit 1', async () => {
    const busy = http.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      process.env.TETHER_LOG_LEVEL = 'error';
      process.env.TETHER_POLICY_DIR = ok;
      process.env.TETHER_WARMUP_REQUESTS = '0';
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      const writes = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const r = await run('serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', tree({}));
      writes.mockRestore();
      errors.mockRestore();
      expect(r.code).toBe(1);
      expect(r.err).toBe(`port ${port} is in use (set PORT or --port)\n`);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  test('errors that are not the user\'s still propagate (exit 70 in the bin)', async () => {
    await expect(main(['eval', '-d', ok, 'x := 1'], { out: () => { throw new TypeError('boom'); }, err: () => undefined })).rejects.toThrow('boom');
  });
});

describe('7. conformance with nothing to run', () => {
  test('a directory without YAML cases exits 1 naming it', async () => {
    const d = tree({ 'README.md': 'no cases' });
    const r = await run('conformance', d);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no conformance cases in ${d}`);
  });

  test('a file instead of a directory is a usage-level error, not a crash', async () => {
    const d = tree({ 'afile.yaml': 'cases: []\n' });
    const r = await run('conformance', join(d, 'afile.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${join(d, 'afile.yaml')} is not a directory`);
  });
});

describe('8. serve with a policy directory that is not there', () => {
  isolateProcess();

  test('refuses to start with one line naming TETHER_POLICY_DIR, exit 78', async () => {
    process.env.TETHER_LOG_LEVEL = 'error';
    const writes = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const r = await run('serve', '--policy-dir', '/nonexistent/policies', '--port', '0', '--host', '127.0.0.1', '--data-dir', tree({}));
    writes.mockRestore();
    expect(r.code).toBe(78);
    expect(r.err).toBe('TETHER_POLICY_DIR /nonexistent/policies does not exist\n');
  });
});

describe('codes said once', () => {
  test('a test erroring with eval_conflict_error names the code once', async () => {
    const d = tree({ 'p.rego': 'package p\n\nx := 1 if true\n\nx := 2 if true\n', 'p_test.rego': 'package p_test\n\ntest_x if data.p.x == 1\n' });
    const r = await run('test', d);
    expect(r.code).toBe(1);
    expect(r.out).toContain('eval_conflict_error');
    expect(r.out).not.toMatch(/eval_conflict_error: eval_conflict_error/);
  });
});

describe('a missing policy path', () => {
  test('is said as a policy directory (or file) not found, not bundle_not_found', async () => {
    const r = await run('test', '/nonexistent/policies');
    expect(r.code).toBe(1);
    expect(r.err).toBe('policy_load_error: policy directory not found: /nonexistent/policies\n');
    const e = await run('eval', '-d', '/nonexistent/p.rego', 'x := 1');
    expect(e.err).toBe('policy_load_error: policy file not found: /nonexistent/p.rego\n');
  });
});
