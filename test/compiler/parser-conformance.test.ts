// Main yardstick for the front end: every module, query and input_term of OPA's conformance
// cases (/work/shared/rego-conformance/cases) parses with zero diagnostics, and the checks raise
// nothing for them beyond what the built-in catalog itself lacks.
import * as fs from 'fs';
import * as path from 'path';
import YAML from 'yaml';
import { parseModule, parseQuery, parseTerm } from '../../src/compiler/parser';
import { formatDiagnostic } from '../../src/compiler/diagnostics';
import { checkModules } from '../../src/compiler/check';
import type { Module } from '../../src/compiler/ast';
import { builtinArity } from '../../src/compiler/builtins/catalog';

const ROOT = '/work/shared/rego-conformance/cases';

interface Case {
  note: string;
  query?: string;
  modules?: string[];
  input_term?: string;
}

function loadCases(): Array<{ file: string; c: Case }> {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.yaml') && !p.endsWith('opa-wasm-exceptions.yaml')) files.push(p);
    }
  };
  walk(ROOT);
  const out: Array<{ file: string; c: Case }> = [];
  for (const f of files.sort()) {
    const doc = YAML.parse(fs.readFileSync(f, 'utf8')) as { cases?: Case[] };
    for (const c of doc.cases ?? []) out.push({ file: path.relative(ROOT, f), c });
  }
  return out;
}

const cases = fs.existsSync(ROOT) ? loadCases() : [];

describe('OPA conformance cases', () => {
  it('are present', () => {
    expect(cases.length).toBeGreaterThan(400);
  });

  it('every module, query and input_term parses with zero diagnostics', () => {
    const failures: string[] = [];
    let parsed = 0;
    for (const { file, c } of cases) {
      (c.modules ?? []).forEach((text, i) => {
        parsed++;
        const r = parseModule({ name: `${file} [${c.note}] module ${i}`, text });
        if (!r.module) failures.push(`${file} [${c.note}] module ${i}: no module`);
        for (const d of r.diagnostics) failures.push(formatDiagnostic(d, text));
      });
      if (typeof c.query === 'string') {
        parsed++;
        for (const d of parseQuery(c.query, `${file} [${c.note}] query`).diagnostics) failures.push(formatDiagnostic(d, c.query));
      }
      if (typeof c.input_term === 'string') {
        parsed++;
        for (const d of parseTerm(c.input_term, `${file} [${c.note}] input_term`).diagnostics) {
          failures.push(formatDiagnostic(d, c.input_term));
        }
      }
    }
    if (failures.length) console.log(failures.join('\n'));
    expect(failures).toEqual([]);
    expect(parsed).toBeGreaterThan(1000);
  });

  it('checks find no recursion, conflicts, arity or declaration errors in them', () => {
    const unexpected: string[] = [];
    const missingBuiltins = new Set<string>();
    for (const { file, c } of cases) {
      if (!c.modules) continue;
      const mods = c.modules.map((text, i) => parseModule({ name: `${file} [${c.note}] module ${i}`, text }).module as Module);
      for (const d of checkModules(mods, builtinArity)) {
        const m = /^undefined function ([\w.]+)$/.exec(d.message);
        // Only a name the catalog does not know may be reported as undefined.
        if (m && !m[1].startsWith('data.') && builtinArity(m[1]) === undefined) missingBuiltins.add(m[1]);
        else unexpected.push(`${d.file}:${d.row}:${d.col}: ${d.code}: ${d.message}`);
      }
    }
    if (missingBuiltins.size) console.log(`built-ins used by cases but absent from the catalog: ${[...missingBuiltins].sort().join(', ')}`);
    expect(unexpected).toEqual([]);
  });
});
