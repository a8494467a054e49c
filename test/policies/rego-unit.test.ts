// Runs every test_ rule of the shipped *_test.rego files through our compiler and the real engine
// (what `tether test policies` does), and checks each rule and reason code has a Rego test.
import fs from 'node:fs';
import path from 'node:path';
import { compile, formatDiagnostics } from '../../src/compiler';
import { loadEngine } from '../../src/engine/engine';
import { POLICY_DIR, regoFiles, shippedData } from './shipped-policies';

// Compiling the shipped policies can take a while on a loaded CI machine.
jest.setTimeout(120_000);

const files = regoFiles(POLICY_DIR, true);
const tests: string[] = [];
for (const f of files.filter((x) => x.name.endsWith('_test.rego'))) {
  const pkg = /^package\s+([\w.]+)/m.exec(f.text)![1].replace(/\./g, '/');
  for (const m of f.text.matchAll(/^(test_\w+)\s+if\b/gm)) tests.push(`${pkg}/${m[1]}`);
}

let results: Map<string, unknown>;
beforeAll(async () => {
  const r = await compile({ files, entrypoints: tests });
  if (!r.ok) throw new Error(formatDiagnostics(r.diagnostics));
  const engine = loadEngine(r.wasm!, { data: shippedData() });
  results = new Map(tests.map((t) => [t, engine.evaluate(t, {})[0]?.result]));
});

test('there are Rego tests beside every policy file', () => {
  const dir = path.join(POLICY_DIR, 'tether');
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.rego') && !x.endsWith('_test.rego')))
    expect(fs.existsSync(path.join(dir, f.replace(/\.rego$/, '_test.rego')))).toBe(true);
  expect(tests.length).toBeGreaterThan(100);
});

test.each(tests)('%s', (name) => {
  expect(results.get(name)).toBe(true);
});

test('every reason code of decision-model.md appears in a Rego test', () => {
  const codes = [
    'identity_unknown', 'identity_not_active', 'identity_not_proofed', 'identity_not_provisioned', 'device_missing',
    'device_unknown', 'device_not_owned_by_subject', 'device_not_enrolled', 'device_not_compliant', 'device_not_encrypted',
    'device_state_stale', 'device_ownership_not_allowed', 'no_compliant_device', 'enrollment_pending', 'break_glass_inactive',
    'service_not_allowed', 'app_unknown', 'action_unknown',
  ];
  const text = files.filter((f) => f.name.endsWith('decision_test.rego')).map((f) => f.text).join('\n');
  for (const c of codes) expect(text).toContain(`"${c}"`);
});
