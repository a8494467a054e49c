// The shipped policies (policies/tether) plan without diagnostics with Tether's real built-in catalog.
// Their test_ rules run through the real wasm path in `tether test policies` (npm test): the reference
// IR interpreter uses JS doubles and cannot represent the policies' nanosecond arithmetic exactly.

import * as fs from 'fs';
import * as path from 'path';
import type { Module } from '../../../src/compiler/ast';
import { builtinArity } from '../../../src/compiler/builtins/catalog';
import { parseModule } from '../../../src/compiler/parser';
import { planPolicy } from '../../../src/compiler/plan';

const DIR = path.join(__dirname, '../../../policies/tether');
const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.rego')).sort() : [];

(files.length ? describe : describe.skip)('shipped policies through the planner', () => {
  const modules: Module[] = files.map((f) => {
    const r = parseModule({ name: `policies/tether/${f}`, text: fs.readFileSync(path.join(DIR, f), 'utf8') });
    if (!r.module) throw new Error(`parse failed: ${f}`);
    return r.module;
  });
  const tests: string[] = [];
  for (const m of modules) {
    const pkg = m.package.path.slice(1).map((t) => (t.value.type === 'string' ? t.value.value : ''));
    for (const r of m.rules) if (r.head.name.startsWith('test_') && !r.head.args) tests.push([...pkg, r.head.name].join('/'));
  }
  const entrypoints = [...new Set(tests)];
  const planned = planPolicy(modules, { entrypoints, builtins: builtinArity });

  it('plans every test rule without diagnostics', () => {
    expect(planned.diagnostics).toEqual([]);
    expect(planned.policy!.plans.map((p) => p.name)).toEqual(entrypoints);
  });
});
