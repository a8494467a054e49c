import * as fs from 'fs'; import * as YAML from 'yaml';
import { compile } from './src/compiler';
import { caseFiles, same } from './test/compiler/plan/conformance';
import { fromJSON } from './test/compiler/plan/ir-values';
const { loadPolicy } = require('@open-policy-agent/opa-wasm');
(async () => {
  let pass = 0, fail = 0, skip = 0;
  for (const f of caseFiles()) {
    const doc = YAML.parse(fs.readFileSync(f, 'utf8'));
    for (const c of doc.cases ?? []) {
      if (c.input_term !== undefined || (c.want_error_code && c.want_error_code !== 'eval_conflict_error')) { skip++; continue; }
      const r = await compile({ files: (c.modules ?? []).map((t: string, i: number) => ({ name: `test-${i}.rego`, text: t })), entrypoints: [], queries: [{ name: 'q', text: c.query }], strictBuiltinErrors: c.strict_error });
      if (!r.ok) { skip++; continue; }
      try {
        const pol = await loadPolicy(r.wasm);
        pol.setData(c.data ?? {});
        const res = pol.evaluate(c.input, 'q');
        if (c.want_error_code || c.want_error) { fail++; console.log('NOERR', c.note); continue; }
        const got = res.map((x: any) => fromJSON(x));
        const want = c.want_result ?? [];
        const left = [...want]; let ok = got.length === want.length;
        for (const g of got) { const i = left.findIndex((w: unknown) => same(g, w, true)); if (i < 0) { ok = false; break; } left.splice(i, 1); }
        if (ok) pass++; else { fail++; console.log('WRONG', c.note, JSON.stringify(res).slice(0, 200)); }
      } catch (e) {
        const m = String((e as any)?.message ?? e);
        if (c.want_error_code || c.want_error) { pass++; continue; }
        if (/not implemented: built-in/.test(m)) { skip++; continue; }
        fail++; console.log('ERR', c.note, m.slice(0, 200));
      }
    }
  }
  console.log('e2e pass', pass, 'fail', fail, 'skip', skip);
})();
