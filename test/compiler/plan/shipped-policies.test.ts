// The shipped policies (policies/tether) planned with Tether's real built-in catalog; their
// `test_` rules run on the reference IR interpreter with policies/data.json as data.

import * as fs from 'fs';
import * as path from 'path';
import type { Module } from '../../../src/compiler/ast';
import { builtinArity } from '../../../src/compiler/builtins/catalog';
import { parseModule } from '../../../src/compiler/parser';
import { planPolicy } from '../../../src/compiler/plan';
import { IRInterpreter } from './ir-interpreter';
import { BUILTINS } from './ir-builtins';
import { fromJSON, RObject, toJSON } from './ir-values';

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

  const missing = planned.policy?.static.builtinFuncs.filter((b) => !BUILTINS[b.name]).map((b) => b.name) ?? [];
  (missing.length === 0 ? it : it.skip)(`passes all ${entrypoints.length} test_ rules on the interpreter`, () => {
    const dataFile = path.join(DIR, '../data.json');
    const data = fs.existsSync(dataFile) ? fromJSON(JSON.parse(fs.readFileSync(dataFile, 'utf8'))) : new RObject();
    const interp = new IRInterpreter(planned.policy!);
    const failed = entrypoints.filter((ep) => JSON.stringify(interp.evalPlan(ep, undefined, data).map(toJSON)) !== '[{"result":true}]');
    expect(failed).toEqual([]);
  });
});
