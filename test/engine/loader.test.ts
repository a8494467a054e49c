// Loading a policy directory: compiles *.rego (not tests) with data.json files merged by path.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyDir } from '../../src/engine/loader';
import { collectSources } from '../../src/engine/sources';

// The first compile may build the wasm runtime (asc in a child process): allow for it.
jest.setTimeout(180_000);

function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tether-policies-'));
  for (const [name, text] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  return dir;
}

describe('policy directory loader', () => {
  const dir = policyDir({
    'authz.rego': 'package tether\n\ndefault decision := {"allow": false}\n\ndecision := {"allow": true} if input.user in data.tether.admins\n',
    'authz_test.rego': 'package tether_test\n\ntest_x if data.tether.decision.allow with input as {"user": "a"}\n',
    'data.json': '{"tether": {"admins": ["a"]}}',
    'limits/data.json': '{"daily": 3}',
  });

  test('collectSources separates tests and nests data.json by directory', () => {
    const s = collectSources([dir]);
    expect(s.files.map((f) => f.name)).toEqual([join(dir, 'authz.rego')]);
    expect(s.tests.map((f) => f.name)).toEqual([join(dir, 'authz_test.rego')]);
    expect(s.data).toEqual({ tether: { admins: ['a'] }, limits: { daily: 3 } });
  });

  test('every rule becomes an entrypoint by default and the data is loaded', async () => {
    const e = await loadPolicyDir(dir);
    expect(e.entrypoints).toEqual(['tether/decision']);
    expect(e.evaluate('tether/decision', { user: 'a' })).toEqual([{ result: { allow: true } }]);
    expect(e.evaluate('tether/decision', { user: 'b' })).toEqual([{ result: { allow: false } }]);
  });

  test('a policy error is compile_error with file:line:col diagnostics', async () => {
    const bad = policyDir({ 'x.rego': 'package x\n\np if {\n\ty := z\n}\n' });
    await expect(loadPolicyDir(bad)).rejects.toMatchObject({ code: 'compile_error', message: expect.stringContaining('x.rego:4:') });
  });
});
