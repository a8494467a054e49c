// The parser never throws on bad input: random text and mangled real policies come back as
// diagnostics with positions inside the source, and deep nesting is reported, not a crash.
import fc from 'fast-check';
import { parseModule, parseQuery, parseTerm } from '../../src/compiler/parser';
import { checkModules } from '../../src/compiler/check';

const SAMPLE = `package tether.access
import rego.v1
default allow := false
allow if {
  some role in input.user.roles
  role in {"admin", "ops"}
  not deny[input.user.id]
  count([x | x := input.items[_]; x.ok]) > 0
}
deny contains id if { id := input.blocked[_] }
f(x) := y if { y := x * 2 } else := 0
obj[k] := v if { some k, v in input.o; startswith(k, "a") }
every_ok if { every x in input.xs { x > 1 } }
`;

function positionsValid(text: string, ds: Array<{ row: number; col: number }>): boolean {
  const lines = text.split('\n');
  return ds.every((d) => d.row >= 1 && d.row <= lines.length && d.col >= 1 && d.col <= lines[d.row - 1].length + 1);
}

describe('parser robustness', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const text = 'package x\n' + s;
        const r = parseModule({ name: 'f.rego', text });
        parseQuery(s);
        parseTerm(s);
        return positionsValid(text, r.diagnostics);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on mangled real policy text, in the parser or the checks', () => {
    const pieces = ['{', '}', '[', ']', '(', ')', ':=', '=', ',', ';', '\n', ' if ', ' else ', ' not ', ' some ', ' in ', '"', '`', '|', '.', '_', '1e', '-'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(SAMPLE.length), fc.nat(5), fc.constantFrom(...pieces)), { minLength: 1, maxLength: 6 }),
        (edits) => {
          let text = SAMPLE;
          for (const [at, del, ins] of edits) {
            const i = Math.min(at, text.length);
            text = text.slice(0, i) + ins + text.slice(i + del);
          }
          const r = parseModule({ name: 'f.rego', text });
          // whatever parsed must also be checkable without throwing
          if (r.module) checkModules([r.module], (n) => (n === 'count' || n === 'startswith' ? (n === 'count' ? 1 : 2) : undefined));
          return positionsValid(text, r.diagnostics) && (r.module === undefined || Array.isArray(r.module.rules));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the unmangled sample parses cleanly', () => {
    expect(parseModule({ name: 'f.rego', text: SAMPLE }).diagnostics).toEqual([]);
  });

  it('reports pathological nesting as a diagnostic', () => {
    const deep = 'package x\np := ' + '['.repeat(20000) + ']'.repeat(20000) + '\nq := 1\n';
    const r = parseModule({ name: 'f.rego', text: deep });
    expect(r.diagnostics).toEqual([{ code: 'rego_parse_error', message: 'maximum nesting depth exceeded', file: 'f.rego', row: 2, col: 1 }]);
    expect(r.module!.rules.map((x) => x.head.name)).toEqual(['q']);
  });
});
